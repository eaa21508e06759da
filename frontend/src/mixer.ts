// The mixer: a waveform per stem; transport (play, pause, seek, loop a region) with every stem
// in sample-accurate sync; per stem a fader, mute, solo and the 3-band EQ, which opens flat
// (the first playback is the uploaded song) with the Auto-EQ's recommendation shown beside it
// — its gains and its curve — and applied by one click on "AI"; the master with a level meter;
// presets; keyboard shortcuts; and export of the mix and of each stem, rendered offline
// through the same graph.

import { ApiError, downloadFromApi, getBytes, saveBlob } from "./api";
import { capitalise, formatBytes, formatDb, formatTime, h, svg, uid } from "./dom";
import {
  bandLabel,
  clampGain,
  createEq,
  EQ_BANDS,
  flatGains,
  GAIN_LIMIT_DB,
  recommendedGains,
  responseDb,
  type EqGains,
} from "./eq";
import { audible, cloneState, FADER_MAX_DB, FADER_MIN_DB, type MixState, renderMix } from "./graph";
import { icon } from "./icons";
import { stemColour } from "./insight";
import { Player } from "./player";
import type { Job } from "./types";
import { drawWaveform } from "./waveform";
import { type BitDepth, encodeAudioBuffer } from "./wav";

/** The separator writes 44.1 kHz stems; the context runs at that rate, so nothing resamples. */
const STEM_RATE = 44100;
/** Frequencies of the little EQ curve drawn per stem (log-spaced, 20 Hz – 20 kHz). */
const CURVE_POINTS = 96;

type EqBase = "ai" | "flat";

interface StripControls {
  root: HTMLElement;
  mute: HTMLButtonElement;
  solo: HTMLButtonElement;
  volume: HTMLInputElement;
  volumeText: HTMLElement;
  ai: HTMLButtonElement;
  flat: HTMLButtonElement;
  bands: { input: HTMLInputElement; text: HTMLElement; reset: HTMLButtonElement }[];
  curve: SVGPathElement;
  aiCurve: SVGPathElement;
  canvas: HTMLCanvasElement;
}

function safeName(text: string): string {
  return (
    text
      .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 120) || "StemDeck"
  );
}

/** Draw the response of `nodes` in series into an EQ graph's path (20 Hz – 20 kHz, ±18 dB). */
function plotResponse(path: SVGPathElement, nodes: BiquadFilterNode[]): void {
  const freqs = new Float32Array(CURVE_POINTS);
  for (let i = 0; i < CURVE_POINTS; i += 1) freqs[i] = 20 * 1000 ** (i / (CURVE_POINTS - 1));
  const db = responseDb(nodes, freqs);
  const y = (v: number) => 24 - (Math.max(-18, Math.min(18, v)) * 22) / 18;
  path.setAttribute(
    "d",
    Array.from(
      db,
      (v, i) => `${i ? "L" : "M"}${((120 * i) / (CURVE_POINTS - 1)).toFixed(1)},${y(v).toFixed(1)}`,
    ).join(" "),
  );
}

function faderText(db: number): string {
  return db <= FADER_MIN_DB ? "−∞ dB" : formatDb(db);
}

export class MixerView {
  readonly root: HTMLElement;
  private names: string[];
  private player: Player | null = null;
  private state: MixState;
  private ai: (EqGains | null)[];
  private eqBase: EqBase[];
  private selected = 0;
  private strips: StripControls[] = [];
  private status: HTMLElement;
  private body: HTMLElement;
  private frame = 0;
  private disposed = false;
  private resizeTimer: number | undefined;
  private playButton!: HTMLButtonElement;
  private position!: HTMLInputElement;
  private timeText!: HTMLElement;
  private loopButton!: HTMLButtonElement;
  private clearLoopButton!: HTMLButtonElement;
  private master!: HTMLInputElement;
  private masterText!: HTMLElement;
  private meterFill!: HTMLElement;
  private meter!: HTMLElement;
  private exportStatus!: HTMLElement;
  private exportForm!: HTMLFormElement;
  private seeking = false;
  private meterLevel = -Infinity;
  private meterAria = 0;
  private scratch = new Float32Array(2048);
  private keydown = (event: KeyboardEvent) => this.onKey(event);
  private keyup = (event: KeyboardEvent) => {
    if (event.key === " " && event.target instanceof HTMLButtonElement) event.preventDefault();
  };
  private resized = () => {
    window.clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => this.drawWaveforms(), 150);
  };

  constructor(private job: Job) {
    this.names = Object.keys(job.results.stems ?? {});
    this.ai = this.names.map((name) => recommendedGains(job.results.eq?.[name]?.gains_db));
    // Every strip opens flat: the first playback is the song as uploaded, and the
    // recommendation waits one click away (a stem that needed nothing is not changed unasked).
    this.eqBase = this.names.map(() => "flat");
    this.state = {
      masterDb: 0,
      strips: this.names.map((name) => ({
        name,
        volumeDb: 0,
        muted: false,
        soloed: false,
        eq: flatGains(),
      })),
    };
    this.status = h("p", { class: "muted loading", "aria-live": "polite" }, "Loading stems…");
    this.body = h("div", { class: "mixer-body" });
    this.root = h(
      "section",
      { class: "card mixer", "aria-labelledby": "mixer-title", "data-testid": "mixer" },
      h("div", { class: "card-head" }, h("h2", { id: "mixer-title" }, "Mixer")),
      this.status,
      this.body,
    );
  }

  /** Download and decode the stems, then show the mixer. */
  async load(): Promise<void> {
    const links = this.job.links.stems ?? {};
    const totals = this.names.map((n) => this.job.results.stems?.[n]?.bytes ?? 0);
    const loaded = this.names.map(() => 0);
    const show = () => {
      const sum = loaded.reduce((a, b) => a + b, 0);
      const total = Math.max(
        sum,
        totals.reduce((a, b) => a + b, 0),
      );
      const percent = total ? Math.floor((100 * sum) / total) : 0;
      this.status.textContent = `Loading stems… ${percent}% (${formatBytes(sum)} of ${formatBytes(total)})`;
    };
    let ctx: AudioContext;
    try {
      ctx = new AudioContext({ sampleRate: STEM_RATE, latencyHint: "interactive" });
    } catch {
      ctx = new AudioContext();
    }
    try {
      const buffers = await Promise.all(
        this.names.map(async (name, i) => {
          const bytes = await getBytes(
            links[name] ?? `/v1/jobs/${this.job.id}/stems/${name}`,
            (got, total) => {
              loaded[i] = got;
              if (total) totals[i] = total;
              show();
            },
          );
          return ctx.decodeAudioData(bytes);
        }),
      );
      if (this.disposed) {
        void ctx.close();
        return;
      }
      this.player = new Player(ctx, buffers, this.state);
      this.player.onEnded = () => this.syncTransport();
    } catch (error) {
      void ctx.close();
      const message =
        error instanceof ApiError
          ? error.message
          : `the stems could not be decoded: ${String(error)}`;
      this.status.replaceWith(h("div", { class: "error", role: "alert" }, message));
      return;
    }
    this.status.remove();
    this.build();
    document.addEventListener("keydown", this.keydown);
    document.addEventListener("keyup", this.keyup);
    window.addEventListener("resize", this.resized);
    requestAnimationFrame(() => this.drawWaveforms());
    this.loop();
  }

  // ---- building the interface -------------------------------------------------------------

  private build(): void {
    const player = this.player!;
    const title = this.job.title || this.job.id;
    this.playButton = h(
      "button",
      {
        type: "button",
        class: "play",
        "aria-label": "Play",
        "data-testid": "play",
        onclick: () => this.togglePlay(),
      },
      icon("play"),
    );
    const back = h(
      "button",
      {
        type: "button",
        class: "ghost",
        "aria-label": "Back to the start",
        onclick: () => this.seek(0),
      },
      icon("back"),
    );
    this.position = h("input", {
      type: "range",
      min: 0,
      max: player.duration.toFixed(3),
      step: 0.01,
      value: 0,
      class: "position",
      "aria-label": "Playback position (seconds)",
      oninput: () => this.seek(Number(this.position.value)),
      onpointerdown: () => (this.seeking = true),
      onpointerup: () => (this.seeking = false),
    });
    this.timeText = h(
      "span",
      { class: "time", "aria-live": "off" },
      `0:00.0 / ${formatTime(player.duration)}`,
    );
    this.loopButton = h(
      "button",
      {
        type: "button",
        class: "ghost toggle",
        "aria-pressed": "false",
        "aria-label": "Loop the selected region",
        disabled: true,
        onclick: () => this.toggleLoop(),
      },
      icon("loop"),
      h("span", { class: "btn-text" }, "Loop"),
    );
    this.clearLoopButton = h(
      "button",
      {
        type: "button",
        class: "ghost",
        "aria-label": "Clear the loop region",
        disabled: true,
        onclick: () => this.setLoop(null),
      },
      "Clear",
    );
    const masterId = uid("master");
    this.master = h("input", {
      id: masterId,
      type: "range",
      min: FADER_MIN_DB,
      max: FADER_MAX_DB,
      step: 0.5,
      value: 0,
      "aria-label": "Master volume (dB)",
      "data-testid": "master",
      oninput: () => {
        this.state.masterDb = Number(this.master.value);
        this.changed();
      },
    });
    this.masterText = h("span", { class: "value" }, "0.0 dB");
    this.meterFill = h("span", { class: "meter-fill" });
    this.meter = h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": "Master output level (dBFS)",
        "aria-valuemin": -60,
        "aria-valuemax": 0,
        "aria-valuenow": -60,
      },
      this.meterFill,
      h("span", { class: "meter-zero", "aria-hidden": "true" }),
    );
    const preset = (label: string | Node, aria: string, apply: () => void, enabled = true) =>
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          "aria-label": aria,
          disabled: !enabled,
          onclick: () => {
            apply();
            this.changed();
          },
        },
        label,
      );
    const hasVocals = this.names.includes("vocals");
    const transport = h(
      "div",
      { class: "transport", role: "group", "aria-label": "Transport" },
      h(
        "div",
        { class: "transport-main" },
        back,
        this.playButton,
        this.position,
        this.timeText,
        this.loopButton,
        this.clearLoopButton,
      ),
      h(
        "div",
        { class: "transport-side" },
        h("label", { for: masterId, class: "master-label" }, "Master"),
        this.master,
        this.masterText,
        this.meter,
      ),
    );
    const presets = h(
      "div",
      { class: "presets", role: "group", "aria-label": "Presets" },
      h("span", { class: "muted" }, "Presets"),
      preset(
        h("span", { class: "with-icon" }, icon("mic"), "Karaoke"),
        "Karaoke preset: mute the vocals",
        () => this.karaoke(),
        hasVocals,
      ),
      preset("A cappella", "A cappella preset: vocals only", () => this.acappella(), hasVocals),
      preset("Reset mix", "Reset every fader, mute, solo and EQ", () => this.resetMix()),
      h(
        "span",
        { class: "muted shortcuts" },
        "Keys: Space play/pause · 1–4 pick a stem · M mute · S solo · L loop",
      ),
    );
    const lanes = h(
      "div",
      { class: "strips" },
      ...this.names.map((name, i) => this.buildStrip(name, i)),
    );
    this.body.append(transport, presets, lanes, this.buildExport(title));
    this.select(0);
    this.syncAll();
  }

  private buildStrip(name: string, index: number): HTMLElement {
    const colour = stemColour(name, index);
    const label = capitalise(name.replace(/_/g, " "));
    const strip = this.state.strips[index]!;
    const mute = h(
      "button",
      {
        type: "button",
        class: "toggle mute",
        "aria-pressed": "false",
        "aria-label": `Mute ${label}`,
        title: "Mute (M)",
        onclick: () => this.toggleMute(index),
      },
      "M",
    );
    const solo = h(
      "button",
      {
        type: "button",
        class: "toggle solo",
        "aria-pressed": "false",
        "aria-label": `Solo ${label}`,
        title: "Solo (S)",
        onclick: () => this.toggleSolo(index),
      },
      "S",
    );
    const volumeId = uid(`vol-${name}`);
    const volume = h("input", {
      id: volumeId,
      type: "range",
      min: FADER_MIN_DB,
      max: FADER_MAX_DB,
      step: 0.5,
      value: strip.volumeDb,
      class: "fader",
      "aria-label": `${label} volume (dB)`,
      oninput: () => {
        strip.volumeDb = Number(volume.value);
        this.changed();
      },
    });
    const volumeText = h("span", { class: "value" }, "0.0 dB");
    const recommendation = this.ai[index];
    const ai = h(
      "button",
      {
        type: "button",
        class: "seg",
        "aria-pressed": "false",
        "aria-label": `${label} EQ: use the AI recommendation`,
        disabled: !recommendation,
        title: recommendation
          ? "Auto-EQ recommendation"
          : (this.job.results.eq?.[name]?.note ?? "no recommendation for this stem"),
        onclick: () => this.setEqBase(index, "ai"),
      },
      "AI",
    );
    const flat = h(
      "button",
      {
        type: "button",
        class: "seg",
        "aria-pressed": "false",
        "aria-label": `${label} EQ: flat`,
        onclick: () => this.setEqBase(index, "flat"),
      },
      "Flat",
    );
    const advice = h(
      "span",
      {
        class: "muted",
        "data-testid": `ai-gains-${name}`,
        title: "The Auto-EQ's recommendation (dashed curve); click AI to apply it",
      },
      recommendation
        ? `AI: ${EQ_BANDS.map((b) => `${b.name} ${formatDb(recommendation[b.name] ?? 0, 1, "")}`).join(" · ")} dB`
        : "AI: none",
    );
    const bands = EQ_BANDS.map((band, b) => {
      const id = uid(`eq-${name}-${band.name}`);
      const input = h("input", {
        id,
        type: "range",
        min: -GAIN_LIMIT_DB,
        max: GAIN_LIMIT_DB,
        step: 0.1,
        value: strip.eq[band.name] ?? 0,
        "aria-label": `${label} EQ ${band.name} band, ${bandLabel(band)} (dB)`,
        "data-band": band.name,
        oninput: () => {
          strip.eq[band.name] = clampGain(Number(input.value));
          this.changed();
        },
      });
      const text = h("span", { class: "value" }, "0.0");
      const reset = h(
        "button",
        { type: "button", class: "ghost tiny", onclick: () => this.resetBand(index, b) },
        icon("reset"),
      );
      const short = band.frequency >= 1000 ? `${band.frequency / 1000}k` : `${band.frequency}`;
      const box = h(
        "div",
        { class: "band" },
        h("label", { for: id }, `${capitalise(band.name)} `, h("span", { class: "muted" }, short)),
        input,
        h("div", { class: "band-foot" }, text, reset),
      );
      void box;
      return { input, text, reset, box };
    });
    const curve = svg("path", { class: "eq-curve" });
    const aiCurve = svg("path", {
      class: "eq-curve eq-ai",
      "stroke-dasharray": "4 3",
      opacity: "0.55",
      "data-testid": `ai-curve-${name}`,
    });
    const curveBox = svg(
      "svg",
      {
        viewBox: "0 0 120 48",
        class: "eq-graph",
        role: "img",
        "aria-label": `${label} EQ response, 20 Hz to 20 kHz (dashed: the AI recommendation)`,
      },
      svg("line", { x1: 0, x2: 120, y1: 24, y2: 24, class: "grid" }),
      aiCurve,
      curve,
    );
    const canvas = h("canvas", { class: "wave", "aria-hidden": "true" });
    const lane = h(
      "div",
      { class: "lane", role: "presentation", title: "Click to seek; drag to select a loop region" },
      canvas,
      h("span", { class: "loop-region", "aria-hidden": "true" }),
      h("span", { class: "playhead", "aria-hidden": "true" }),
    );
    this.attachLane(lane);
    const root = h(
      "div",
      {
        class: "strip",
        "data-stem": name,
        style: `--stem:${colour}`,
        "aria-label": `${label} stem`,
        role: "group",
      },
      h(
        "div",
        { class: "strip-controls" },
        h(
          "div",
          { class: "strip-head" },
          h(
            "button",
            {
              type: "button",
              class: "stem-name",
              "aria-label": `Select ${label} (key ${index + 1})`,
              onclick: () => this.select(index),
            },
            h("span", { class: "swatch" }),
            label,
            index < 9 ? h("kbd", null, `${index + 1}`) : null,
          ),
          mute,
          solo,
          volume,
          volumeText,
        ),
        h(
          "div",
          { class: "strip-eq", role: "group", "aria-label": `${label} EQ` },
          h(
            "div",
            { class: "segmented", role: "group", "aria-label": `${label} EQ starting point` },
            ai,
            flat,
          ),
          advice,
          ...bands.map((b) => b.box),
          curveBox,
        ),
      ),
      lane,
    );
    this.strips.push({
      root,
      mute,
      solo,
      volume,
      volumeText,
      ai,
      flat,
      bands,
      curve,
      aiCurve,
      canvas,
    });
    this.drawAiCurve(index);
    return root;
  }

  private buildExport(title: string): HTMLElement {
    const bits = h(
      "fieldset",
      { class: "inline" },
      h("legend", null, "WAV bit depth"),
      h("label", null, h("input", { type: "radio", name: "bits", value: "16" }), " 16-bit"),
      h(
        "label",
        null,
        h("input", { type: "radio", name: "bits", value: "24", checked: true }),
        " 24-bit",
      ),
    );
    const range = h(
      "fieldset",
      { class: "inline" },
      h("legend", null, "Range"),
      h(
        "label",
        null,
        h("input", { type: "radio", name: "range", value: "all", checked: true }),
        " Whole song",
      ),
      h(
        "label",
        null,
        h("input", { type: "radio", name: "range", value: "loop", "data-testid": "range-loop" }),
        " Loop region",
      ),
    );
    this.exportForm = h(
      "form",
      { class: "export-options", onsubmit: (e: Event) => e.preventDefault() },
      bits,
      range,
    );
    this.exportStatus = h("p", {
      class: "muted export-status",
      "aria-live": "polite",
      "data-testid": "export-status",
    });
    const mixButton = h(
      "button",
      {
        type: "button",
        class: "primary",
        "data-testid": "export-mix",
        onclick: () => void this.exportWav(null, title),
      },
      "Export mix (WAV)",
    );
    const stemButtons = this.names.map((name, i) =>
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          "aria-label": `Export the ${name} stem as heard (WAV)`,
          "data-testid": `export-${name}`,
          onclick: () => void this.exportWav(i, title),
        },
        capitalise(name),
      ),
    );
    const raw = this.names.map((name) => {
      const fmt = this.job.results.stems?.[name]?.format ?? "wav";
      return h(
        "button",
        {
          type: "button",
          class: "link",
          "aria-label": `Download the raw ${name} stem (${fmt.toUpperCase()}) from the server`,
          onclick: () =>
            void this.download(
              this.job.links.stems?.[name] ?? "",
              `${safeName(title)} - ${name}.${fmt}`,
            ),
        },
        `${name}.${fmt}`,
      );
    });
    const zip = this.job.links.zip
      ? h(
          "button",
          {
            type: "button",
            class: "link",
            "aria-label": "Download all raw stems as one zip",
            onclick: () => void this.download(this.job.links.zip!, `${safeName(title)}.zip`),
          },
          "all stems (.zip)",
        )
      : null;
    return h(
      "section",
      { class: "export", "aria-labelledby": "export-title" },
      h("h3", { id: "export-title" }, "Export"),
      h(
        "p",
        { class: "muted" },
        "Rendered in your browser through the same graph you hear: faders, mute, solo, EQ and master.",
      ),
      this.exportForm,
      h(
        "div",
        { class: "export-buttons" },
        mixButton,
        h("span", { class: "muted" }, "Each stem as heard:"),
        ...stemButtons,
      ),
      h(
        "p",
        { class: "raw" },
        h("span", { class: "muted" }, "Raw stems from the server: "),
        ...raw.flatMap((r) => [r, " "]),
        zip,
      ),
      this.exportStatus,
    );
  }

  private attachLane(lane: HTMLElement): void {
    let from: number | null = null;
    let startX = 0;
    let dragging = false;
    const at = (event: PointerEvent) => {
      const box = lane.getBoundingClientRect();
      const fraction = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
      return fraction * (this.player?.duration ?? 0);
    };
    lane.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      lane.setPointerCapture(event.pointerId);
      from = at(event);
      startX = event.clientX;
      dragging = false;
    });
    lane.addEventListener("pointermove", (event) => {
      if (from === null) return;
      if (!dragging && Math.abs(event.clientX - startX) < 5) return;
      dragging = true;
      const to = at(event);
      this.showRegion({ start: Math.min(from, to), end: Math.max(from, to) });
    });
    lane.addEventListener("pointerup", (event) => {
      if (from === null) return;
      const to = at(event);
      if (dragging) this.setLoop({ start: Math.min(from, to), end: Math.max(from, to) });
      else this.seek(from);
      from = null;
    });
  }

  // ---- state changes -------------------------------------------------------------------

  private changed(): void {
    this.player?.apply(this.state);
    this.syncAll();
  }

  private toggleMute(index: number): void {
    const strip = this.state.strips[index];
    if (!strip) return;
    strip.muted = !strip.muted;
    this.changed();
  }

  private toggleSolo(index: number): void {
    const strip = this.state.strips[index];
    if (!strip) return;
    strip.soloed = !strip.soloed;
    this.changed();
  }

  private setEqBase(index: number, base: EqBase): void {
    const strip = this.state.strips[index]!;
    this.eqBase[index] = base;
    strip.eq = { ...(base === "ai" && this.ai[index] ? this.ai[index]! : flatGains()) };
    this.changed();
  }

  private baseGain(index: number, band: string): number {
    const ai = this.ai[index];
    return this.eqBase[index] === "ai" && ai ? (ai[band] ?? 0) : 0;
  }

  private resetBand(index: number, b: number): void {
    const band = EQ_BANDS[b]!;
    this.state.strips[index]!.eq[band.name] = this.baseGain(index, band.name);
    this.changed();
  }

  private karaoke(): void {
    for (const strip of this.state.strips) {
      strip.soloed = false;
      strip.muted = strip.name === "vocals";
    }
  }

  private acappella(): void {
    for (const strip of this.state.strips) {
      strip.muted = false;
      strip.soloed = strip.name === "vocals";
    }
  }

  private resetMix(): void {
    this.state.masterDb = 0;
    this.state.strips.forEach((strip, i) => {
      strip.volumeDb = 0;
      strip.muted = false;
      strip.soloed = false;
      this.eqBase[i] = "flat";
      strip.eq = flatGains();
    });
  }

  private select(index: number): void {
    if (index < 0 || index >= this.strips.length) return;
    this.selected = index;
    this.strips.forEach((s, i) => s.root.classList.toggle("selected", i === index));
  }

  private async togglePlay(): Promise<void> {
    if (!this.player) return;
    await this.player.toggle();
    this.syncTransport();
  }

  private seek(seconds: number): void {
    this.player?.seek(seconds);
    this.syncTransport();
  }

  private setLoop(region: { start: number; end: number } | null): void {
    if (!this.player) return;
    this.player.setLoop(region);
    this.showRegion(this.player.loop);
    this.syncTransport();
  }

  private toggleLoop(): void {
    if (!this.player?.loop) return;
    this.player.setLooping(!this.player.loopEnabled);
    this.syncTransport();
  }

  private showRegion(region: { start: number; end: number } | null): void {
    const duration = this.player?.duration || 1;
    this.root.classList.toggle("has-loop", region !== null);
    if (region) {
      this.root.style.setProperty("--loop-start", `${(100 * region.start) / duration}%`);
      this.root.style.setProperty(
        "--loop-width",
        `${(100 * (region.end - region.start)) / duration}%`,
      );
    }
  }

  // ---- keeping the controls in step with the state -----------------------------------

  private syncAll(): void {
    this.state.strips.forEach((strip, i) => {
      const c = this.strips[i];
      if (!c) return;
      c.mute.setAttribute("aria-pressed", String(strip.muted));
      c.solo.setAttribute("aria-pressed", String(strip.soloed));
      c.volume.value = String(strip.volumeDb);
      c.volumeText.textContent = faderText(strip.volumeDb);
      c.root.classList.toggle("silent", !audible(this.state, i));
      const ai = this.ai[i];
      const isAi =
        ai !== null &&
        EQ_BANDS.every((b) => Math.abs((strip.eq[b.name] ?? 0) - (ai[b.name] ?? 0)) < 0.05);
      const isFlat = EQ_BANDS.every((b) => Math.abs(strip.eq[b.name] ?? 0) < 0.05);
      // a recommendation of 0 dB everywhere is both: the chosen starting point decides
      c.ai.setAttribute("aria-pressed", String(isAi && (this.eqBase[i] === "ai" || !isFlat)));
      c.flat.setAttribute("aria-pressed", String(isFlat && (this.eqBase[i] === "flat" || !isAi)));
      EQ_BANDS.forEach((band, b) => {
        const control = c.bands[b]!;
        const value = strip.eq[band.name] ?? 0;
        control.input.value = String(value);
        control.text.textContent = formatDb(value);
        const target = this.baseGain(i, band.name);
        const label = `Reset ${strip.name} ${band.name} band to ${this.eqBase[i] === "ai" && ai ? "the AI value" : "flat"} (${formatDb(target)})`;
        control.reset.setAttribute("aria-label", label);
        control.reset.title = label;
      });
      this.drawCurve(i);
    });
    this.master.value = String(this.state.masterDb);
    this.masterText.textContent = faderText(this.state.masterDb);
  }

  private drawCurve(index: number): void {
    const nodes = this.player?.graph.strips[index]?.filters;
    const path = this.strips[index]?.curve;
    if (nodes && path) plotResponse(path, nodes);
  }

  /** The recommendation's curve, dashed under the live one (drawn once: it never changes). */
  private drawAiCurve(index: number): void {
    const ai = this.ai[index];
    const path = this.strips[index]?.aiCurve;
    if (!ai || !path || !this.player) return;
    plotResponse(path, createEq(this.player.ctx, ai)); // unconnected nodes: only their response
  }

  private syncTransport(): void {
    const player = this.player;
    if (!player) return;
    const playing = player.isPlaying;
    this.playButton.replaceChildren(icon(playing ? "pause" : "play"));
    this.playButton.setAttribute("aria-label", playing ? "Pause" : "Play");
    this.playButton.classList.toggle("playing", playing);
    const hasLoop = player.loop !== null;
    this.loopButton.disabled = !hasLoop;
    this.clearLoopButton.disabled = !hasLoop;
    this.loopButton.setAttribute("aria-pressed", String(player.loopEnabled));
    this.root.classList.toggle("looping", player.loopEnabled);
    this.showPosition();
  }

  private showPosition(): void {
    const player = this.player;
    if (!player) return;
    const at = player.position();
    if (!this.seeking) this.position.value = at.toFixed(2);
    this.timeText.textContent = `${formatTime(at)} / ${formatTime(player.duration)}`;
    this.root.style.setProperty("--pos", `${(100 * at) / (player.duration || 1)}%`);
  }

  private loop(): void {
    if (this.disposed) return;
    const player = this.player;
    if (player) {
      if (player.isPlaying) this.showPosition();
      const level = player.levelDb(this.scratch);
      this.meterLevel = Math.max(level, this.meterLevel - 1.2); // fall back 1.2 dB a frame
      const shown = Number.isFinite(this.meterLevel) ? this.meterLevel : -60;
      this.meterFill.style.width = `${Math.max(0, Math.min(100, ((shown + 60) / 60) * 100))}%`;
      this.meter.classList.toggle("clip", shown > -0.1);
      const now = performance.now();
      if (now - this.meterAria > 250) {
        this.meterAria = now;
        this.meter.setAttribute("aria-valuenow", String(Math.round(Math.max(-60, shown))));
        this.meter.setAttribute(
          "aria-valuetext",
          Number.isFinite(this.meterLevel) ? formatDb(this.meterLevel, 1, "dBFS") : "silent",
        );
      }
    }
    this.frame = requestAnimationFrame(() => this.loop());
  }

  private drawWaveforms(): void {
    const player = this.player;
    if (!player) return;
    this.strips.forEach((s, i) =>
      drawWaveform(s.canvas, player.buffers[i]!, stemColour(this.names[i]!, i)),
    );
  }

  private onKey(event: KeyboardEvent): void {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target as HTMLElement | null;
    if (
      target &&
      (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT")
    )
      return;
    if (
      target instanceof HTMLInputElement &&
      !["range", "radio", "checkbox", "button"].includes(target.type)
    )
      return;
    const key = event.key.toLowerCase();
    if (key === " ") {
      event.preventDefault();
      void this.togglePlay();
    } else if (key === "m") {
      this.toggleMute(this.selected);
    } else if (key === "s") {
      this.toggleSolo(this.selected);
    } else if (key === "l") {
      this.toggleLoop();
    } else if (/^[1-9]$/.test(key) && Number(key) <= this.strips.length) {
      this.select(Number(key) - 1);
      this.strips[this.selected]?.root.scrollIntoView({ block: "nearest" });
    }
  }

  // ---- export and downloads --------------------------------------------------------------

  private async exportWav(stem: number | null, title: string): Promise<void> {
    const player = this.player;
    if (!player) return;
    const form = new FormData(this.exportForm);
    const bits = (Number(form.get("bits")) === 16 ? 16 : 24) as BitDepth;
    const region = form.get("range") === "loop" ? player.loop : null;
    const state: MixState = cloneState(this.state);
    if (stem !== null)
      state.strips = state.strips.map((s, i) => ({ ...s, muted: false, soloed: i === stem }));
    const what = stem === null ? "mix" : this.names[stem]!;
    const filename = `${safeName(title)} - ${what}${region ? " (loop)" : ""}.wav`;
    this.exportStatus.textContent = `Rendering ${what}…`;
    try {
      const started = performance.now();
      const audio = await renderMix(
        player.buffers,
        state,
        region?.start ?? 0,
        region ? region.end - region.start : undefined,
      );
      const wav = encodeAudioBuffer(audio, bits);
      saveBlob(wav.blob, filename);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const peak = wav.peak > 0 ? formatDb(20 * Math.log10(wav.peak), 1, "dBFS") : "silent";
      let text = `Saved “${filename}”: ${bits}-bit, ${formatTime(audio.duration)}, peak ${peak}, rendered in ${seconds} s.`;
      if (wav.clipped) text += ` ${wav.clipped} samples clipped: lower the master to avoid it.`;
      this.exportStatus.textContent = text;
      this.exportStatus.dataset.done = String(Number(this.exportStatus.dataset.done ?? 0) + 1);
    } catch (error) {
      this.exportStatus.textContent = `Export failed: ${String(error)}`;
    }
  }

  private async download(path: string, filename: string): Promise<void> {
    try {
      await downloadFromApi(path, filename);
    } catch (error) {
      this.exportStatus.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }

  // ---- for tests and debugging (window.__stemdeck) -------------------------------------

  /** dB response of one live EQ node (stem `stem`, band `band`) at `frequencies` Hz. */
  bandResponseDb(stem: number, band: number, frequencies: number[]): number[] {
    const node = this.player?.graph.strips[stem]?.filters[band];
    if (!node) throw new Error(`no EQ node for stem ${stem} band ${band}`);
    return Array.from(responseDb([node], new Float32Array(frequencies)));
  }

  info(): {
    sampleRate: number;
    playing: boolean;
    position: number;
    duration: number;
    state: MixState;
    recommended: (EqGains | null)[];
  } | null {
    const player = this.player;
    if (!player) return null;
    const recommended = this.ai.map((gains) => (gains ? { ...gains } : null));
    return {
      sampleRate: player.ctx.sampleRate,
      playing: player.isPlaying,
      position: player.position(),
      duration: player.duration,
      state: cloneState(this.state),
      recommended,
    };
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    document.removeEventListener("keydown", this.keydown);
    document.removeEventListener("keyup", this.keyup);
    window.removeEventListener("resize", this.resized);
    this.player?.close();
  }
}
