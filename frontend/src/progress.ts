// The job's progress as a person reads it: overall percentage, elapsed and estimated time
// left, and each stage with its name, status, percentage, time and device. The stages, their
// order and their names come from the record (services/common/stages.py declares them).

import { h, formatDuration } from "./dom";
import type { Job, Stage } from "./types";

const STATUS_WORDS: Record<string, string> = {
  queued: "Queued",
  running: "Working",
  succeeded: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
  pending: "Waiting",
};

export function statusWord(status: string): string {
  return STATUS_WORDS[status] ?? status;
}

/** Seconds left, estimated from the pace so far; null while too early to tell. */
export function estimateLeft(progress: number, elapsed: number): number | null {
  if (progress < 2 || progress >= 100 || elapsed < 1) return null;
  return (elapsed * (100 - progress)) / progress;
}

interface StageRow {
  row: HTMLElement;
  bar: HTMLProgressElement;
  status: HTMLElement;
  detail: HTMLElement;
}

export class ProgressView {
  readonly root: HTMLElement;
  private bar: HTMLProgressElement;
  private percent: HTMLElement;
  private status: HTMLElement;
  private times: HTMLElement;
  private rows = new Map<string, StageRow>();
  private list: HTMLElement;
  private job: Job | null = null;
  /** Server clock minus this browser's, in seconds. */
  private skew = 0;

  constructor() {
    this.bar = h("progress", { max: 100, value: 0, "aria-label": "Overall progress" });
    this.percent = h("span", { class: "big-percent", "data-testid": "job-percent" }, "0%");
    this.status = h("span", { class: "pill", "data-testid": "job-status" }, "Queued");
    this.times = h("p", { class: "muted times", "aria-live": "off" });
    this.list = h("ol", { class: "stages", "aria-label": "Stages" });
    this.root = h(
      "section",
      { class: "card progress-card", "aria-label": "Progress", "data-testid": "job-progress" },
      h("div", { class: "progress-head" }, this.percent, this.status),
      this.bar,
      this.times,
      this.list,
    );
  }

  setClock(serverTime: number | null): void {
    if (serverTime === null) return;
    const skew = serverTime - Date.now() / 1000;
    this.skew = Math.abs(skew) > 2 ? skew : 0; // the Date header has 1 s resolution
  }

  update(job: Job): void {
    this.job = job;
    this.bar.value = job.progress;
    this.percent.textContent = `${Math.floor(job.progress)}%`;
    this.status.textContent = statusWord(job.status);
    this.status.dataset.status = job.status;
    for (const [name, stage] of Object.entries(job.stages)) this.updateStage(name, stage);
    this.tick();
  }

  /** Refresh the clocks (called every half second while the job runs). */
  tick(): void {
    const job = this.job;
    if (!job) return;
    const now = Date.now() / 1000 + this.skew;
    const ended =
      job.status === "succeeded" || job.status === "failed" || job.status === "cancelled";
    const last = Math.max(
      ...Object.values(job.stages).map((s) => s.finished_at ?? 0),
      job.updated_at,
    );
    const elapsed = Math.max(0, (ended ? last : now) - job.created_at);
    const parts = [`Elapsed ${formatDuration(elapsed)}`];
    if (!ended) {
      const left = estimateLeft(job.progress, elapsed);
      parts.push(left === null ? "estimating time left…" : `about ${formatDuration(left)} left`);
    }
    if (job.input) parts.push(`${formatDuration(job.input.duration_s)} of audio`);
    this.times.textContent = parts.join(" · ");
    for (const [name, stage] of Object.entries(job.stages)) {
      const row = this.rows.get(name);
      if (row && stage.status === "running" && stage.started_at) {
        row.detail.textContent = this.stageDetail(stage, now - stage.started_at);
      }
    }
  }

  private stageDetail(stage: Stage, seconds: number | null): string {
    const bits: string[] = [];
    if (seconds !== null && stage.status !== "pending") bits.push(formatDuration(seconds));
    if (stage.device) bits.push(stage.device);
    if (stage.error) bits.push(stage.error);
    return bits.join(" · ");
  }

  private updateStage(name: string, stage: Stage): void {
    let row = this.rows.get(name);
    const label = stage.label;
    if (!row) {
      const bar = h("progress", { max: 100, value: 0, "aria-label": `${label} progress` });
      const status = h("span", { class: "stage-status" });
      const detail = h("span", { class: "muted stage-detail" });
      const item = h(
        "li",
        { class: "stage", "data-stage": name },
        h("span", { class: "stage-name" }, label),
        status,
        bar,
        detail,
      );
      this.list.append(item);
      row = { row: item, bar, status, detail };
      this.rows.set(name, row);
    }
    row.row.dataset.status = stage.status;
    row.bar.value = stage.status === "succeeded" ? 100 : stage.progress;
    const percent = stage.status === "succeeded" ? 100 : Math.floor(stage.progress);
    row.status.textContent =
      stage.status === "running"
        ? `${percent}%`
        : stage.status === "succeeded"
          ? "100%"
          : statusWord(stage.status);
    row.detail.textContent = this.stageDetail(stage, stage.seconds);
  }
}
