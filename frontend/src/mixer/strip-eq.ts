// One strip's 3-band EQ: "AI" and "Flat" (the starting point), the recommendation's gains as
// text, a slider and a reset (to the starting point) per band, and a small response graph —
// the live nodes' curve over the recommendation's, dashed.

import { capitalise, formatDb, h, svg, uid } from "../dom";
import { bandLabel, createEq, EQ_BANDS, GAIN_LIMIT_DB, responseDb } from "../eq";
import { icon } from "../icons";
import type { MixerModel } from "./state";

/** Frequencies of the little EQ curve (log-spaced, 20 Hz – 20 kHz). */
const CURVE_POINTS = 96;

interface BandControls {
  input: HTMLInputElement;
  text: HTMLElement;
  reset: HTMLButtonElement;
}

/** Draw the response of `nodes` in series into an EQ graph's path (20 Hz – 20 kHz, ±18 dB). */
function plotResponse(path: SVGPathElement, nodes: BiquadFilterNode[]): void {
  const freqs = new Float32Array(CURVE_POINTS);
  for (let i = 0; i < CURVE_POINTS; i += 1) freqs[i] = 20 * 1000 ** (i / (CURVE_POINTS - 1));
  const db = responseDb(nodes, freqs);
  const y = (v: number) => 24 - (Math.max(-18, Math.min(18, v)) * 22) / 18;
  const x = (i: number) => (120 * i) / (CURVE_POINTS - 1);
  const points = Array.from(db, (v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  path.setAttribute("d", points.join(" "));
}

export class StripEq {
  readonly root: HTMLElement;
  private ai: HTMLButtonElement;
  private flat: HTMLButtonElement;
  private bands: BandControls[];
  private curve: SVGPathElement;
  private aiCurve: SVGPathElement;

  /** `note`: why there is no recommendation, shown on the disabled "AI" button. */
  constructor(
    private model: MixerModel,
    private index: number,
    note: string | undefined,
  ) {
    const name = model.names[index]!;
    const label = capitalise(name.replace(/_/g, " "));
    const recommendation = model.recommended[index];
    this.ai = h(
      "button",
      {
        type: "button",
        class: "seg",
        "aria-pressed": "false",
        "aria-label": `${label} EQ: use the AI recommendation`,
        disabled: !recommendation,
        title: recommendation
          ? "Auto-EQ recommendation"
          : (note ?? "no recommendation for this stem"),
        onclick: () => model.setEqBase(index, "ai"),
      },
      "AI",
    );
    this.flat = h(
      "button",
      {
        type: "button",
        class: "seg",
        "aria-pressed": "false",
        "aria-label": `${label} EQ: flat`,
        onclick: () => model.setEqBase(index, "flat"),
      },
      "Flat",
    );
    const gains = recommendation
      ? EQ_BANDS.map((b) => `${b.name} ${formatDb(recommendation[b.name] ?? 0, 1, "")}`)
      : null;
    const advice = h(
      "span",
      {
        class: "muted",
        "data-testid": `ai-gains-${name}`,
        title: "The Auto-EQ's recommendation (dashed curve); click AI to apply it",
      },
      gains ? `AI: ${gains.join(" · ")} dB` : "AI: none",
    );
    const boxes: HTMLElement[] = [];
    this.bands = EQ_BANDS.map((band) => {
      const id = uid(`eq-${name}-${band.name}`);
      const input = h("input", {
        id,
        type: "range",
        min: -GAIN_LIMIT_DB,
        max: GAIN_LIMIT_DB,
        step: 0.1,
        value: model.state.strips[index]!.eq[band.name] ?? 0,
        "aria-label": `${label} EQ ${band.name} band, ${bandLabel(band)} (dB)`,
        "data-band": band.name,
        oninput: () => model.setBandGain(index, band.name, Number(input.value)),
      });
      const text = h("span", { class: "value" }, "0.0");
      const reset = h(
        "button",
        { type: "button", class: "ghost tiny", onclick: () => model.resetBand(index, band.name) },
        icon("reset"),
      );
      const short = band.frequency >= 1000 ? `${band.frequency / 1000}k` : `${band.frequency}`;
      boxes.push(
        h(
          "div",
          { class: "band" },
          h(
            "label",
            { for: id },
            `${capitalise(band.name)} `,
            h("span", { class: "muted" }, short),
          ),
          input,
          h("div", { class: "band-foot" }, text, reset),
        ),
      );
      return { input, text, reset };
    });
    this.curve = svg("path", { class: "eq-curve" });
    this.aiCurve = svg("path", {
      class: "eq-curve eq-ai",
      "stroke-dasharray": "4 3",
      opacity: "0.55",
      "data-testid": `ai-curve-${name}`,
    });
    const graph = svg(
      "svg",
      {
        viewBox: "0 0 120 48",
        class: "eq-graph",
        role: "img",
        "aria-label": `${label} EQ response, 20 Hz to 20 kHz (dashed: the AI recommendation)`,
      },
      svg("line", { x1: 0, x2: 120, y1: 24, y2: 24, class: "grid" }),
      this.aiCurve,
      this.curve,
    );
    this.root = h(
      "div",
      { class: "strip-eq", role: "group", "aria-label": `${label} EQ` },
      h(
        "div",
        { class: "segmented", role: "group", "aria-label": `${label} EQ starting point` },
        this.ai,
        this.flat,
      ),
      advice,
      ...boxes,
      graph,
    );
  }

  /** Show the model's gains and starting point; `nodes`: the live filters, for the curve. */
  sync(nodes: BiquadFilterNode[] | undefined): void {
    const { model, index } = this;
    const strip = model.state.strips[index]!;
    const pressed = model.eqPressed(index);
    this.ai.setAttribute("aria-pressed", String(pressed.ai));
    this.flat.setAttribute("aria-pressed", String(pressed.flat));
    const base = model.startsFromAi(index) ? "the AI value" : "flat";
    EQ_BANDS.forEach((band, b) => {
      const control = this.bands[b]!;
      const value = strip.eq[band.name] ?? 0;
      control.input.value = String(value);
      control.text.textContent = formatDb(value);
      const target = formatDb(model.baseGain(index, band.name));
      const label = `Reset ${strip.name} ${band.name} band to ${base} (${target})`;
      control.reset.setAttribute("aria-label", label);
      control.reset.title = label;
    });
    if (nodes) plotResponse(this.curve, nodes);
  }

  /** The recommendation's curve, dashed under the live one (drawn once: it never changes),
   * from unconnected nodes made in `ctx` only for their response. */
  drawRecommendation(ctx: BaseAudioContext): void {
    const ai = this.model.recommended[this.index];
    if (ai) plotResponse(this.aiCurve, createEq(ctx, ai));
  }
}
