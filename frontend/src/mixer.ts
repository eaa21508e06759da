// The mixer: a waveform per stem; transport (play, pause, seek, loop a region) with every stem
// in sample-accurate sync; per stem a fader, mute, solo and the 3-band EQ, which opens flat
// (the first playback is the uploaded song) with the Auto-EQ's recommendation shown beside it
// — its gains and its curve — and applied by one click on "AI"; the master with a level meter;
// presets; keyboard shortcuts; and export of the mix and of each stem, rendered offline
// through the same graph.
//
// This file only puts the pieces together: the state and its changes are mixer/state.ts (no
// DOM); the views are mixer/strip.ts, strip-eq.ts, transport.ts, meter.ts, presets.ts and
// export.ts; the keys mixer/keys.ts; loading the stems mixer/load.ts.

import { h } from "./dom";
import { recommendedGains, responseDb, type EqGains } from "./eq";
import { cloneState, type MixState } from "./graph";
import { ExportView } from "./mixer/export";
import { bindKeys } from "./mixer/keys";
import { type LoadedStems, loadStems } from "./mixer/load";
import { presetsView } from "./mixer/presets";
import { MixerModel } from "./mixer/state";
import { StripView } from "./mixer/strip";
import { TransportView } from "./mixer/transport";
import { Player } from "./player";
import type { Job } from "./types";

export interface MixerInfo {
  sampleRate: number;
  playing: boolean;
  position: number;
  duration: number;
  state: MixState;
  recommended: (EqGains | null)[];
}

export class MixerView {
  readonly root: HTMLElement;
  private model: MixerModel;
  private player: Player | null = null;
  private transport: TransportView | null = null;
  private strips: StripView[] = [];
  private status: HTMLElement;
  private body: HTMLElement;
  private frame = 0;
  private disposed = false;
  private unbindKeys: () => void = () => {};
  private resizeTimer: number | undefined;
  private resized = () => {
    window.clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => this.drawWaveforms(), 150);
  };

  constructor(private job: Job) {
    const names = Object.keys(job.results.stems ?? {});
    const recommended = names.map((name) => recommendedGains(job.results.eq?.[name]?.gains_db));
    this.model = new MixerModel(names, recommended);
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
    let stems: LoadedStems;
    try {
      stems = await loadStems(this.job, this.model.names, (text) => {
        this.status.textContent = text;
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.status.replaceWith(h("div", { class: "error", role: "alert" }, message));
      return;
    }
    if (this.disposed) {
      void stems.ctx.close();
      return;
    }
    const player = new Player(stems.ctx, stems.buffers, this.model.state);
    this.player = player;
    this.status.remove();
    this.build(player);
    this.unbindKeys = bindKeys({
      togglePlay: () => void this.transport?.togglePlay(),
      toggleMute: () => this.model.toggleMute(this.model.selected),
      toggleSolo: () => this.model.toggleSolo(this.model.selected),
      toggleLoop: () => this.transport?.toggleLoop(),
      select: (index) => {
        this.select(index);
        this.strips[this.model.selected]?.root.scrollIntoView({ block: "nearest" });
      },
      count: () => this.strips.length,
    });
    window.addEventListener("resize", this.resized);
    requestAnimationFrame(() => this.drawWaveforms());
    this.tick();
  }

  private build(player: Player): void {
    const model = this.model;
    const transport = new TransportView(player, model, this.root);
    this.transport = transport;
    this.strips = model.names.map(
      (_, i) =>
        new StripView(model, i, {
          eqNote: this.job.results.eq?.[model.names[i]!]?.note,
          select: () => this.select(i),
          lane: {
            duration: () => player.duration,
            seek: (seconds) => transport.seek(seconds),
            preview: (region) => transport.showRegion(region),
            setLoop: (region) => transport.setLoop(region),
          },
        }),
    );
    this.strips.forEach((strip) => strip.eq.drawRecommendation(player.ctx));
    const raw = model.names.map((name) => ({
      name,
      format: this.job.results.stems?.[name]?.format ?? "wav",
      path: this.job.links.stems?.[name] ?? "",
    }));
    const title = this.job.title || this.job.id;
    const exporter = new ExportView(player, model, title, raw, this.job.links.zip ?? null);
    const lanes = h("div", { class: "strips" }, ...this.strips.map((s) => s.root));
    this.body.append(transport.root, presetsView(model), lanes, exporter.root);
    // the player first: the EQ curves read the live nodes
    model.subscribe(() => player.apply(model.state));
    model.subscribe(() => this.sync());
    this.select(0);
    this.sync();
  }

  private select(index: number): void {
    if (!this.model.select(index)) return;
    this.strips.forEach((strip, i) => strip.setSelected(i === index));
  }

  /** Show the model's state on every control. */
  private sync(): void {
    this.strips.forEach((strip, i) => strip.sync(this.player?.graph.strips[i]?.filters));
    this.transport?.syncMaster();
  }

  private tick(): void {
    if (this.disposed) return;
    this.transport?.tick();
    this.frame = requestAnimationFrame(() => this.tick());
  }

  private drawWaveforms(): void {
    const player = this.player;
    if (!player) return;
    this.strips.forEach((strip, i) => strip.drawWaveform(player.buffers[i]!));
  }

  // ---- for tests and debugging (window.__stemdeck) -------------------------------------

  /** dB response of one live EQ node (stem `stem`, band `band`) at `frequencies` Hz. */
  bandResponseDb(stem: number, band: number, frequencies: number[]): number[] {
    const node = this.player?.graph.strips[stem]?.filters[band];
    if (!node) throw new Error(`no EQ node for stem ${stem} band ${band}`);
    return Array.from(responseDb([node], new Float32Array(frequencies)));
  }

  info(): MixerInfo | null {
    const player = this.player;
    if (!player) return null;
    return {
      sampleRate: player.ctx.sampleRate,
      playing: player.isPlaying,
      position: player.position(),
      duration: player.duration,
      state: cloneState(this.model.state),
      recommended: this.model.recommended.map((gains) => (gains ? { ...gains } : null)),
    };
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.unbindKeys();
    window.removeEventListener("resize", this.resized);
    this.player?.close();
  }
}
