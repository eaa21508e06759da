// An album's page: aggregated progress and each track, polled until every track has ended.

import { ApiError, getJson } from "./api";
import { h } from "./dom";
import { statusWord } from "./progress";
import { remember } from "./recent";
import { type Batch, ENDED } from "./types";

export class BatchView {
  readonly root: HTMLElement;
  private timer: number | undefined;
  private disposed = false;
  private bar = h("progress", { max: 100, value: 0, "aria-label": "Album progress" });
  private summary = h("p", { class: "muted", "data-testid": "batch-summary" });
  private title = h("h1", null, "Album");
  private pill = h("span", { class: "pill", "data-testid": "batch-status" }, "…");
  private tracks = h("ol", {
    class: "tracks",
    "data-testid": "batch-tracks",
    "aria-label": "Tracks",
  });
  private errorBox = h("div");

  constructor(private id: string) {
    this.root = h(
      "div",
      { class: "batch" },
      h(
        "header",
        { class: "job-head" },
        h("div", { class: "job-title-row" }, this.title, this.pill),
      ),
      this.errorBox,
      h(
        "section",
        { class: "card", "aria-label": "Album progress" },
        this.bar,
        this.summary,
        this.tracks,
      ),
    );
  }

  async start(): Promise<void> {
    if (this.disposed) return;
    try {
      const { data } = await getJson<Batch>(`/v1/batches/${this.id}`);
      this.render(data);
      remember({
        kind: "batch",
        id: data.id,
        title: data.title,
        created: data.created_at * 1000,
        tracks: data.job_ids.length,
      });
      if (!ENDED.has(data.status)) this.timer = window.setTimeout(() => void this.start(), 1500);
    } catch (error) {
      this.errorBox.replaceChildren(
        h(
          "div",
          { class: "error", role: "alert" },
          error instanceof ApiError ? error.message : String(error),
        ),
      );
      if (!(error instanceof ApiError && error.status === 404))
        this.timer = window.setTimeout(() => void this.start(), 3000);
    }
  }

  private render(batch: Batch): void {
    this.title.textContent = batch.title || "Album";
    this.pill.textContent = statusWord(batch.status);
    this.pill.dataset.status = batch.status;
    this.bar.value = batch.progress;
    const counts = Object.entries(batch.counts)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${statusWord(s).toLowerCase()}`)
      .join(" · ");
    this.summary.textContent = `${Math.floor(batch.progress)}% · ${batch.jobs.length} tracks · ${counts}`;
    this.tracks.replaceChildren(
      ...batch.jobs.map((job) => {
        const percent = Math.floor(job.progress);
        return h(
          "li",
          { class: "track", "data-status": job.status, "data-testid": "batch-track" },
          h("span", { class: "track-no" }, job.track_number ? String(job.track_number) : "·"),
          h(
            "a",
            { href: `#/jobs/${job.id}`, class: "track-title" },
            job.title || job.input?.filename || job.id,
          ),
          h("progress", { max: 100, value: job.progress, "aria-label": `${job.title} progress` }),
          h(
            "span",
            { class: "pill", "data-status": job.status },
            job.status === "running" ? `${percent}%` : statusWord(job.status),
          ),
          job.status === "succeeded"
            ? h("a", { href: `#/jobs/${job.id}`, class: "button ghost small" }, "Open mixer")
            : null,
          job.error ? h("span", { class: "error-text" }, job.error.message) : null,
        );
      }),
    );
  }

  dispose(): void {
    this.disposed = true;
    window.clearTimeout(this.timer);
  }
}
