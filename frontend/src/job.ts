// One job's page: its progress while it runs (Server-Sent Events, polling as the fallback),
// then the mixer and the analysis once the stems exist.

import { ApiError, apiKey, apiUrl, getJson, postJson } from "./api";
import { formatBytes, formatDuration, h } from "./dom";
import { analysisPanel, genreBadge } from "./insight";
import { MixerView } from "./mixer";
import { ProgressView, statusWord } from "./progress";
import { remember } from "./recent";
import { ENDED, type Job } from "./types";

const POLL_MS = 1000;

/** Which model made (or is making) the stems, and whether the soft mask was applied. */
export function modelLine(job: Job): string {
  const done = job.results.separation;
  const name = done?.model ?? job.options.model;
  if (!done) return `model ${name}`;
  const mask =
    done.soft_mask === undefined ? "" : done.soft_mask ? ", soft mask on" : ", soft mask off";
  return `stems by model ${name}${mask}`;
}

export class JobView {
  readonly root: HTMLElement;
  private progress = new ProgressView();
  private head: HTMLElement;
  private main: HTMLElement;
  private errorBox: HTMLElement;
  private mixer: MixerView | null = null;
  private events: EventSource | null = null;
  private pollTimer: number | undefined;
  private tickTimer: number | undefined;
  private job: Job | null = null;
  private shown = false;
  private disposed = false;

  constructor(private id: string) {
    this.head = h("header", { class: "job-head" }, h("h1", null, "Loading…"));
    this.errorBox = h("div", { class: "job-error" });
    this.main = h("div", { class: "job-main" });
    this.root = h("div", { class: "job" }, this.head, this.errorBox, this.main);
  }

  async start(): Promise<void> {
    try {
      const { data, serverTime } = await getJson<Job>(`/v1/jobs/${this.id}`);
      this.progress.setClock(serverTime);
      this.update(data);
      remember({
        kind: "job",
        id: data.id,
        title: data.title || data.id,
        created: data.created_at * 1000,
      });
    } catch (error) {
      this.head.replaceChildren(h("h1", null, "Job not available"));
      this.errorBox.append(
        h(
          "div",
          { class: "error", role: "alert" },
          error instanceof ApiError ? error.message : String(error),
        ),
      );
      return;
    }
    if (!ENDED.has(this.job!.status)) {
      this.follow();
      this.tickTimer = window.setInterval(() => this.progress.tick(), 500);
    }
  }

  private follow(): void {
    if (this.disposed) return;
    if (apiKey() || typeof EventSource === "undefined") {
      this.poll();
      return;
    }
    const source = new EventSource(apiUrl(`/v1/jobs/${this.id}/events`));
    this.events = source;
    source.addEventListener("job", (event) =>
      this.update(JSON.parse((event as MessageEvent<string>).data) as Job),
    );
    source.addEventListener("end", () => {
      source.close();
      this.events = null;
      void this.refresh();
    });
    source.addEventListener("gone", () => {
      source.close();
      this.events = null;
      void this.refresh();
    });
    source.onerror = () => {
      // the stream broke (a proxy that buffers, a restart): poll instead
      source.close();
      this.events = null;
      this.poll();
    };
  }

  private poll(): void {
    if (this.disposed) return;
    this.pollTimer = window.setTimeout(async () => {
      await this.refresh();
      if (this.job && !ENDED.has(this.job.status)) this.poll();
    }, POLL_MS);
  }

  private async refresh(): Promise<void> {
    try {
      const { data } = await getJson<Job>(`/v1/jobs/${this.id}`);
      this.update(data);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.errorBox.replaceChildren(h("div", { class: "error", role: "alert" }, error.message));
        this.stop();
      }
    }
  }

  private update(job: Job): void {
    if (this.disposed) return;
    this.job = job;
    this.renderHead(job);
    this.progress.update(job);
    if (!this.progress.root.isConnected && !this.shown) this.main.prepend(this.progress.root);
    if (job.error) {
      this.errorBox.replaceChildren(
        h(
          "div",
          { class: "error", role: "alert" },
          h("strong", null, `The ${job.error.stage} stage failed: `),
          job.error.message,
        ),
      );
    }
    if (ENDED.has(job.status)) {
      this.stop();
      if (!this.shown && job.results.stems && Object.keys(job.results.stems).length)
        this.showResults(job);
    }
  }

  private renderHead(job: Job): void {
    const input = job.input;
    const facts = input
      ? [
          input.filename,
          formatDuration(input.duration_s),
          `${input.format} ${input.sample_rate / 1000} kHz`,
          formatBytes(input.size_bytes),
        ]
      : [];
    const running = !ENDED.has(job.status);
    const title =
      job.track_number && job.batch_id ? `${job.track_number}. ${job.title}` : job.title || job.id;
    this.head.replaceChildren(
      h(
        "div",
        { class: "job-title-row" },
        h("h1", null, title),
        h("span", { class: "pill", "data-status": job.status }, statusWord(job.status)),
        job.status === "succeeded" || job.results.genre ? genreBadge(job.results.genre) : null,
      ),
      h(
        "p",
        { class: "muted" },
        facts.join(" · "),
        h("span", { "data-testid": "job-model" }, ` · ${modelLine(job)}`),
        job.batch_id
          ? h("span", null, " · ", h("a", { href: `#/batches/${job.batch_id}` }, "the album"))
          : null,
      ),
      running
        ? h(
            "button",
            {
              type: "button",
              class: "ghost small",
              "aria-label": "Cancel this job",
              onclick: () => void this.cancel(),
            },
            "Cancel job",
          )
        : "",
    );
  }

  private async cancel(): Promise<void> {
    try {
      this.update(await postJson<Job>(`/v1/jobs/${this.id}/cancel`));
    } catch (error) {
      this.errorBox.replaceChildren(
        h(
          "div",
          { class: "error", role: "alert" },
          error instanceof ApiError ? error.message : String(error),
        ),
      );
    }
  }

  private showResults(job: Job): void {
    this.shown = true;
    this.mixer = new MixerView(job);
    const names = Object.keys(job.results.stems ?? {});
    const details = h(
      "details",
      { class: "card processing" },
      h(
        "summary",
        null,
        `Processing details · ${statusWord(job.status)} in ${formatDuration(Math.max(0, job.updated_at - job.created_at))}`,
      ),
      this.progress.root,
      job.results.separation
        ? h(
            "p",
            { class: "muted" },
            `Separated on ${job.results.separation.device ?? "?"} in ${job.results.separation.seconds ?? "?"} s (real-time factor ${job.results.separation.real_time_factor ?? "?"}), model ${job.results.separation.model ?? job.options.model}.`,
          )
        : null,
    );
    this.main.replaceChildren(
      this.mixer.root,
      analysisPanel(job.results.analysis, job.results.genre, names),
      details,
    );
    this.progress.root.classList.add("flat");
    void this.mixer.load();
  }

  get currentMixer(): MixerView | null {
    return this.mixer;
  }

  private stop(): void {
    this.events?.close();
    this.events = null;
    window.clearTimeout(this.pollTimer);
    window.clearInterval(this.tickTimer);
  }

  dispose(): void {
    this.disposed = true;
    this.stop();
    this.mixer?.dispose();
  }
}
