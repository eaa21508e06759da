// The mixer's state and every change a control, a preset or a key can make to it, with no DOM
// and no Web Audio: the views render it, the player applies it, and vitest checks it alone
// (state.test.ts). Each change notifies the listeners once, in the order they subscribed.

import { clampGain, EQ_BANDS, flatGains, type EqGains } from "../eq";
import { audible, cloneState, type MixState, type StripState } from "../graph";

/** Where a strip's EQ starts from: the Auto-EQ's recommendation or flat. */
export type EqBase = "ai" | "flat";

/** Gains closer than this (dB) count as equal when deciding which EQ button is pressed. */
const SAME_DB = 0.05;

export class MixerModel {
  /** The live state; the player reads it on every change. Change it only through the methods. */
  readonly state: MixState;
  /** The Auto-EQ's recommendation per stem (null: none), never changed. */
  readonly recommended: readonly (EqGains | null)[];
  private bases: EqBase[];
  private listeners: (() => void)[] = [];
  private chosen = 0;

  constructor(
    readonly names: readonly string[],
    recommended: readonly (EqGains | null)[],
  ) {
    this.recommended = names.map((_, i) => recommended[i] ?? null);
    // Every strip opens flat: the first playback is the song as uploaded, and the
    // recommendation waits one click away (a stem that needed nothing is not changed unasked).
    this.bases = names.map(() => "flat");
    this.state = {
      masterDb: 0,
      strips: names.map((name) => ({
        name,
        volumeDb: 0,
        muted: false,
        soloed: false,
        eq: flatGains(),
      })),
    };
  }

  /** Call `listener` after every change of the state. */
  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The strip the keys act on. */
  get selected(): number {
    return this.chosen;
  }

  /** Pick the strip the keys act on; false (and no change) when there is no such strip. */
  select(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.names.length) return false;
    this.chosen = index;
    return true;
  }

  setVolume(index: number, db: number): void {
    this.change(index, (strip) => (strip.volumeDb = db));
  }

  setMaster(db: number): void {
    this.state.masterDb = db;
    this.changed();
  }

  /** Set one band's gain, kept within the EQ's range. */
  setBandGain(index: number, band: string, db: number): void {
    this.change(index, (strip) => (strip.eq[band] = clampGain(db)));
  }

  toggleMute(index: number): void {
    this.change(index, (strip) => (strip.muted = !strip.muted));
  }

  toggleSolo(index: number): void {
    this.change(index, (strip) => (strip.soloed = !strip.soloed));
  }

  /** Start the strip's EQ over from the recommendation or from flat. */
  setEqBase(index: number, base: EqBase): void {
    this.change(index, (strip) => {
      this.bases[index] = base;
      strip.eq = { ...(this.aiBase(index, base) ?? flatGains()) };
    });
  }

  /** Return one band to the strip's starting point. */
  resetBand(index: number, band: string): void {
    this.change(index, (strip) => (strip.eq[band] = this.baseGain(index, band)));
  }

  /** Karaoke: the vocals muted, nothing soloed. */
  karaoke(): void {
    for (const strip of this.state.strips) {
      strip.soloed = false;
      strip.muted = strip.name === "vocals";
    }
    this.changed();
  }

  /** A cappella: the vocals soloed, nothing muted. */
  acappella(): void {
    for (const strip of this.state.strips) {
      strip.muted = false;
      strip.soloed = strip.name === "vocals";
    }
    this.changed();
  }

  /** Every fader at 0 dB, nothing muted or soloed, every EQ flat. */
  resetMix(): void {
    this.state.masterDb = 0;
    this.state.strips.forEach((strip, i) => {
      strip.volumeDb = 0;
      strip.muted = false;
      strip.soloed = false;
      this.bases[i] = "flat";
      strip.eq = flatGains();
    });
    this.changed();
  }

  eqBase(index: number): EqBase {
    return this.bases[index] ?? "flat";
  }

  /** True when the strip's starting point is a recommendation that exists. */
  startsFromAi(index: number): boolean {
    return this.aiBase(index, this.eqBase(index)) !== null;
  }

  /** The gain `band` returns to when reset: the recommendation's or 0 dB. */
  baseGain(index: number, band: string): number {
    return this.startsFromAi(index) ? (this.recommended[index]?.[band] ?? 0) : 0;
  }

  /** Which of the EQ's "AI" and "Flat" buttons show as pressed. A recommendation of 0 dB
   * everywhere is both: then the chosen starting point decides. */
  eqPressed(index: number): { ai: boolean; flat: boolean } {
    const eq = this.state.strips[index]?.eq ?? flatGains();
    const ai = this.recommended[index] ?? null;
    const isAi = ai !== null && EQ_BANDS.every((b) => near(eq[b.name] ?? 0, ai[b.name] ?? 0));
    const isFlat = EQ_BANDS.every((b) => near(eq[b.name] ?? 0, 0));
    const base = this.eqBase(index);
    return { ai: isAi && (base === "ai" || !isFlat), flat: isFlat && (base === "flat" || !isAi) };
  }

  /** Whether the stem is heard (not muted, and soloed when any strip is). */
  audible(index: number): boolean {
    return audible(this.state, index);
  }

  /** The state to render for an export: the mix as heard, or (with `stem`) that stem alone
   * through its own strip and the master, even if it is muted. A copy. */
  exportState(stem: number | null = null): MixState {
    const state = cloneState(this.state);
    if (stem !== null) {
      state.strips = state.strips.map((s, i) => ({ ...s, muted: false, soloed: i === stem }));
    }
    return state;
  }

  private aiBase(index: number, base: EqBase): EqGains | null {
    return base === "ai" ? (this.recommended[index] ?? null) : null;
  }

  private change(index: number, edit: (strip: StripState) => void): void {
    const strip = this.state.strips[index];
    if (!strip) return;
    edit(strip);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function near(a: number, b: number): boolean {
  return Math.abs(a - b) < SAME_DB;
}

/** A title made safe as a file name (no path separators or control characters). */
export function safeName(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- control characters are what it removes
      .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 120) || "StemDeck"
  );
}

/** The name of an exported WAV: "<title> - <mix or stem>[ (loop)].wav". */
export function exportFileName(title: string, what: string, loop: boolean): string {
  return `${safeName(title)} - ${what}${loop ? " (loop)" : ""}.wav`;
}
