"""Held-out evaluation of Auto-EQ models: damage whole stems, ask for the correction, score it.

Every non-silent stem of every track of a split is damaged `draws` times with seeded random
gains in [-10, +10] dB per band (the same gains for the same seed, track and stem, so figures
reproduce), through the shared EQ at 44.1 kHz. `predict_eq` then judges the whole damaged stem
as it would in use (windows across it, median, the model's restraint), and the same stem
undamaged. Several models are scored on the very same cases. Reported per band and overall:

- (a) MAE per stem: |recommended - inverse damage| for the whole-stem recommendation; per
  window: the same for every single 3 s window's raw prediction (the seed's 3.32 dB is a
  per-clip figure, so this is the one to set beside it);
- (b) the clean-stem error: mean |recommended gain| on the undamaged stems (ideal 0) — what a
  user meets when a stem needed nothing;
- (c) the differential error: |(pred(damaged) - pred(clean)) + damage| — whether the model
  hears the damage at all, apart from its judgement of the stem's ideal tone;
- the undo rate: how often applying the recommendation brings the stem's spectrum closer to the
  clean stem's than the damaged one was (`spectral_distance`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stemdeck.common.audio import TARGET_RATE
from stemdeck.eq.features import SILENCE_DB
from stemdeck.eq.filters import BAND_NAMES, DAMAGE_RANGE_DB, apply_eq
from stemdeck.eq.model import STEMS, EqNet
from stemdeck.eq.predict import EqInputError, EqPrediction, predict_eq
from stemdeck.training.musdb import find_tracks

RATE = TARGET_RATE
#: The seed's own Auto-EQ checkpoint (beside the repository, never bundled): `eval eq` scores
#: it beside the model under test whenever it is on the machine.
SEED_CHECKPOINT = Path(__file__).resolve().parents[2] / "shared" / "seed" / "model2_mastering.pth"
#: Third-octave band centres of `spectral_distance`, 31.5 Hz to 16 kHz.
_CENTRES = 1000.0 * 2.0 ** (np.arange(-15, 13) / 3.0)
_FFT = 4096


def band_levels(audio: np.ndarray, sample_rate: int = RATE) -> np.ndarray:
    """Long-term power (dB, no floor) of mono `audio` in third-octave bands 31.5 Hz - 16 kHz:
    the mean power spectrum of Hann-windowed 4096-sample frames (hop 2048), summed per band."""
    signal = np.asarray(audio, dtype=np.float64)
    if signal.shape[-1] < _FFT:
        signal = np.pad(signal, (0, _FFT - signal.shape[-1]))
    frames = np.lib.stride_tricks.sliding_window_view(signal, _FFT)[:: _FFT // 2]
    power = (np.abs(np.fft.rfft(frames * np.hanning(_FFT), axis=-1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(_FFT, 1.0 / sample_rate)
    edges = np.stack([_CENTRES * 2 ** (-1 / 6), _CENTRES * 2 ** (1 / 6)], axis=-1)
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in edges])
    return 10.0 * np.log10(np.maximum(bands, 1e-30))


#: Third-octave bands (by centre, Hz) where each EQ band acts: what "the stem has content in
#: this band" means for `band_shares_db`.
BAND_REGIONS = {"low": (31.5, 125.0), "mid": (630.0, 1600.0), "high": (6300.0, 16000.0)}
#: A band whose region holds less than this share of a stem's energy barely changes the stem
#: whatever its gain, so its error says little about the model (reported separately).
PRESENT_DB = -30.0


def band_shares_db(audio: np.ndarray, sample_rate: int = RATE) -> np.ndarray:
    """Share (dB) of the stem's energy in each EQ band's region (`BAND_REGIONS`), (3,)."""
    power = 10.0 ** (band_levels(audio, sample_rate) / 10.0)
    centres = _CENTRES
    shares = []
    for band in BAND_NAMES:
        low, high = BAND_REGIONS[band]
        inside = power[(centres >= low * 0.99) & (centres <= high * 1.01)].sum()
        shares.append(10.0 * np.log10(max(inside / max(power.sum(), 1e-30), 1e-30)))
    return np.array(shares)


def spectral_distance(reference: np.ndarray, audio: np.ndarray, sample_rate: int = RATE) -> float:
    """Mean absolute difference in dB between the third-octave band levels (31.5 Hz - 16 kHz)
    of `audio` and `reference` (mono, same rate). Bands more than 100 dB below the reference's
    loudest band count as that floor in both, so empty bands do not dominate."""
    ref = band_levels(reference, sample_rate)
    floor = ref.max() - 100.0
    return float(
        np.mean(np.abs(np.maximum(band_levels(audio, sample_rate), floor) - np.maximum(ref, floor)))
    )


@dataclass(frozen=True)
class Case:
    """One damaged stem and what one model made of it, and of the same stem undamaged."""

    track: str
    stem: str
    draw: int
    damage_db: np.ndarray  # (3,) gains applied
    predicted_db: np.ndarray  # (3,) recommended correction (whole stem)
    window_gains_db: np.ndarray  # (windows, 3) raw per-window predictions on the damaged stem
    distance_damaged: float
    distance_corrected: float
    band_shares_db: np.ndarray  # (3,) the clean stem's energy share in each band's region
    clean_predicted_db: np.ndarray  # (3,) the recommendation for the undamaged stem (ideal 0)
    clean_window_gains_db: np.ndarray  # (windows, 3) raw per-window predictions, undamaged
    clean_distance: float  # how far the recommendation moves the undamaged stem's spectrum

    @property
    def errors(self) -> np.ndarray:
        return self.predicted_db + self.damage_db  # the target is -damage

    @property
    def window_errors(self) -> np.ndarray:
        return self.window_gains_db + self.damage_db

    @property
    def differential_errors(self) -> np.ndarray:
        """(pred(damaged) - pred(clean)) + damage: whether the model hears the damage at all,
        apart from its judgement of the stem's own tone."""
        return self.predicted_db - self.clean_predicted_db + self.damage_db


def damage_draws(seed: int, track_index: int, stem_index: int, draws: int) -> np.ndarray:
    """The (draws, 3) seeded damage of one stem: the same for the same arguments everywhere."""
    rng = np.random.default_rng([seed, track_index, stem_index])
    return rng.uniform(-DAMAGE_RANGE_DB, DAMAGE_RANGE_DB, size=(draws, len(BAND_NAMES)))


def _is_silent(mono: np.ndarray) -> bool:
    return 10 * np.log10(max(float(np.mean(mono.astype(np.float64) ** 2)), 1e-20)) <= SILENCE_DB


def _gains(prediction: EqPrediction) -> np.ndarray:
    return np.array([prediction.gains_db[b] for b in BAND_NAMES])


def evaluate_models(
    root: Path | str,
    split: str,
    models: Mapping[str, EqNet],
    draws: int = 4,
    seed: int = 0,
    max_seconds: float | None = None,
    max_tracks: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, list[Case]]:
    """Damage every non-silent stem of the split `draws` times and run `predict_eq` of every
    model on each damaged stem and on the stem undamaged: the same cases for every model."""
    tracks = find_tracks(root, split)[:max_tracks]
    cases: dict[str, list[Case]] = {name: [] for name in models}
    index = 0
    while tracks:  # popped, so a decoded .stem.mp4 is freed once scored
        track = tracks.pop(0)
        stop = None if max_seconds is None else round(max_seconds * RATE)
        for stem_index, stem in enumerate(STEMS):
            clean = track.read(stem, 0, stop).mean(axis=0, dtype=np.float32)
            if _is_silent(clean):
                continue
            shares = band_shares_db(clean)
            try:
                as_is = {name: predict_eq(clean, RATE, stem, m) for name, m in models.items()}
            except EqInputError:  # only silent or too-short stems: nothing to judge
                continue
            untouched = {
                name: spectral_distance(clean, apply_eq(clean, RATE, _gains(p)))
                for name, p in as_is.items()
            }
            for draw, gains in enumerate(damage_draws(seed, index, stem_index, draws)):
                damaged = apply_eq(clean, RATE, gains)
                distance_damaged = spectral_distance(clean, damaged)
                try:
                    judged = {
                        name: predict_eq(damaged, RATE, stem, m) for name, m in models.items()
                    }
                except EqInputError:  # cut under the silence threshold by the damage
                    continue
                for name, prediction in judged.items():
                    predicted = _gains(prediction)
                    corrected = apply_eq(damaged, RATE, predicted)
                    cases[name].append(
                        Case(
                            track.name,
                            stem,
                            draw,
                            gains,
                            predicted,
                            prediction.window_gains_db,
                            distance_damaged,
                            spectral_distance(clean, corrected),
                            shares,
                            _gains(as_is[name]),
                            as_is[name].window_gains_db,
                            untouched[name],
                        )
                    )
        index += 1
        log(f"{index} tracks scored ({len(next(iter(cases.values())))} damaged stems)")
    return cases


def evaluate_cases(
    root: Path | str,
    split: str,
    model: EqNet,
    draws: int = 4,
    seed: int = 0,
    max_seconds: float | None = None,
    max_tracks: int | None = None,
    log: Callable[[str], None] = print,
) -> list[Case]:
    """`evaluate_models` for one model."""
    return evaluate_models(
        root, split, {"model": model}, draws, seed, max_seconds, max_tracks, log
    )["model"]


def _per_stem(cases: list[Case]) -> list[Case]:
    """One case per (track, stem): the undamaged figures are the same for every draw."""
    return list({(c.track, c.stem): c for c in cases}.values())


def summarise(cases: list[Case]) -> dict[str, Any]:
    """Per band and overall: the MAE on damaged stems (per stem and per window), the clean-stem
    error (mean |recommendation| on the undamaged stems), the differential error, by stem kind;
    and the undo rate."""
    if not cases:
        raise ValueError("nothing to evaluate: every stem of the split is silent")

    def mae(errors: np.ndarray) -> dict[str, float]:
        result = {b: round(float(np.abs(errors[:, i]).mean()), 3) for i, b in enumerate(BAND_NAMES)}
        result["overall"] = round(float(np.abs(errors).mean()), 3)
        return result

    stem_errors = np.stack([c.errors for c in cases])
    window_errors = np.concatenate([c.window_errors for c in cases])
    better = np.array([c.distance_corrected < c.distance_damaged for c in cases])
    by_stem = {}
    for stem in STEMS:
        chosen = [c for c in cases if c.stem == stem]
        if chosen:
            by_stem[stem] = {
                "cases": len(chosen),
                **mae(np.stack([c.errors for c in chosen])),
                "clean": mae(np.stack([c.clean_predicted_db for c in _per_stem(chosen)])),
                "differential": mae(np.stack([c.differential_errors for c in chosen])),
            }
    stems = _per_stem(cases)
    shares = np.stack([c.band_shares_db for c in cases])
    present = {}
    for i, band in enumerate(BAND_NAMES):
        chosen = shares[:, i] >= PRESENT_DB
        present[band] = {
            "cases": int(chosen.sum()),
            "mae": round(float(np.abs(stem_errors[chosen, i]).mean()), 3) if chosen.any() else None,
            "mae_absent": (
                round(float(np.abs(stem_errors[~chosen, i]).mean()), 3) if (~chosen).any() else None
            ),
        }
    return {
        "cases": len(cases),
        "stems": len({(c.track, c.stem) for c in cases}),
        "tracks": len({c.track for c in cases}),
        "windows": len(window_errors),
        "mae_per_stem": mae(stem_errors),
        "mae_per_window": mae(window_errors),
        "clean_error": mae(np.stack([c.clean_predicted_db for c in stems])),
        "clean_error_per_window": mae(np.concatenate([c.clean_window_gains_db for c in stems])),
        "differential_error": mae(np.stack([c.differential_errors for c in cases])),
        "clean_bands_left_flat": round(
            float(np.mean([np.abs(c.clean_predicted_db) < 0.05 for c in stems])), 4
        ),
        "mean_clean_distance_db": round(float(np.mean([c.clean_distance for c in stems])), 3),
        "mae_by_stem_kind": by_stem,
        "zero_prediction_mae": mae(np.stack([c.damage_db for c in cases])),
        "mae_per_stem_where_band_present": present,
        "undo_rate": round(float(better.mean()), 4),
        "median_distance_damaged_db": round(
            float(np.median([c.distance_damaged for c in cases])), 3
        ),
        "median_distance_corrected_db": round(
            float(np.median([c.distance_corrected for c in cases])), 3
        ),
    }


def write_report(
    results: Mapping[str, list[Case]],
    summaries: Mapping[str, dict[str, Any]],
    out: Path,
    title: str,
    history: list | None,
) -> None:
    """errors.csv (every model's cases), results.json (the first model's summary, the others
    under "compared"), results.md, band_errors.png of the first model and, given its training
    history, loss.png (the seed's two figures)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "errors.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["model", "track", "stem", "draw"]
            + [f"damage_{b}" for b in BAND_NAMES]
            + [f"predicted_{b}" for b in BAND_NAMES]
            + [f"clean_predicted_{b}" for b in BAND_NAMES]
            + ["windows", "distance_damaged", "distance_corrected", "clean_distance"]
            + [f"share_db_{b}" for b in BAND_NAMES]
        )
        for name, cases in results.items():
            for c in cases:
                values = (*c.damage_db, *c.predicted_db, *c.clean_predicted_db)
                writer.writerow(
                    [name, c.track, c.stem, c.draw]
                    + [round(float(v), 3) for v in values]
                    + [len(c.window_gains_db)]
                    + [round(v, 3) for v in (c.distance_damaged, c.distance_corrected)]
                    + [round(c.clean_distance, 3)]
                    + [round(float(v), 2) for v in c.band_shares_db]
                )
    first, *others = summaries
    payload = {"title": title, "model": first, **summaries[first]}
    payload["compared"] = {name: summaries[name] for name in others}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "results.md").write_text(
        comparison(summaries, title) + markdown(summaries[first], first)
    )
    plot_band_errors(results[first], out / "band_errors.png", f"{first}: {title}")
    if history:
        from stemdeck.training.eq import plot_history

        plot_history(history, out / "loss.png")


#: The three figures of issue #22, by summary key.
FIGURES = {
    "mae_per_stem": "(a) MAE, damaged stems",
    "clean_error": "(b) clean-stem error",
    "differential_error": "(c) differential error",
}


def comparison(summaries: Mapping[str, dict[str, Any]], title: str) -> str:
    """The three figures per band for every model, on the same cases, as one table."""
    first = next(iter(summaries.values()))
    lines = [
        f"### {title}\n\n",
        f"{first['cases']} damaged stems ({first['stems']} stems of {first['tracks']} tracks), "
        "the same for every model. dB; (b) is the mean |recommended gain| on the undamaged "
        "stems, (c) |(pred(damaged) - pred(clean)) + damage|. Undo: share of damaged stems the "
        "correction brings closer to the clean stem.\n\n",
        "| model | figure | " + " | ".join(BAND_NAMES) + " | overall | undo |\n",
        "|---|---|" + "---:|" * 5 + "\n",
    ]
    for name, summary in summaries.items():
        for key, label in FIGURES.items():
            cells = " | ".join(f"{summary[key][k]:.2f}" for k in (*BAND_NAMES, "overall"))
            undo = f"{summary['undo_rate']:.1%}" if key == "mae_per_stem" else ""
            lines.append(f"| {name} | {label} | {cells} | {undo} |\n")
    zero = first["zero_prediction_mae"]
    cells = " | ".join(f"{zero[k]:.2f}" for k in (*BAND_NAMES, "overall"))
    lines.append(f"| predicting 0 dB | (a) | {cells} | |\n\n")
    return "".join(lines)


def markdown(summary: dict[str, Any], title: str) -> str:
    head = "| | " + " | ".join(BAND_NAMES) + " | overall |\n|---|" + "---:|" * 4 + "\n"

    def row(name: str, values: dict[str, float]) -> str:
        cells = " | ".join(f"{values[k]:.2f}" for k in (*BAND_NAMES, "overall"))
        return f"| {name} | {cells} |\n"

    kinds = summary["mae_by_stem_kind"]
    lines = [
        f"#### {title}\n\n",
        f"{summary['cases']} damaged stems ({summary['stems']} stems of {summary['tracks']} "
        f"tracks), {summary['windows']} windows. dB:\n\n",
        head,
        row("(a) MAE per stem (median of windows)", summary["mae_per_stem"]),
        row("(a) MAE per 3 s window", summary["mae_per_window"]),
        *(row(f"(a) per stem: {k} ({v['cases']})", v) for k, v in kinds.items()),
        row("(b) clean-stem error, per stem", summary["clean_error"]),
        row("(b) clean-stem error, per 3 s window", summary["clean_error_per_window"]),
        *(row(f"(b) per stem: {k}", v["clean"]) for k, v in kinds.items()),
        row("(c) differential error, per stem", summary["differential_error"]),
        *(row(f"(c) per stem: {k}", v["differential"]) for k, v in kinds.items()),
        row("predicting 0 dB (no model)", summary["zero_prediction_mae"]),
        _present_row(summary["mae_per_stem_where_band_present"]),
        f"\nCorrection brings the spectrum closer to the clean stem in "
        f"{summary['undo_rate']:.1%} of cases (median third-octave distance "
        f"{summary['median_distance_damaged_db']:.2f} dB damaged -> "
        f"{summary['median_distance_corrected_db']:.2f} dB corrected). On the undamaged stems "
        f"{summary['clean_bands_left_flat']:.1%} of the bands are left flat, and the "
        f"recommendation moves their spectrum by {summary['mean_clean_distance_db']:.2f} dB "
        "on average.\n",
    ]
    return "".join(lines)


def _present_row(present: dict[str, dict[str, Any]]) -> str:
    def cell(entry: dict[str, Any], key: str) -> str:
        value = entry[key]
        return "-" if value is None else f"{value:.2f}"

    cells = " | ".join(
        f"{cell(present[b], 'mae')} ({present[b]['cases']}) / {cell(present[b], 'mae_absent')}"
        for b in BAND_NAMES
    )
    return (
        f"| per stem, band region holding >= {PRESENT_DB:g} dB of the stem's energy "
        f"(cases) / the rest | {cells} | |\n"
    )


def plot_band_errors(cases: list[Case], png: Path, title: str) -> None:
    """MAE per band for each stem kind, and recommended vs ideal correction per band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [s for s in STEMS if any(c.stem == s for c in cases)] + ["all"]
    figure, (bars, scatter) = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        chosen = [c for c in cases if kind in ("all", c.stem)]
        values = np.abs(np.stack([c.errors for c in chosen])).mean(axis=0)
        bars.bar(np.arange(3) + (k - (len(kinds) - 1) / 2) * width, values, width, label=kind)
    bars.set_xticks(range(3), [f"{b}" for b in BAND_NAMES])
    bars.set(ylabel="MAE (dB)", title="error per band (whole-stem recommendation)")
    bars.legend(fontsize=8)
    for i, band in enumerate(BAND_NAMES):
        ideal = [-c.damage_db[i] for c in cases]
        scatter.scatter(ideal, [c.predicted_db[i] for c in cases], s=6, alpha=0.5, label=band)
    limit = DAMAGE_RANGE_DB + 2
    scatter.plot([-limit, limit], [-limit, limit], color="grey", linewidth=0.8)
    scatter.set(
        xlabel="ideal correction (dB)", ylabel="recommended (dB)", title="recommended vs ideal"
    )
    scatter.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    partial = png.with_name(png.name + ".part.png")
    figure.savefig(partial, dpi=80)
    plt.close(figure)
    partial.replace(png)
