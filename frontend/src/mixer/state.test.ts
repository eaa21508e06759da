// The mixer's state alone (no DOM, no Web Audio): what each control, preset and key does to
// the mix, and what the views are told to show.

import { describe, expect, it } from "vitest";
import { EQ_BANDS, GAIN_LIMIT_DB } from "../eq";
import { exportFileName, MixerModel, safeName } from "./state";

const NAMES = ["vocals", "drums", "bass", "other"];
const BANDS = EQ_BANDS.map((b) => b.name);
const LOW = BANDS[0]!;
const MID = BANDS[1]!;

/** A recommendation of +3 dB on the low band for the drums only. */
function model(): MixerModel {
  const drums = Object.fromEntries(BANDS.map((b) => [b, b === LOW ? 3 : 0]));
  return new MixerModel(NAMES, [null, drums, null, null]);
}

/** The model and how many times it told its listeners about a change. */
function counted(): { mixer: MixerModel; changes: () => number } {
  const mixer = model();
  let changes = 0;
  mixer.subscribe(() => (changes += 1));
  return { mixer, changes: () => changes };
}

describe("MixerModel", () => {
  it("opens flat at 0 dB with nothing muted or soloed, the first strip selected", () => {
    const mixer = model();
    expect(mixer.state.masterDb).toBe(0);
    expect(mixer.state.strips.map((s) => s.name)).toEqual(NAMES);
    for (const [i, strip] of mixer.state.strips.entries()) {
      expect(strip).toMatchObject({ volumeDb: 0, muted: false, soloed: false });
      expect(Object.values(strip.eq)).toEqual(BANDS.map(() => 0));
      expect(mixer.eqBase(i)).toBe("flat");
      expect(mixer.eqPressed(i)).toEqual({ ai: false, flat: true });
      expect(mixer.audible(i)).toBe(true);
    }
    expect(mixer.selected).toBe(0);
  });

  it("tells each listener once per change, in the order they subscribed", () => {
    const mixer = model();
    const calls: string[] = [];
    mixer.subscribe(() => calls.push("player"));
    mixer.subscribe(() => calls.push("views"));
    mixer.setVolume(2, -6);
    mixer.karaoke();
    expect(calls).toEqual(["player", "views", "player", "views"]);
  });

  it("sets faders and the master", () => {
    const { mixer, changes } = counted();
    mixer.setVolume(0, -6.5);
    mixer.setMaster(-3);
    expect(mixer.state.strips[0]!.volumeDb).toBe(-6.5);
    expect(mixer.state.masterDb).toBe(-3);
    expect(changes()).toBe(2);
  });

  it("ignores a strip that does not exist, without telling anyone", () => {
    const { mixer, changes } = counted();
    mixer.toggleMute(9);
    mixer.setVolume(-1, 3);
    expect(changes()).toBe(0);
    expect(mixer.select(4)).toBe(false);
    expect(mixer.select(-1)).toBe(false);
    expect(mixer.selected).toBe(0);
    expect(mixer.select(3)).toBe(true);
    expect(mixer.selected).toBe(3);
  });

  it("mutes and solos: a soloed strip silences the others, a muted one is never heard", () => {
    const mixer = model();
    mixer.toggleSolo(1);
    expect(NAMES.map((_, i) => mixer.audible(i))).toEqual([false, true, false, false]);
    mixer.toggleMute(1);
    expect(mixer.audible(1)).toBe(false);
    mixer.toggleMute(1);
    mixer.toggleSolo(1);
    expect(NAMES.map((_, i) => mixer.audible(i))).toEqual([true, true, true, true]);
  });

  it("keeps EQ gains within the band's range", () => {
    const mixer = model();
    mixer.setBandGain(0, MID, 99);
    expect(mixer.state.strips[0]!.eq[MID]).toBe(GAIN_LIMIT_DB);
    mixer.setBandGain(0, MID, -99);
    expect(mixer.state.strips[0]!.eq[MID]).toBe(-GAIN_LIMIT_DB);
    mixer.setBandGain(0, MID, Number.NaN);
    expect(mixer.state.strips[0]!.eq[MID]).toBe(0);
  });

  it("applies the recommendation with AI and returns to flat with Flat", () => {
    const mixer = model();
    mixer.setEqBase(1, "ai");
    expect(mixer.state.strips[1]!.eq[LOW]).toBe(3);
    expect(mixer.eqPressed(1)).toEqual({ ai: true, flat: false });
    expect(mixer.startsFromAi(1)).toBe(true);
    mixer.setEqBase(1, "flat");
    expect(mixer.state.strips[1]!.eq[LOW]).toBe(0);
    expect(mixer.eqPressed(1)).toEqual({ ai: false, flat: true });
  });

  it("copies the recommendation: editing the EQ leaves it as it was", () => {
    const mixer = model();
    mixer.setEqBase(1, "ai");
    mixer.setBandGain(1, LOW, -4);
    expect(mixer.recommended[1]![LOW]).toBe(3);
    expect(mixer.eqPressed(1)).toEqual({ ai: false, flat: false });
  });

  it("falls back to flat when asked for AI on a stem without a recommendation", () => {
    const mixer = model();
    mixer.setBandGain(0, LOW, 5);
    mixer.setEqBase(0, "ai");
    expect(mixer.state.strips[0]!.eq[LOW]).toBe(0);
    expect(mixer.startsFromAi(0)).toBe(false);
    expect(mixer.baseGain(0, LOW)).toBe(0);
    expect(mixer.eqPressed(0)).toEqual({ ai: false, flat: true });
  });

  it("resets one band to the starting point: the AI value or flat", () => {
    const mixer = model();
    mixer.setEqBase(1, "ai");
    mixer.setBandGain(1, LOW, 12);
    mixer.setBandGain(1, MID, 6);
    mixer.resetBand(1, LOW);
    expect(mixer.state.strips[1]!.eq[LOW]).toBe(3);
    expect(mixer.state.strips[1]!.eq[MID]).toBe(6);
    expect(mixer.baseGain(1, LOW)).toBe(3);
    mixer.setEqBase(1, "flat");
    mixer.setBandGain(1, LOW, 12);
    mixer.resetBand(1, LOW);
    expect(mixer.state.strips[1]!.eq[LOW]).toBe(0);
  });

  it("lets the chosen starting point decide when the recommendation is 0 dB everywhere", () => {
    const zero = Object.fromEntries(BANDS.map((b) => [b, 0]));
    const mixer = new MixerModel(["vocals"], [zero]);
    expect(mixer.eqPressed(0)).toEqual({ ai: false, flat: true });
    mixer.setEqBase(0, "ai");
    expect(mixer.eqPressed(0)).toEqual({ ai: true, flat: false });
  });

  it("counts gains within 0.05 dB as the same when showing which EQ button is pressed", () => {
    const mixer = model();
    mixer.setEqBase(1, "ai");
    mixer.setBandGain(1, LOW, 3.04);
    expect(mixer.eqPressed(1).ai).toBe(true);
    mixer.setBandGain(1, LOW, 3.1);
    expect(mixer.eqPressed(1).ai).toBe(false);
  });

  it("karaoke mutes the vocals only and a cappella solos them, each clearing the other", () => {
    const mixer = model();
    mixer.toggleSolo(2);
    mixer.karaoke();
    expect(mixer.state.strips.map((s) => [s.muted, s.soloed])).toEqual([
      [true, false],
      [false, false],
      [false, false],
      [false, false],
    ]);
    mixer.acappella();
    expect(mixer.state.strips.map((s) => [s.muted, s.soloed])).toEqual([
      [false, true],
      [false, false],
      [false, false],
      [false, false],
    ]);
    expect(NAMES.map((_, i) => mixer.audible(i))).toEqual([true, false, false, false]);
  });

  it("reset mix returns every fader, mute, solo and EQ to the opening state", () => {
    const { mixer, changes } = counted();
    mixer.setMaster(-12);
    mixer.setVolume(3, 4);
    mixer.toggleMute(0);
    mixer.toggleSolo(2);
    mixer.setEqBase(1, "ai");
    mixer.resetMix();
    expect(mixer.state).toEqual(model().state);
    expect(mixer.eqBase(1)).toBe("flat");
    expect(changes()).toBe(6);
  });

  it("exports the mix as heard, or one stem alone even when it is muted, as a copy", () => {
    const mixer = model();
    mixer.toggleMute(2);
    mixer.toggleSolo(0);
    const mix = mixer.exportState();
    expect(mix).toEqual(mixer.state);
    mix.strips[0]!.eq[LOW] = 9;
    expect(mixer.state.strips[0]!.eq[LOW]).toBe(0);
    const bass = mixer.exportState(2);
    expect(bass.strips.map((s) => [s.muted, s.soloed])).toEqual([
      [false, false],
      [false, false],
      [false, true],
      [false, false],
    ]);
    expect(mixer.state.strips[2]!.muted).toBe(true);
  });
});

describe("export file names", () => {
  it("drops path separators and control characters, and never comes out empty", () => {
    expect(safeName('AC/DC: "Back\\in*Black"?\u0007')).toBe("AC DC Back in Black");
    expect(safeName("  many   spaces ")).toBe("many spaces");
    expect(safeName("///")).toBe("StemDeck");
    expect(safeName("x".repeat(200))).toHaveLength(120);
  });

  it("names the mix, a stem, and a loop", () => {
    expect(exportFileName("My Song", "mix", false)).toBe("My Song - mix.wav");
    expect(exportFileName("My/Song", "vocals", true)).toBe("My Song - vocals (loop).wav");
  });
});
