// A small WAV (RIFF/WAVE, integer PCM) encoder: 16- or 24-bit, little-endian, interleaved.
// Samples are scaled by 2^(bits-1) and rounded, clipping at full scale, the inverse of how
// libsndfile and Web Audio read integer PCM back to floats.

export type BitDepth = 16 | 24;

export interface EncodedWav {
  blob: Blob;
  /** Samples that had to be clipped (|x| > full scale). */
  clipped: number;
  /** Highest |sample| before clipping (1.0 = 0 dBFS). */
  peak: number;
}

export function encodeWav(
  channels: Float32Array[],
  sampleRate: number,
  bits: BitDepth,
): EncodedWav {
  const count = channels.length;
  const frames = count ? channels[0]!.length : 0;
  const bytesPerSample = bits / 8;
  const blockAlign = count * bytesPerSample;
  const dataBytes = frames * blockAlign;
  const buffer = new ArrayBuffer(44 + dataBytes);
  const view = new DataView(buffer);
  const text = (at: number, value: string) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(at + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, count, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  text(36, "data");
  view.setUint32(40, dataBytes, true);

  const scale = 2 ** (bits - 1);
  const max = scale - 1;
  const bytes = new Uint8Array(buffer);
  let at = 44;
  let clipped = 0;
  let peak = 0;
  for (let frame = 0; frame < frames; frame += 1) {
    for (let c = 0; c < count; c += 1) {
      const x = channels[c]![frame]!;
      const magnitude = Math.abs(x);
      if (magnitude > peak) peak = magnitude;
      let v = Math.round(x * scale);
      if (v > max) {
        v = max;
        clipped += 1;
      } else if (v < -scale) {
        v = -scale;
        clipped += 1;
      }
      if (bits === 16) {
        view.setInt16(at, v, true);
        at += 2;
      } else {
        const u = v < 0 ? v + 0x1000000 : v;
        bytes[at] = u & 0xff;
        bytes[at + 1] = (u >> 8) & 0xff;
        bytes[at + 2] = (u >> 16) & 0xff;
        at += 3;
      }
    }
  }
  return { blob: new Blob([buffer], { type: "audio/wav" }), clipped, peak };
}

export function encodeAudioBuffer(audio: AudioBuffer, bits: BitDepth): EncodedWav {
  const channels = Array.from({ length: audio.numberOfChannels }, (_, c) =>
    audio.getChannelData(c),
  );
  return encodeWav(channels, audio.sampleRate, bits);
}
