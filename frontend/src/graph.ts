// The mix as a Web Audio graph, built by one function for both live playback (AudioContext)
// and export (OfflineAudioContext), so what is heard is what is exported:
//
//   stem buffer -> EQ (low shelf -> peak -> high shelf) -> fader -> mute/solo gate --+
//                                                                                    +-> master -> out
//   (one chain per stem; the master feeds the level meter too, when asked for)

import { createEq, EQ_BANDS, type EqGains } from "./eq";

/** The fader's floor: at or below it a fader is silent (−∞ dB). */
export const FADER_MIN_DB = -60;
export const FADER_MAX_DB = 6;
/** Time constant of live gain changes (no zipper noise; export sets values outright). */
const SMOOTHING_S = 0.015;

export interface StripState {
  name: string;
  volumeDb: number;
  muted: boolean;
  soloed: boolean;
  eq: EqGains;
}

export interface MixState {
  strips: StripState[];
  masterDb: number;
}

export interface StripNodes {
  filters: BiquadFilterNode[];
  fader: GainNode;
  gate: GainNode;
}

export interface MixGraph {
  ctx: BaseAudioContext;
  strips: StripNodes[];
  master: GainNode;
  meter: AnalyserNode | null;
}

export function dbToGain(db: number): number {
  return db <= FADER_MIN_DB ? 0 : 10 ** (db / 20);
}

/** A stem is heard unless muted, or unless another is soloed and it is not. */
export function audible(state: MixState, index: number): boolean {
  const strip = state.strips[index];
  if (!strip || strip.muted) return false;
  const anySolo = state.strips.some((s) => s.soloed);
  return !anySolo || strip.soloed;
}

export function cloneState(state: MixState): MixState {
  return {
    masterDb: state.masterDb,
    strips: state.strips.map((s) => ({ ...s, eq: { ...s.eq } })),
  };
}

/** Build the graph for `state` in `ctx`; its output goes to ctx.destination. */
export function buildMixGraph(
  ctx: BaseAudioContext,
  state: MixState,
  withMeter: boolean,
): MixGraph {
  const master = ctx.createGain();
  master.connect(ctx.destination);
  let meter: AnalyserNode | null = null;
  if (withMeter) {
    meter = ctx.createAnalyser();
    meter.fftSize = 2048;
    master.connect(meter);
  }
  const strips = state.strips.map((strip) => {
    const filters = createEq(ctx, strip.eq);
    const fader = ctx.createGain();
    const gate = ctx.createGain();
    filters[filters.length - 1]!.connect(fader);
    fader.connect(gate);
    gate.connect(master);
    return { filters, fader, gate };
  });
  const graph = { ctx, strips, master, meter };
  applyMixState(graph, state, false);
  return graph;
}

function setParam(param: AudioParam, value: number, ctx: BaseAudioContext, smooth: boolean): void {
  if (smooth) {
    param.cancelScheduledValues(ctx.currentTime);
    param.setTargetAtTime(value, ctx.currentTime, SMOOTHING_S);
  } else {
    param.cancelScheduledValues(0);
    param.value = value;
  }
}

/** Set every gain of the graph from `state`; `smooth` ramps the faders (live playback).
 * EQ gains are set outright: the biquads interpolate their own coefficient changes. */
export function applyMixState(graph: MixGraph, state: MixState, smooth: boolean): void {
  state.strips.forEach((strip, i) => {
    const nodes = graph.strips[i];
    if (!nodes) return;
    EQ_BANDS.forEach((band, b) => {
      nodes.filters[b]!.gain.value = strip.eq[band.name] ?? 0;
    });
    setParam(nodes.fader.gain, dbToGain(strip.volumeDb), graph.ctx, smooth);
    setParam(nodes.gate.gain, audible(state, i) ? 1 : 0, graph.ctx, smooth);
  });
  setParam(graph.master.gain, dbToGain(state.masterDb), graph.ctx, smooth);
}

/** Start one source per stem at context time `when`, reading from `offset` s; with `loop`,
 * every source loops the same region, so the stems stay sample-aligned. */
export function startSources(
  graph: MixGraph,
  buffers: AudioBuffer[],
  when: number,
  offset: number,
  loop: { start: number; end: number } | null,
  duration?: number,
): AudioBufferSourceNode[] {
  return buffers.map((buffer, i) => {
    const source = graph.ctx.createBufferSource();
    source.buffer = buffer;
    if (loop) {
      source.loop = true;
      source.loopStart = loop.start;
      source.loopEnd = loop.end;
    }
    source.connect(graph.strips[i]!.filters[0]!);
    if (duration === undefined) source.start(when, offset);
    else source.start(when, offset, duration);
    return source;
  });
}

/** Render `state` offline, from `start` s for `seconds` (default: to the end), through the
 * same graph as playback. */
export async function renderMix(
  buffers: AudioBuffer[],
  state: MixState,
  start = 0,
  seconds?: number,
): Promise<AudioBuffer> {
  const first = buffers[0];
  if (!first) throw new Error("no stems to render");
  const rate = first.sampleRate;
  const total = Math.max(...buffers.map((b) => b.length));
  const from = Math.min(total, Math.round(start * rate));
  const frames =
    seconds === undefined ? total - from : Math.min(total - from, Math.round(seconds * rate));
  const channels = Math.max(...buffers.map((b) => b.numberOfChannels));
  const ctx = new OfflineAudioContext({
    numberOfChannels: channels,
    length: Math.max(1, frames),
    sampleRate: rate,
  });
  const graph = buildMixGraph(ctx, state, false);
  startSources(graph, buffers, 0, from / rate, null, frames / rate);
  return ctx.startRendering();
}
