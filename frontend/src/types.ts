// The job and batch records as the API returns them (services/common/jobs.py, api/context.py).
// Only what the page reads is typed; results written by workers are optional throughout.

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export type StageStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled";

export interface Stage {
  status: StageStatus;
  progress: number;
  device: string | null;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  seconds: number | null;
}

export interface InputInfo {
  filename: string;
  size_bytes: number;
  format: string;
  duration_s: number;
  channels: number;
  sample_rate: number;
}

export interface StemEntry {
  key: string;
  format?: string;
  bytes?: number;
  loudness_lufs?: number;
  peak_dbfs?: number;
}

export interface EqResult {
  gains_db?: Record<string, number> | number[];
  spread_db?: Record<string, number | null> | null;
  windows?: number;
  note?: string;
}

export interface GenreGuess {
  label: string;
  probability: number;
}

export interface GenreTag {
  tag: string;
  probability: number;
  source?: string;
}

export interface GenreResult {
  label: string | null;
  confidence?: number;
  /** true when no genre is more likely than all the others together (calibrated). */
  uncertain?: boolean;
  model?: string;
  top3?: GenreGuess[];
  probabilities?: Record<string, number>;
  /** the music tagger's most likely tags (mood, voice, era, instruments, styles), best first */
  tags?: GenreTag[];
  note?: string;
}

export interface Analysis {
  duration_s?: number;
  tempo_bpm?: number;
  tempo_source?: string;
  key?: string;
  key_correlation?: number;
  key_runner_up?: string;
  loudness_lufs?: number;
  true_peak_dbtp?: number;
  energy?: { unit: string; hop_s: number; values: number[] };
  spectral_centroid_hz?: number;
  spectral_rolloff_hz?: number;
  zero_crossings_per_s?: number;
  stems?: Record<string, { loudness_lufs: number; share: number }>;
  note?: string;
}

export interface JobResults {
  stems?: Record<string, StemEntry>;
  separation?: {
    seconds?: number;
    real_time_factor?: number;
    device?: string;
    model?: string;
    family?: string;
    soft_mask?: boolean;
  };
  eq?: Record<string, EqResult>;
  genre?: GenreResult;
  analysis?: Analysis;
  tags?: Record<string, string>;
}

export interface Job {
  id: string;
  batch_id: string | null;
  title: string;
  track_number: number | null;
  status: JobStatus;
  options: { stems: string; format: string; model: string; soft_mask?: boolean | null };
  input: InputInfo | null;
  stages: Record<string, Stage>;
  results: JobResults;
  error: { stage: string; message: string } | null;
  created_at: number;
  updated_at: number;
  progress: number;
  links: {
    self: string;
    events: string;
    stems?: Record<string, string>;
    zip?: string;
    mix?: string;
  };
}

export interface Batch {
  id: string;
  title: string;
  job_ids: string[];
  created_at: number;
  status: JobStatus;
  progress: number;
  counts: Record<string, number>;
  jobs: Job[];
}

/** One installed separation model (GET /v1/models). */
export interface ModelInfo {
  name: string;
  family: string | null;
  description: string;
  origin: "bundled" | "pulled" | "imported";
  parameters: number | null;
  sources: string[];
  size_bytes: number;
  licence: string | null;
  origin_url: string | null;
  quality: { sdr_db: number; measured_on: string; source: string } | null;
  quality_note: string | null;
  speed: { real_time_factor: number; device: string; audio_s: number; measured_at: number } | null;
  soft_mask: boolean;
  default: boolean;
}

export interface ModelList {
  models: ModelInfo[];
  default: string | null;
}

export const ENDED: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
