// The transport: back to the start, play/pause, the position slider and time, loop on/off and
// clear, then the master fader and its meter. It drives the player, and shows the playhead
// and the loop region on the whole mixer through CSS variables and classes on `mixer`.

import { formatTime, h, uid } from "../dom";
import { FADER_MAX_DB, FADER_MIN_DB } from "../graph";
import { icon } from "../icons";
import type { LoopRegion, Player } from "../player";
import { MeterView } from "./meter";
import type { MixerModel } from "./state";
import { faderText } from "./strip";

export class TransportView {
  readonly root: HTMLElement;
  readonly meter = new MeterView();
  private play: HTMLButtonElement;
  private position: HTMLInputElement;
  private time: HTMLElement;
  private loop: HTMLButtonElement;
  private clear: HTMLButtonElement;
  private master: HTMLInputElement;
  private masterText: HTMLElement;
  /** True while the position slider is held: playback does not move it then. */
  private seeking = false;

  constructor(
    private player: Player,
    private model: MixerModel,
    private mixer: HTMLElement,
  ) {
    this.play = h(
      "button",
      {
        type: "button",
        class: "play",
        "aria-label": "Play",
        "data-testid": "play",
        onclick: () => void this.togglePlay(),
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
    this.time = h(
      "span",
      { class: "time", "aria-live": "off" },
      `0:00.0 / ${formatTime(player.duration)}`,
    );
    this.loop = h(
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
    this.clear = h(
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
      oninput: () => model.setMaster(Number(this.master.value)),
    });
    this.masterText = h("span", { class: "value" }, "0.0 dB");
    this.root = h(
      "div",
      { class: "transport", role: "group", "aria-label": "Transport" },
      h(
        "div",
        { class: "transport-main" },
        back,
        this.play,
        this.position,
        this.time,
        this.loop,
        this.clear,
      ),
      h(
        "div",
        { class: "transport-side" },
        h("label", { for: masterId, class: "master-label" }, "Master"),
        this.master,
        this.masterText,
        this.meter.root,
      ),
    );
    player.onEnded = () => this.sync();
  }

  async togglePlay(): Promise<void> {
    await this.player.toggle();
    this.sync();
  }

  seek(seconds: number): void {
    this.player.seek(seconds);
    this.sync();
  }

  /** Set (or clear, with null) the loop region; looping turns on with a new region. */
  setLoop(region: LoopRegion | null): void {
    this.player.setLoop(region);
    this.showRegion(this.player.loop);
    this.sync();
  }

  toggleLoop(): void {
    if (!this.player.loop) return;
    this.player.setLooping(!this.player.loopEnabled);
    this.sync();
  }

  /** Shade `region` on every lane (also while it is being dragged). */
  showRegion(region: LoopRegion | null): void {
    const duration = this.player.duration || 1;
    this.mixer.classList.toggle("has-loop", region !== null);
    if (region) {
      this.mixer.style.setProperty("--loop-start", `${(100 * region.start) / duration}%`);
      const width = (100 * (region.end - region.start)) / duration;
      this.mixer.style.setProperty("--loop-width", `${width}%`);
    }
  }

  /** Show whether it plays and loops, and where. */
  sync(): void {
    const playing = this.player.isPlaying;
    this.play.replaceChildren(icon(playing ? "pause" : "play"));
    this.play.setAttribute("aria-label", playing ? "Pause" : "Play");
    this.play.classList.toggle("playing", playing);
    const hasLoop = this.player.loop !== null;
    this.loop.disabled = !hasLoop;
    this.clear.disabled = !hasLoop;
    this.loop.setAttribute("aria-pressed", String(this.player.loopEnabled));
    this.mixer.classList.toggle("looping", this.player.loopEnabled);
    this.showPosition();
  }

  showPosition(): void {
    const at = this.player.position();
    if (!this.seeking) this.position.value = at.toFixed(2);
    this.time.textContent = `${formatTime(at)} / ${formatTime(this.player.duration)}`;
    this.mixer.style.setProperty("--pos", `${(100 * at) / (this.player.duration || 1)}%`);
  }

  /** Once per animation frame: the playhead while playing, and the meter. */
  tick(): void {
    if (this.player.isPlaying) this.showPosition();
    this.meter.tick(this.player);
  }

  syncMaster(): void {
    this.master.value = String(this.model.state.masterDb);
    this.masterText.textContent = faderText(this.model.state.masterDb);
  }
}
