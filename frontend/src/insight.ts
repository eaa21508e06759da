// Insight: the genre badge (label and calibrated confidence — "Uncertain" when no genre is
// more likely than the rest together — with the top three on hover or focus) and the analysis
// panel — tempo, key, loudness and true peak, an energy-over-time chart, spectral features in
// their units, the genre with the music tagger's tags as chips, and each stem's share of the mix.

import { capitalise, formatDb, formatTime, h, svg, uid } from "./dom";
import type { Analysis, GenreResult, GenreTag } from "./types";

/** Tags shown as chips: the tagger's best few, each at least this likely. */
const CHIP_COUNT = 6;
const CHIP_MIN_PROBABILITY = 0.1;

/** The tagger's tags worth showing: likely enough, best first, at most CHIP_COUNT. */
export function tagChips(tags: GenreTag[] | undefined): HTMLElement | null {
  const shown = (tags ?? [])
    .filter((t) => t.probability >= CHIP_MIN_PROBABILITY)
    .slice(0, CHIP_COUNT);
  if (!shown.length) return null;
  return h(
    "ul",
    { class: "tag-chips", "aria-label": "Music tagger's tags", "data-testid": "genre-tags" },
    ...shown.map((t) =>
      h(
        "li",
        { class: "chip", title: `${t.source ?? "tagger"}: ${Math.round(t.probability * 100)}%` },
        t.tag,
        h("span", { class: "chip-value" }, `${Math.round(t.probability * 100)}%`),
      ),
    ),
  );
}

export function stemColour(name: string, index: number): string {
  const known: Record<string, string> = {
    vocals: "#f472b6",
    drums: "#fbbf24",
    bass: "#a78bfa",
    other: "#34d399",
    no_vocals: "#60a5fa",
  };
  const palette = ["#60a5fa", "#f87171", "#2dd4bf", "#facc15"];
  return known[name] ?? palette[index % palette.length]!;
}

export function genreBadge(genre: GenreResult | undefined): HTMLElement {
  if (!genre)
    return h(
      "span",
      { class: "genre-badge pending", "data-testid": "genre-badge" },
      "Genre: pending",
    );
  if (!genre.label) {
    return h(
      "span",
      { class: "genre-badge unknown", "data-testid": "genre-badge", title: genre.note ?? "" },
      "Genre: unknown",
    );
  }
  const confidence = Math.round((genre.confidence ?? 0) * 100);
  const uncertain = genre.uncertain === true;
  const tipId = uid("genre-top3");
  const top = (genre.top3 ?? []).slice(0, 3);
  const tip = h(
    "span",
    { class: "tooltip", role: "tooltip", id: tipId },
    h("strong", null, "Top three"),
    h(
      "ol",
      null,
      ...top.map((g) =>
        h(
          "li",
          null,
          `${capitalise(g.label)} `,
          h("span", { class: "muted" }, `${Math.round(g.probability * 100)}%`),
        ),
      ),
    ),
  );
  return h(
    "span",
    {
      class: uncertain ? "genre-badge uncertain" : "genre-badge",
      tabindex: 0,
      "data-testid": "genre-badge",
      "aria-describedby": tipId,
      "aria-label": uncertain
        ? `Genre uncertain: perhaps ${genre.label}, ${confidence}%`
        : `Genre ${genre.label}, ${confidence}% confidence`,
    },
    uncertain ? h("span", { class: "genre-uncertain" }, "Uncertain ·") : null,
    h("span", { class: "genre-label" }, capitalise(genre.label)),
    h("span", { class: "genre-confidence" }, `${confidence}%`),
    tip,
  );
}

function stat(label: string, value: string, hint?: string): HTMLElement {
  return h(
    "div",
    { class: "stat" },
    h("div", { class: "stat-label" }, label),
    h("div", { class: "stat-value" }, value),
    hint ? h("div", { class: "stat-hint muted" }, hint) : null,
  );
}

/** An SVG line + area chart of the energy curve (dBFS per hop) with labelled axes. */
export function energyChart(
  energy: { unit: string; hop_s: number; values: number[] },
  duration: number,
  width = 640,
  height = 200,
): SVGSVGElement {
  const pad = { left: 44, right: 16, top: 22, bottom: 28 };
  const values = energy.values.length ? energy.values : [0];
  // from 0 dBFS down to 15 dB below the quietest second, in steps of 10 dB
  const floor = Math.max(-120, Math.floor((Math.min(...values) - 15) / 10) * 10);
  const ceiling = Math.max(0, Math.ceil(Math.max(...values) / 10) * 10);
  const step = ceiling - floor > 60 ? 20 : 10;
  const end = Math.max(duration, values.length * energy.hop_s, 1e-3);
  const x = (t: number) => pad.left + ((width - pad.left - pad.right) * t) / end;
  const y = (db: number) =>
    pad.top + ((height - pad.top - pad.bottom) * (ceiling - db)) / (ceiling - floor);
  // each value is the level of one hop: drawn at the hop's middle, held to its edges
  const points: [number, number][] = [];
  values.forEach((v, i) => {
    const start = i * energy.hop_s;
    const stop = Math.min(end, start + energy.hop_s);
    points.push([x(start), y(v)], [x(stop), y(v)]);
  });
  const line = points
    .map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`)
    .join(" ");
  const area = `${line} L${x(end).toFixed(1)},${y(floor)} L${x(0)},${y(floor)} Z`;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "energy-chart",
    width,
    height,
    role: "img",
    "aria-label": `Energy over time in ${energy.unit}, one value per ${energy.hop_s} s: ${values.map((v) => v.toFixed(1)).join(", ")}`,
  });
  for (let db = ceiling; db >= floor; db -= step) {
    chart.append(
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(db), y2: y(db), class: "grid" }),
      svg("text", { x: pad.left - 6, y: y(db) + 4, "text-anchor": "end", class: "axis" }, `${db}`),
    );
  }
  const ticks = Math.min(Math.max(2, Math.floor(width / 90)), Math.max(2, Math.floor(end)));
  for (let i = 0; i <= ticks; i += 1) {
    const t = (end * i) / ticks;
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    chart.append(
      svg(
        "text",
        { x: x(t), y: height - 8, "text-anchor": anchor, class: "axis" },
        formatTime(t, end < 20),
      ),
    );
  }
  chart.append(
    svg("path", { d: area, class: "energy-area" }),
    svg("path", { d: line, class: "energy-line" }),
    svg("text", { x: pad.left - 6, y: 11, "text-anchor": "end", class: "axis unit" }, "dBFS"),
  );
  return chart;
}

/** Where the centroid and rolloff sit on a log frequency axis, 20 Hz – 20 kHz. */
function spectrumScale(centroid: number | undefined, rolloff: number | undefined): HTMLElement {
  const position = (hz: number) =>
    `${(100 * Math.log10(Math.max(20, Math.min(20000, hz)) / 20)) / 3}%`;
  const marks = [20, 100, 1000, 10000, 20000].map((hz) =>
    h(
      "span",
      { class: "scale-tick", style: `left:${position(hz)}` },
      hz >= 1000 ? `${hz / 1000}k` : `${hz}`,
    ),
  );
  return h(
    "div",
    { class: "spectrum-scale", "aria-hidden": "true" },
    ...marks,
    centroid
      ? h("span", {
          class: "marker centroid",
          style: `left:${position(centroid)}`,
          title: "spectral centroid",
        })
      : null,
    rolloff
      ? h("span", {
          class: "marker rolloff",
          style: `left:${position(rolloff)}`,
          title: "85 % rolloff",
        })
      : null,
  );
}

const hz = (value: number | undefined) =>
  value === undefined
    ? "—"
    : value >= 1000
      ? `${(value / 1000).toFixed(2)} kHz`
      : `${Math.round(value)} Hz`;

export function analysisPanel(
  analysis: Analysis | undefined,
  genre: GenreResult | undefined,
  stemOrder: string[],
): HTMLElement {
  const panel = h("section", {
    class: "card analysis",
    "aria-labelledby": "analysis-title",
    "data-testid": "analysis",
  });
  panel.append(h("div", { class: "card-head" }, h("h2", { id: "analysis-title" }, "Analysis")));
  if (!analysis) {
    panel.append(h("p", { class: "muted" }, "The analysis is not ready yet."));
    return panel;
  }
  if (analysis.note && analysis.tempo_bpm === undefined) {
    panel.append(h("p", { class: "muted" }, analysis.note));
    return panel;
  }
  const tempoHint = analysis.tempo_source
    ? `beats tracked on the ${analysis.tempo_source}`
    : undefined;
  const keyHint =
    analysis.key_correlation !== undefined
      ? `fit r = ${analysis.key_correlation.toFixed(2)}${analysis.key_runner_up ? ` · next: ${analysis.key_runner_up}` : ""}`
      : undefined;
  panel.append(
    h(
      "div",
      { class: "stats" },
      stat(
        "Tempo",
        analysis.tempo_bpm !== undefined ? `${analysis.tempo_bpm.toFixed(1)} BPM` : "—",
        tempoHint,
      ),
      stat("Key", analysis.key ?? "—", keyHint),
      stat(
        "Loudness",
        analysis.loudness_lufs !== undefined ? formatDb(analysis.loudness_lufs, 1, "LUFS") : "—",
        "integrated, ITU-R BS.1770",
      ),
      stat(
        "True peak",
        analysis.true_peak_dbtp !== undefined ? formatDb(analysis.true_peak_dbtp, 1, "dBTP") : "—",
        "4× oversampled",
      ),
    ),
  );
  if (analysis.energy) {
    const energy = analysis.energy;
    const box = h("div", { class: "chart-box", "data-testid": "energy-chart" });
    let drawn = 0;
    const draw = () => {
      const width = Math.round(box.clientWidth);
      if (width < 50 || width === drawn) return;
      drawn = width;
      box.replaceChildren(
        energyChart(energy, analysis.duration_s ?? 0, width, width < 500 ? 160 : 200),
      );
    };
    new ResizeObserver(draw).observe(box);
    panel.append(
      h(
        "figure",
        { class: "chart" },
        box,
        h(
          "figcaption",
          { class: "muted" },
          `Energy over time (RMS level, ${energy.unit}, one value per ${energy.hop_s} s)`,
        ),
      ),
    );
  }
  panel.append(
    h("h3", null, "Spectral character"),
    h(
      "div",
      { class: "stats small" },
      stat(
        "Spectral centroid",
        hz(analysis.spectral_centroid_hz),
        "brightness: the spectrum's centre of mass",
      ),
      stat("Rolloff (85 %)", hz(analysis.spectral_rolloff_hz), "85 % of the energy lies below"),
      stat(
        "Zero crossings",
        analysis.zero_crossings_per_s !== undefined
          ? `${Math.round(analysis.zero_crossings_per_s)} /s`
          : "—",
        "noisiness",
      ),
    ),
    spectrumScale(analysis.spectral_centroid_hz, analysis.spectral_rolloff_hz),
    h(
      "p",
      { class: "scale-legend muted" },
      h("span", { class: "dot centroid" }),
      "centroid ",
      h("span", { class: "dot rolloff" }),
      "rolloff, on a log frequency axis (Hz)",
    ),
  );
  if (genre?.top3?.length) {
    panel.append(h("h3", null, "Genre"));
    if (genre.uncertain) {
      panel.append(
        h(
          "p",
          { class: "muted genre-note" },
          "Uncertain: no genre is more likely than all the others together.",
        ),
      );
    }
    const chips = tagChips(genre.tags);
    panel.append(
      h(
        "ul",
        { class: "genre-bars", "aria-label": "Most likely genres" },
        ...genre.top3.map((g) =>
          h(
            "li",
            null,
            h("span", { class: "genre-name" }, capitalise(g.label)),
            h(
              "span",
              { class: "bar" },
              h("span", { style: `width:${(g.probability * 100).toFixed(1)}%` }),
            ),
            h("span", { class: "value" }, `${Math.round(g.probability * 100)}%`),
          ),
        ),
      ),
    );
    if (chips) panel.append(chips);
  }
  const shares = analysis.stems;
  if (shares) {
    const names = stemOrder
      .filter((n) => n in shares)
      .concat(Object.keys(shares).filter((n) => !stemOrder.includes(n)));
    panel.append(
      h("h3", null, "Stems in the mix"),
      h(
        "div",
        {
          class: "share-bar",
          role: "img",
          "aria-label": names.map((n) => `${n} ${Math.round(shares[n]!.share * 100)}%`).join(", "),
        },
        ...names.map((n, i) =>
          h("span", {
            style: `width:${(shares[n]!.share * 100).toFixed(2)}%;background:${stemColour(n, i)}`,
            title: n,
          }),
        ),
      ),
      h(
        "ul",
        { class: "share-legend" },
        ...names.map((n, i) =>
          h(
            "li",
            null,
            h("span", { class: "swatch", style: `background:${stemColour(n, i)}` }),
            `${capitalise(n)} ${Math.round(shares[n]!.share * 100)}% · ${formatDb(shares[n]!.loudness_lufs, 1, "LUFS")}`,
          ),
        ),
      ),
    );
  }
  return panel;
}
