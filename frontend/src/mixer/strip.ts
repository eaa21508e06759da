// One stem's strip: its name (click or key 1–9 selects it for the keys), mute, solo and
// fader, its EQ (strip-eq.ts), and its waveform lane (click to seek, drag a loop: lane.ts).

import { capitalise, formatDb, h, uid } from "../dom";
import { FADER_MAX_DB, FADER_MIN_DB } from "../graph";
import { stemColour } from "../insight";
import { drawWaveform } from "../waveform";
import { attachLane, type LaneActions } from "./lane";
import type { MixerModel } from "./state";
import { StripEq } from "./strip-eq";

/** A fader's level as text; at the floor it is silent. */
export function faderText(db: number): string {
  return db <= FADER_MIN_DB ? "−∞ dB" : formatDb(db);
}

export interface StripOptions {
  /** Why the Auto-EQ has no recommendation for this stem, if it said. */
  eqNote: string | undefined;
  /** Select this strip (the name button). */
  select(): void;
  lane: LaneActions;
}

export class StripView {
  readonly root: HTMLElement;
  readonly eq: StripEq;
  private mute: HTMLButtonElement;
  private solo: HTMLButtonElement;
  private volume: HTMLInputElement;
  private volumeText: HTMLElement;
  private canvas: HTMLCanvasElement;

  constructor(
    private model: MixerModel,
    private index: number,
    options: StripOptions,
  ) {
    const name = model.names[index]!;
    const label = capitalise(name.replace(/_/g, " "));
    this.mute = h(
      "button",
      {
        type: "button",
        class: "toggle mute",
        "aria-pressed": "false",
        "aria-label": `Mute ${label}`,
        title: "Mute (M)",
        onclick: () => model.toggleMute(index),
      },
      "M",
    );
    this.solo = h(
      "button",
      {
        type: "button",
        class: "toggle solo",
        "aria-pressed": "false",
        "aria-label": `Solo ${label}`,
        title: "Solo (S)",
        onclick: () => model.toggleSolo(index),
      },
      "S",
    );
    this.volume = h("input", {
      id: uid(`vol-${name}`),
      type: "range",
      min: FADER_MIN_DB,
      max: FADER_MAX_DB,
      step: 0.5,
      value: model.state.strips[index]!.volumeDb,
      class: "fader",
      "aria-label": `${label} volume (dB)`,
      oninput: () => model.setVolume(index, Number(this.volume.value)),
    });
    this.volumeText = h("span", { class: "value" }, "0.0 dB");
    this.eq = new StripEq(model, index, options.eqNote);
    this.canvas = h("canvas", { class: "wave", "aria-hidden": "true" });
    const lane = h(
      "div",
      { class: "lane", role: "presentation", title: "Click to seek; drag to select a loop region" },
      this.canvas,
      h("span", { class: "loop-region", "aria-hidden": "true" }),
      h("span", { class: "playhead", "aria-hidden": "true" }),
    );
    attachLane(lane, options.lane);
    const nameButton = h(
      "button",
      {
        type: "button",
        class: "stem-name",
        "aria-label": `Select ${label} (key ${index + 1})`,
        onclick: () => options.select(),
      },
      h("span", { class: "swatch" }),
      label,
      index < 9 ? h("kbd", null, `${index + 1}`) : null,
    );
    this.root = h(
      "div",
      {
        class: "strip",
        "data-stem": name,
        style: `--stem:${stemColour(name, index)}`,
        "aria-label": `${label} stem`,
        role: "group",
      },
      h(
        "div",
        { class: "strip-controls" },
        h(
          "div",
          { class: "strip-head" },
          nameButton,
          this.mute,
          this.solo,
          this.volume,
          this.volumeText,
        ),
        this.eq.root,
      ),
      lane,
    );
  }

  /** Show the model's state; `filters`: this stem's live EQ nodes, for the curve. */
  sync(filters: BiquadFilterNode[] | undefined): void {
    const strip = this.model.state.strips[this.index]!;
    this.mute.setAttribute("aria-pressed", String(strip.muted));
    this.solo.setAttribute("aria-pressed", String(strip.soloed));
    this.volume.value = String(strip.volumeDb);
    this.volumeText.textContent = faderText(strip.volumeDb);
    this.root.classList.toggle("silent", !this.model.audible(this.index));
    this.eq.sync(filters);
  }

  setSelected(selected: boolean): void {
    this.root.classList.toggle("selected", selected);
  }

  drawWaveform(buffer: AudioBuffer): void {
    const name = this.model.names[this.index]!;
    drawWaveform(this.canvas, buffer, stemColour(name, this.index));
  }
}
