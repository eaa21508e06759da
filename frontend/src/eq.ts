// The 3-band EQ, built from services/eq/bands.json: the one definition that the Auto-EQ's
// training damage, the server's renderer and these BiquadFilterNodes all share. No number of
// it is typed here; a change to the Python definition reaches the page at the next build.
import definition from "../../services/eq/bands.json";

export interface BandDefinition {
  /** "low", "mid" or "high": the key of the band's gain everywhere. */
  name: string;
  /** The BiquadFilterNode type. */
  type: BiquadFilterType;
  /** f0 in Hz. */
  frequency: number;
  /** Q of a peaking band (Web Audio's Q AudioParam). */
  Q?: number;
  /** Shelf slope S; Web Audio's shelves have S = 1 fixed. */
  S?: number;
}

export const EQ_BANDS: readonly BandDefinition[] = definition.bands.map((band) => {
  const entry = band as BandDefinition;
  if ((entry.type === "lowshelf" || entry.type === "highshelf") && (entry.S ?? 1) !== 1) {
    throw new Error(`band ${entry.name}: Web Audio shelves have slope S = 1, not ${entry.S}`);
  }
  return entry;
});
/** Gains are kept within ±this many dB (the Auto-EQ's range too). */
export const GAIN_LIMIT_DB: number = definition.gain_limit_db;

export type EqGains = Record<string, number>;

export function flatGains(): EqGains {
  return Object.fromEntries(EQ_BANDS.map((band) => [band.name, 0]));
}

export function clampGain(db: number): number {
  return Math.max(-GAIN_LIMIT_DB, Math.min(GAIN_LIMIT_DB, Number.isFinite(db) ? db : 0));
}

/** The Auto-EQ's recommendation (`results.eq[stem].gains_db`) as {band: dB}, or null when
 * there is none. */
export function recommendedGains(gains: Record<string, number> | undefined): EqGains | null {
  if (!gains) return null;
  const out = flatGains();
  for (const band of EQ_BANDS) out[band.name] = clampGain(Number(gains[band.name] ?? 0));
  return out;
}

/** One band as a BiquadFilterNode at `gainDb`. */
export function createBand(
  ctx: BaseAudioContext,
  band: BandDefinition,
  gainDb: number,
): BiquadFilterNode {
  const node = ctx.createBiquadFilter();
  node.type = band.type;
  node.frequency.value = band.frequency;
  if (band.Q !== undefined) node.Q.value = band.Q;
  node.gain.value = clampGain(gainDb);
  return node;
}

/** The bands in series (low -> mid -> high); connect to [0], take the output from the last. */
export function createEq(ctx: BaseAudioContext, gains: EqGains): BiquadFilterNode[] {
  const nodes = EQ_BANDS.map((band) => createBand(ctx, band, gains[band.name] ?? 0));
  for (let i = 1; i < nodes.length; i += 1) nodes[i - 1]!.connect(nodes[i]!);
  return nodes;
}

/** Magnitude response in dB of `nodes` in series at `frequencies` Hz. */
export function responseDb(
  nodes: BiquadFilterNode[],
  frequencies: Float32Array<ArrayBuffer>,
): Float32Array {
  const total = new Float32Array(frequencies.length);
  const magnitude = new Float32Array(frequencies.length);
  const phase = new Float32Array(frequencies.length);
  for (const node of nodes) {
    node.getFrequencyResponse(frequencies, magnitude, phase);
    for (let i = 0; i < total.length; i += 1) total[i]! += 20 * Math.log10(magnitude[i]!);
  }
  return total;
}

export function bandLabel(band: BandDefinition): string {
  const hz = band.frequency >= 1000 ? `${band.frequency / 1000} kHz` : `${band.frequency} Hz`;
  const kind =
    band.type === "peaking"
      ? `peak, Q ${band.Q}`
      : band.type === "lowshelf"
        ? "low shelf"
        : "high shelf";
  return `${hz} ${kind}`;
}
