// Export: the mix, or each stem as heard (alone through its own strip and the master, even if
// muted), rendered offline through the playback graph (graph.ts renderMix) as 16- or 24-bit
// WAV, over the whole song or the loop region; and the raw stems and zip from the API.

import { ApiError, downloadFromApi, saveBlob } from "../api";
import { capitalise, formatDb, formatTime, h } from "../dom";
import { renderMix } from "../graph";
import type { Player } from "../player";
import { type BitDepth, encodeAudioBuffer } from "../wav";
import { exportFileName, type MixerModel, safeName } from "./state";

/** A stem as the server stores it, downloaded as is. */
export interface RawStem {
  name: string;
  format: string;
  /** API path of the file. */
  path: string;
}

function radio(name: string, value: string, text: string, checked = false, testId?: string) {
  const input = h("input", { type: "radio", name, value, checked, "data-testid": testId });
  return h("label", null, input, text);
}

export class ExportView {
  readonly root: HTMLElement;
  private form: HTMLFormElement;
  private status: HTMLElement;

  /** `zip`: API path of all raw stems as one zip, when the server offers it. */
  constructor(
    private player: Player,
    private model: MixerModel,
    private title: string,
    raw: RawStem[],
    zip: string | null,
  ) {
    const bits = h(
      "fieldset",
      { class: "inline" },
      h("legend", null, "WAV bit depth"),
      radio("bits", "16", " 16-bit"),
      radio("bits", "24", " 24-bit", true),
    );
    const range = h(
      "fieldset",
      { class: "inline" },
      h("legend", null, "Range"),
      radio("range", "all", " Whole song", true),
      radio("range", "loop", " Loop region", false, "range-loop"),
    );
    this.form = h(
      "form",
      { class: "export-options", onsubmit: (e: Event) => e.preventDefault() },
      bits,
      range,
    );
    this.status = h("p", {
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
        onclick: () => void this.exportWav(null),
      },
      "Export mix (WAV)",
    );
    const stemButtons = model.names.map((name, i) =>
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          "aria-label": `Export the ${name} stem as heard (WAV)`,
          "data-testid": `export-${name}`,
          onclick: () => void this.exportWav(i),
        },
        capitalise(name),
      ),
    );
    const rawButtons = raw.map(({ name, format, path }) =>
      h(
        "button",
        {
          type: "button",
          class: "link",
          "aria-label": `Download the raw ${name} stem (${format.toUpperCase()}) from the server`,
          onclick: () => void this.download(path, `${safeName(title)} - ${name}.${format}`),
        },
        `${name}.${format}`,
      ),
    );
    const zipButton = zip
      ? h(
          "button",
          {
            type: "button",
            class: "link",
            "aria-label": "Download all raw stems as one zip",
            onclick: () => void this.download(zip, `${safeName(title)}.zip`),
          },
          "all stems (.zip)",
        )
      : null;
    this.root = h(
      "section",
      { class: "export", "aria-labelledby": "export-title" },
      h("h3", { id: "export-title" }, "Export"),
      h(
        "p",
        { class: "muted" },
        "Rendered in your browser through the same graph you hear: faders, mute, solo, EQ and master.",
      ),
      this.form,
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
        ...rawButtons.flatMap((r) => [r, " "]),
        zipButton,
      ),
      this.status,
    );
  }

  /** Render the mix (`stem` null) or one stem as heard, save it, and say what was saved. */
  private async exportWav(stem: number | null): Promise<void> {
    const form = new FormData(this.form);
    const bits = (Number(form.get("bits")) === 16 ? 16 : 24) as BitDepth;
    const region = form.get("range") === "loop" ? this.player.loop : null;
    const state = this.model.exportState(stem);
    const what = stem === null ? "mix" : this.model.names[stem]!;
    const filename = exportFileName(this.title, what, region !== null);
    this.status.textContent = `Rendering ${what}…`;
    try {
      const started = performance.now();
      const seconds = region ? region.end - region.start : undefined;
      const audio = await renderMix(this.player.buffers, state, region?.start ?? 0, seconds);
      const wav = encodeAudioBuffer(audio, bits);
      saveBlob(wav.blob, filename);
      const took = ((performance.now() - started) / 1000).toFixed(1);
      const peak = wav.peak > 0 ? formatDb(20 * Math.log10(wav.peak), 1, "dBFS") : "silent";
      let text = `Saved “${filename}”: ${bits}-bit, ${formatTime(audio.duration)}, peak ${peak}, rendered in ${took} s.`;
      if (wav.clipped) text += ` ${wav.clipped} samples clipped: lower the master to avoid it.`;
      this.status.textContent = text;
      this.status.dataset.done = String(Number(this.status.dataset.done ?? 0) + 1);
    } catch (error) {
      this.status.textContent = `Export failed: ${String(error)}`;
    }
  }

  private async download(path: string, filename: string): Promise<void> {
    try {
      await downloadFromApi(path, filename);
    } catch (error) {
      this.status.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }
}
