// Live playback: all stems as AudioBufferSourceNodes started at the same context time with the
// same offset (and the same loop points), so they stay sample-aligned; no <audio> elements.

import { applyMixState, buildMixGraph, type MixGraph, type MixState, startSources } from "./graph";

/** Lead time before a start, so every source is scheduled before the moment arrives. */
const START_LEAD_S = 0.03;

export interface LoopRegion {
  start: number;
  end: number;
}

export class Player {
  readonly graph: MixGraph;
  readonly duration: number;
  private sources: AudioBufferSourceNode[] = [];
  private playing = false;
  /** Context time at which `offsetAtStart` plays. */
  private startedAt = 0;
  private offsetAtStart = 0;
  private pausedAt = 0;
  private region: LoopRegion | null = null;
  private looping = false;
  private endTimer: number | undefined;
  onEnded: () => void = () => {};

  constructor(
    readonly ctx: AudioContext,
    readonly buffers: AudioBuffer[],
    state: MixState,
  ) {
    this.graph = buildMixGraph(ctx, state, true);
    this.duration = Math.max(...buffers.map((b) => b.duration));
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  get loop(): LoopRegion | null {
    return this.region;
  }

  get loopEnabled(): boolean {
    return this.looping && this.region !== null;
  }

  apply(state: MixState): void {
    applyMixState(this.graph, state, this.playing);
  }

  /** The playback position in seconds. */
  position(): number {
    if (!this.playing) return this.pausedAt;
    const elapsed = Math.max(0, this.ctx.currentTime - this.startedAt);
    let at = this.offsetAtStart + elapsed;
    const loop = this.loopEnabled ? this.region : null;
    if (loop && this.offsetAtStart < loop.end && at >= loop.end) {
      at = loop.start + ((at - loop.start) % (loop.end - loop.start));
    }
    return Math.min(at, this.duration);
  }

  async play(): Promise<void> {
    if (this.playing) return;
    if (this.ctx.state !== "running") await this.ctx.resume();
    let from = this.pausedAt >= this.duration - 0.001 ? 0 : this.pausedAt;
    const loop = this.loopEnabled ? this.region : null;
    if (loop && (from < loop.start || from >= loop.end)) from = loop.start;
    const when = this.ctx.currentTime + START_LEAD_S;
    this.sources = startSources(this.graph, this.buffers, when, from, loop);
    this.startedAt = when;
    this.offsetAtStart = from;
    this.playing = true;
    if (!loop) {
      const left = (this.duration - from + START_LEAD_S) * 1000;
      this.endTimer = window.setTimeout(() => this.finish(), left + 20);
    }
  }

  pause(): void {
    if (!this.playing) return;
    this.pausedAt = this.position();
    this.stopSources();
  }

  async toggle(): Promise<void> {
    if (this.playing) this.pause();
    else await this.play();
  }

  seek(seconds: number): void {
    const target = Math.max(0, Math.min(this.duration, seconds));
    if (this.playing) {
      this.stopSources();
      this.pausedAt = target;
      void this.play();
    } else {
      this.pausedAt = target;
    }
  }

  /** Set (or clear, with null) the loop region; looping turns on with a new region. */
  setLoop(region: LoopRegion | null, enable = region !== null): void {
    this.region = region && region.end - region.start >= 0.05 ? region : null;
    this.restartWith(() => {
      this.looping = enable && this.region !== null;
    });
  }

  setLooping(on: boolean): void {
    this.restartWith(() => {
      this.looping = on && this.region !== null;
    });
  }

  private restartWith(change: () => void): void {
    const wasPlaying = this.playing;
    const at = this.position();
    if (wasPlaying) this.stopSources();
    change();
    this.pausedAt = at;
    if (wasPlaying) void this.play();
  }

  private finish(): void {
    if (!this.playing || this.loopEnabled) return;
    this.stopSources();
    this.pausedAt = 0;
    this.onEnded();
  }

  private stopSources(): void {
    window.clearTimeout(this.endTimer);
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
      source.disconnect();
    }
    this.sources = [];
    this.playing = false;
  }

  /** Peak level of the master output in dBFS (−∞ when silent), for the meter. */
  levelDb(scratch: Float32Array<ArrayBuffer>): number {
    const meter = this.graph.meter;
    if (!meter || !this.playing) return -Infinity;
    meter.getFloatTimeDomainData(scratch);
    let peak = 0;
    for (const x of scratch) peak = Math.max(peak, Math.abs(x));
    return peak > 0 ? 20 * Math.log10(peak) : -Infinity;
  }

  close(): void {
    this.stopSources();
    void this.ctx.close();
  }
}
