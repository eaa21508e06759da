// Download every stem with byte progress and decode it in a fresh AudioContext at the stems'
// own rate (the separator writes 44.1 kHz, so nothing resamples).

import { ApiError, getBytes } from "../api";
import { formatBytes } from "../dom";
import type { Job } from "../types";

const STEM_RATE = 44100;

export interface LoadedStems {
  ctx: AudioContext;
  buffers: AudioBuffer[];
}

/** The stems of `job` in `names` order; `progress` gets "Loading stems… 42% (…)" texts.
 * Throws an Error whose message is meant for the page; the context is closed then. */
export async function loadStems(
  job: Job,
  names: readonly string[],
  progress: (text: string) => void,
): Promise<LoadedStems> {
  const links = job.links.stems ?? {};
  const totals = names.map((n) => job.results.stems?.[n]?.bytes ?? 0);
  const loaded = names.map(() => 0);
  const show = () => {
    const sum = loaded.reduce((a, b) => a + b, 0);
    const total = Math.max(
      sum,
      totals.reduce((a, b) => a + b, 0),
    );
    const percent = total ? Math.floor((100 * sum) / total) : 0;
    progress(`Loading stems… ${percent}% (${formatBytes(sum)} of ${formatBytes(total)})`);
  };
  let ctx: AudioContext;
  try {
    ctx = new AudioContext({ sampleRate: STEM_RATE, latencyHint: "interactive" });
  } catch {
    ctx = new AudioContext();
  }
  try {
    const buffers = await Promise.all(
      names.map(async (name, i) => {
        const path = links[name] ?? `/v1/jobs/${job.id}/stems/${name}`;
        const bytes = await getBytes(path, (got, total) => {
          loaded[i] = got;
          if (total) totals[i] = total;
          show();
        });
        return ctx.decodeAudioData(bytes);
      }),
    );
    return { ctx, buffers };
  } catch (error) {
    void ctx.close();
    if (error instanceof ApiError) throw new Error(error.message, { cause: error });
    throw new Error(`the stems could not be decoded: ${String(error)}`, { cause: error });
  }
}
