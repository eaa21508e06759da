// Waveforms: min/max peaks of each stem per pixel column, drawn once on a canvas; the playhead
// and the loop region are overlays, so playback redraws nothing but two positioned elements.

export interface Peaks {
  min: Float32Array;
  max: Float32Array;
}

/** Min and max of the channel average over `columns` equal slices of `buffer`. */
export function computePeaks(buffer: AudioBuffer, columns: number): Peaks {
  const data = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  const min = new Float32Array(columns);
  const max = new Float32Array(columns);
  const per = buffer.length / columns;
  const scale = 1 / data.length;
  for (let col = 0; col < columns; col += 1) {
    const from = Math.floor(col * per);
    const to = Math.max(from + 1, Math.floor((col + 1) * per));
    let lo = 0;
    let hi = 0;
    const step = Math.max(1, Math.floor((to - from) / 512)); // enough points per column
    for (let i = from; i < to && i < buffer.length; i += step) {
      let x = 0;
      for (const channel of data) x += channel[i]!;
      x *= scale;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    min[col] = lo;
    max[col] = hi;
  }
  return { min, max };
}

/** Draw `buffer` filling `canvas` (CSS size × devicePixelRatio) in `colour`. */
export function drawWaveform(canvas: HTMLCanvasElement, buffer: AudioBuffer, colour: string): void {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, width, height);
  const peaks = computePeaks(buffer, width);
  let loudest = 1e-4;
  for (let i = 0; i < width; i += 1) loudest = Math.max(loudest, -peaks.min[i]!, peaks.max[i]!);
  // Normalise quiet stems so their shape shows, but never by more than 4x (24 dB).
  const gain = Math.min(4, 0.95 / loudest);
  const mid = height / 2;
  ctx.fillStyle = "rgba(255,255,255,0.06)";
  ctx.fillRect(0, mid, width, Math.max(1, ratio));
  ctx.fillStyle = colour;
  for (let x = 0; x < width; x += 1) {
    const top = mid - peaks.max[x]! * gain * mid;
    const bottom = mid - peaks.min[x]! * gain * mid;
    ctx.fillRect(x, top, 1, Math.max(ratio, bottom - top));
  }
}
