// The start page: drop one song (a job) or several (an album), or pick files; early checks in
// the browser, byte progress while uploading, the server's message when it refuses; and this
// browser's recent jobs and albums.

import { ApiError, apiKey, getJson, setApiKey, uploadForm, type Upload } from "./api";
import { h, formatBytes, formatDuration, uid } from "./dom";
import { statusWord } from "./progress";
import { forget, recentEntries, remember, type RecentEntry } from "./recent";
import type { Batch, Job, ModelInfo, ModelList } from "./types";

/** The server refuses larger batches (api/routes_batches.py MAX_BATCH_FILES). */
export const MAX_FILES = 100;
/** The server's default upload limit (STEMDECK_MAX_UPLOAD_MB); a larger file gets a warning. */
const DEFAULT_LIMIT_BYTES = 200 * 1024 * 1024;
const AUDIO_EXTENSIONS = new Set(
  "wav wave flac mp3 ogg oga opus m4a m4b aac mp4 m4v webm mka mkv aif aiff aifc caf wma alac ac3 amr 3gp mov".split(
    " ",
  ),
);
const OPTIONS_STORAGE = "stemdeck.options";

export interface FileCheck {
  refused: string[];
  warnings: string[];
}

/** What the browser can tell before sending: empty files and too many files are refused;
 * files that do not look like audio are only flagged, since the server (ffmpeg) decides. */
export function checkFiles(files: File[]): FileCheck {
  const refused: string[] = [];
  const warnings: string[] = [];
  if (files.length > MAX_FILES)
    refused.push(`${files.length} files: an album can have at most ${MAX_FILES}.`);
  const names = new Set<string>();
  for (const file of files) {
    if (file.size === 0) refused.push(`“${file.name}” is empty (0 bytes).`);
    const extension = file.name.includes(".") ? file.name.split(".").pop()!.toLowerCase() : "";
    const looksAudio =
      file.type.startsWith("audio/") ||
      file.type.startsWith("video/") ||
      AUDIO_EXTENSIONS.has(extension);
    if (!looksAudio && file.size > 0) {
      warnings.push(
        `“${file.name}” does not look like audio (${file.type || "unknown type"}); sending it anyway, the server will check it.`,
      );
    }
    if (file.size > DEFAULT_LIMIT_BYTES) {
      warnings.push(
        `“${file.name}” is ${formatBytes(file.size)}; servers refuse files over 200 MB unless set otherwise.`,
      );
    }
    if (names.has(file.name)) warnings.push(`“${file.name}” was dropped twice.`);
    names.add(file.name);
  }
  return { refused, warnings };
}

interface Options {
  stems: string;
  format: string;
  model: string;
  album: string;
}

function loadOptions(): Options {
  const defaults: Options = { stems: "four", format: "wav", model: "", album: "" };
  try {
    return {
      ...defaults,
      ...(JSON.parse(localStorage.getItem(OPTIONS_STORAGE) ?? "{}") as Partial<Options>),
      album: "",
    };
  } catch {
    return defaults;
  }
}

function select(
  label: string,
  name: string,
  value: string,
  choices: [string, string][],
): HTMLElement {
  const id = uid(name);
  const element = h(
    "select",
    { id, name },
    ...choices.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  );
  return h("div", { class: "field" }, h("label", { for: id }, label), element);
}

/** One line about a model under the picker: quality and where it was measured, speed here, size. */
export function modelFacts(model: ModelInfo): string {
  const facts: string[] = [];
  if (model.quality) facts.push(`${model.quality.sdr_db} dB SDR (${model.quality.measured_on})`);
  else if (model.quality_note) facts.push(model.quality_note);
  if (model.speed)
    facts.push(
      `real-time factor ${model.speed.real_time_factor.toFixed(2)} on this server (${model.speed.device})`,
    );
  if (model.parameters) facts.push(`${(model.parameters / 1e6).toFixed(1)} M parameters`);
  if (model.licence) facts.push(`licence: ${model.licence}`);
  return facts.join(" · ");
}

/** The "Separator model" picker: the server's installed models (GET /v1/models) with their
 * one-line descriptions, the stored choice or else the server's default preselected. */
class ModelPicker {
  readonly root: HTMLElement;
  readonly select: HTMLSelectElement;
  private about: HTMLElement;
  private models: ModelInfo[] = [];

  constructor(private wanted: string) {
    const id = uid("model");
    this.select = h(
      "select",
      { id, name: "model", "data-testid": "model-picker", onchange: () => this.describe() },
      h("option", { value: "" }, "Server default"),
    ) as HTMLSelectElement;
    this.about = h("p", { class: "muted model-about", "data-testid": "model-about" });
    this.root = h(
      "div",
      { class: "field model-field" },
      h("label", { for: id }, "Separator model"),
      this.select,
      this.about,
    );
  }

  async load(): Promise<void> {
    try {
      const { data } = await getJson<ModelList>("/v1/models");
      this.models = data.models;
    } catch (error) {
      this.about.textContent = `Could not list the server's models (${error instanceof ApiError ? error.message : String(error)}); jobs use its default.`;
      return;
    }
    const current = this.select.value || this.wanted;
    const chosen = this.models.some((m) => m.name === current)
      ? current
      : (this.models.find((m) => m.default)?.name ?? "");
    this.select.replaceChildren(
      ...this.models.map((m) =>
        h(
          "option",
          { value: m.name, selected: m.name === chosen },
          `${m.name}${m.default ? " (default)" : ""} — ${m.description}`,
        ),
      ),
    );
    if (!this.models.length)
      this.select.append(h("option", { value: "" }, "Server default (no model installed)"));
    this.select.value = chosen;
    this.describe();
  }

  private describe(): void {
    const model = this.models.find((m) => m.name === this.select.value);
    this.about.textContent = model ? modelFacts(model) : "";
  }
}

function textField(
  label: string,
  name: string,
  value: string,
  attrs: Record<string, string> = {},
): HTMLElement {
  const id = uid(name);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, value, ...attrs }),
  );
}

export class HomeView {
  readonly root: HTMLElement;
  private status: HTMLElement;
  private input: HTMLInputElement;
  private optionsForm: HTMLFormElement;
  private recentList: HTMLElement;
  private picker: ModelPicker;
  private upload: Upload<unknown> | null = null;
  private disposed = false;

  constructor() {
    const options = loadOptions();
    this.input = h("input", {
      type: "file",
      multiple: true,
      accept: "audio/*,video/*,.flac,.wav,.mp3,.ogg,.opus,.m4a,.aiff",
      class: "visually-hidden",
      tabindex: -1,
      "aria-label": "Choose song files",
      "data-testid": "file-input",
      onchange: () => {
        void this.submit(Array.from(this.input.files ?? []));
        this.input.value = "";
      },
    });
    const choose = h(
      "button",
      {
        type: "button",
        class: "primary",
        onclick: () => this.input.click(),
        "aria-label": "Choose files to upload",
      },
      "Choose files",
    );
    const zone = h(
      "div",
      {
        class: "dropzone",
        role: "region",
        "aria-label": "Drop songs here to upload",
        "data-testid": "dropzone",
      },
      h("div", { class: "drop-icon", "aria-hidden": "true" }, "♫"),
      h(
        "p",
        { class: "drop-title" },
        "Drop a song here to split it into vocals, drums, bass and other",
      ),
      h(
        "p",
        { class: "muted" },
        "Drop several files for an album. WAV, FLAC, MP3, OGG, M4A and more.",
      ),
      choose,
      this.input,
    );
    for (const kind of ["dragenter", "dragover"]) {
      zone.addEventListener(kind, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      event.stopPropagation();
      zone.classList.remove("over");
      void this.submit(Array.from(event.dataTransfer?.files ?? []));
    });

    this.picker = new ModelPicker(options.model);
    this.optionsForm = h(
      "form",
      { class: "options-grid", onsubmit: (e: Event) => e.preventDefault() },
      select("Stems", "stems", options.stems, [
        ["four", "Four stems"],
        ["two", "Two stems (vocals / rest)"],
      ]),
      select("Stem file format", "format", options.format, [
        ["wav", "WAV (lossless)"],
        ["flac", "FLAC (lossless, smaller)"],
        ["mp3", "MP3"],
      ]),
      this.picker.root,
      textField("Album title (several files)", "album", "", {
        placeholder: "from the files' tags",
      }),
      textField("API key (if the server needs one)", "apikey", apiKey(), {
        type: "password",
        autocomplete: "off",
      }),
    );
    this.optionsForm.addEventListener("change", (event) => {
      this.saveOptions();
      if ((event.target as HTMLElement | null)?.getAttribute("name") === "apikey")
        void this.picker.load();
    });

    this.status = h("div", {
      class: "upload-status",
      "aria-live": "polite",
      "data-testid": "upload-status",
    });
    this.recentList = h("ul", { class: "recent-list", "data-testid": "recent-list" });
    this.root = h(
      "div",
      { class: "home" },
      h(
        "section",
        { class: "card upload-card", "aria-label": "Upload" },
        zone,
        h("details", { class: "options" }, h("summary", null, "Options"), this.optionsForm),
        this.status,
      ),
      h(
        "section",
        { class: "card recent", "aria-labelledby": "recent-title" },
        h("h2", { id: "recent-title" }, "Recent"),
        this.recentList,
      ),
    );
    void this.renderRecent();
    void this.picker.load();
  }

  private field(name: string): string {
    const element = this.optionsForm.elements.namedItem(name) as
      HTMLInputElement | HTMLSelectElement | null;
    return element?.value.trim() ?? "";
  }

  private saveOptions(): void {
    const options = {
      stems: this.field("stems"),
      format: this.field("format"),
      model: this.field("model"),
    };
    localStorage.setItem(OPTIONS_STORAGE, JSON.stringify(options));
    setApiKey(this.field("apikey"));
  }

  /** Check and upload `files`: one file makes a job, several an album. */
  async submit(files: File[]): Promise<void> {
    if (!files.length) return;
    if (this.upload) {
      this.status.append(
        h(
          "p",
          { class: "warning" },
          "An upload is already running; drop the next one when it is done.",
        ),
      );
      return;
    }
    this.saveOptions();
    this.status.replaceChildren();
    const check = checkFiles(files);
    for (const warning of check.warnings) this.status.append(h("p", { class: "warning" }, warning));
    if (check.refused.length) {
      this.status.append(
        h(
          "div",
          { class: "error", role: "alert" },
          h("strong", null, "Not sent: "),
          ...check.refused.map((r) => h("div", null, r)),
        ),
      );
      return;
    }
    const album = files.length > 1;
    const form = new FormData();
    for (const name of ["stems", "format", "model"]) {
      const value = this.field(name);
      if (value) form.append(name, value);
    }
    if (album && this.field("album")) form.append("album", this.field("album"));
    for (const file of files) form.append(album ? "files" : "file", file, file.name);
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const what = album ? `${files.length} files` : `“${files[0]!.name}”`;
    const bar = h("progress", { max: 100, value: 0, "aria-label": "Upload progress" });
    const text = h("span", { "data-testid": "upload-text" }, `Uploading ${what}… 0%`);
    const cancel = h(
      "button",
      {
        type: "button",
        class: "ghost",
        onclick: () => this.upload?.abort(),
        "aria-label": "Cancel the upload",
      },
      "Cancel",
    );
    const started = performance.now();
    this.status.append(
      h("div", { class: "uploading" }, h("div", { class: "row" }, text, cancel), bar),
    );
    this.upload = uploadForm<unknown>(album ? "/v1/batches" : "/v1/jobs", form, (loaded, size) => {
      const percent = Math.floor((100 * loaded) / (size || total || 1));
      bar.value = percent;
      const rate = loaded / Math.max(0.001, (performance.now() - started) / 1000);
      const left =
        rate > 0 && loaded < size ? ` · ${formatDuration((size - loaded) / rate)} left` : "";
      text.textContent = `Uploading ${what}… ${percent}% (${formatBytes(loaded)} of ${formatBytes(size || total)})${left}`;
    });
    try {
      const record = await this.upload.done;
      bar.value = 100;
      text.textContent = `Uploaded ${what}; queued on the server.`;
      if (album) {
        const batch = record as Batch;
        remember({
          kind: "batch",
          id: batch.id,
          title: batch.title,
          created: Date.now(),
          tracks: batch.job_ids.length,
        });
        if (!this.disposed) location.hash = `#/batches/${batch.id}`;
      } else {
        const job = record as Job;
        remember({
          kind: "job",
          id: job.id,
          title: job.title || job.input?.filename || job.id,
          created: Date.now(),
        });
        if (!this.disposed) location.hash = `#/jobs/${job.id}`;
      }
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
      this.status.querySelector(".uploading")?.remove();
      this.status.append(
        h(
          "div",
          { class: "error", role: "alert", "data-testid": "upload-error" },
          h("strong", null, `The server refused ${what}${status}: `),
          h("span", { class: "server-message" }, message),
        ),
      );
    } finally {
      this.upload = null;
    }
  }

  private async renderRecent(): Promise<void> {
    const entries = recentEntries();
    this.recentList.replaceChildren();
    if (!entries.length) {
      this.recentList.append(
        h(
          "li",
          { class: "muted empty" },
          "Nothing yet. Your uploads from this browser appear here.",
        ),
      );
      return;
    }
    const rows = entries.map((entry) => this.recentRow(entry));
    this.recentList.append(...rows.map((r) => r.row));
    await Promise.all(rows.slice(0, 12).map((r) => r.load()));
  }

  private recentRow(entry: RecentEntry): { row: HTMLElement; load: () => Promise<void> } {
    const href = entry.kind === "job" ? `#/jobs/${entry.id}` : `#/batches/${entry.id}`;
    const status = h("span", { class: "pill" }, "…");
    const detail = h("span", { class: "muted" }, new Date(entry.created).toLocaleString());
    const kind = entry.kind === "batch" ? `Album · ${entry.tracks ?? "?"} tracks` : "Song";
    const row = h(
      "li",
      { class: "recent-item", "data-kind": entry.kind },
      h("a", { href, class: "recent-title" }, entry.title || entry.id),
      h("span", { class: "muted kind" }, kind),
      detail,
      status,
      h(
        "button",
        {
          type: "button",
          class: "ghost small",
          "aria-label": `Forget ${entry.title || entry.id} in this list`,
          onclick: () => {
            forget(entry.id);
            row.remove();
          },
        },
        "Forget",
      ),
    );
    const load = async () => {
      try {
        const path = entry.kind === "job" ? `/v1/jobs/${entry.id}` : `/v1/batches/${entry.id}`;
        const { data } = await getJson<Job | Batch>(path);
        status.textContent = `${statusWord(data.status)}${data.status === "running" ? ` ${Math.floor(data.progress)}%` : ""}`;
        status.dataset.status = data.status;
      } catch (error) {
        status.textContent =
          error instanceof ApiError && error.status === 404 ? "Expired" : "Unknown";
        status.dataset.status = "failed";
        if (error instanceof ApiError) status.title = error.message;
      }
    };
    return { row, load };
  }

  dispose(): void {
    this.disposed = true;
  }
}
