"""Which post-hoc restraint lets the Auto-EQ do no harm, at what cost on damaged stems?

The network's raw per-window predictions are gathered once per dataset (cached under
eval/eq-posthoc/, keyed by the model file's contents, the data, split, draws and seed): for
every non-silent stem, undamaged and with `eval eq`'s seeded damages. Each option of
`stemdeck.eq.restraint.Restraint` is then scored without running the network again:

- (a) MAE on the damaged stems, (b) clean-stem error (mean |recommendation| on the undamaged
  stems), (c) differential error, per band;
- the undo rate, from the stem's long-term power spectrum times the filters' |H|^2 (what a
  filter does to a long-term spectrum; `eval eq` measures it on the filtered audio).

Options: a dead zone, a shrink by the windows' spread, and a per-stem prior whose constants are
fitted on the --tune data (the model's mean judgement of undamaged stems of each kind as the
offset; the least-squares factor per stem and band for a mix where a share `p` of the stems
need nothing), then applied unchanged to the --test data. Constants are chosen on --tune only.

    .venv/bin/python bench/eq_posthoc.py --tune ../shared/audio/musdb18-7:train \
        --test ../shared/audio/musdb18-7:valid [--model default] [--draws 10]

With --loo, the per-stem prior options are also scored by leave-one-track-out on --tune
(factors fitted on the other songs, scored on the held-out one): the fit is then not scored on
the songs it was fitted to.

With --write OUT, it instead fits the chosen restraint (--share, --offset, --dead-zone,
--spread-shrink) on --tune and writes the model with it to OUT (a StemDeck checkpoint whose
metadata records the restraint and how it was chosen): how the bundled model was made.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import TARGET_RATE
from stemdeck.eq.checkpoints import LoadedEqModel, open_model, resolve, save_checkpoint
from stemdeck.eq.filters import frequency_response
from stemdeck.eq.model import STEMS, EqNet
from stemdeck.eq.predict import aggregate, predict_eq
from stemdeck.eq.restraint import Restraint
from stemdeck.training.eq_eval import _CENTRES, _FFT, _is_silent, damage_draws
from stemdeck.training.musdb import find_tracks

CACHE = Path("eval/eq-posthoc")
_FREQS = np.fft.rfftfreq(_FFT, 1.0 / TARGET_RATE)
_EDGES = np.stack([_CENTRES * 2 ** (-1 / 6), _CENTRES * 2 ** (1 / 6)], axis=-1)
_MEMBERS = np.stack([(lo <= _FREQS) & (hi > _FREQS) for lo, hi in _EDGES]).astype(np.float64)


@dataclass
class StemRaw:
    """One stem's raw material: its long-term power spectrum and the raw window predictions."""

    track: str
    stem: str
    power: np.ndarray  # (_FFT // 2 + 1,) mean power spectrum, as `band_levels` takes it
    clean: np.ndarray  # (windows, 3)
    damages: np.ndarray  # (draws, 3)
    damaged: list[np.ndarray]  # per draw (windows, 3)


def power_spectrum(mono: np.ndarray) -> np.ndarray:
    signal = np.asarray(mono, dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(signal, _FFT)[:: _FFT // 2]
    return (np.abs(np.fft.rfft(frames * np.hanning(_FFT), axis=-1)) ** 2).mean(axis=0)


def collect(spec: str, model: EqNet, model_path: Path, draws: int, seed: int) -> list[StemRaw]:
    root, _, split = spec.rpartition(":")
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]
    key = hashlib.sha256(f"{Path(root).resolve()}|{split}|{digest}|{draws}|{seed}".encode())
    cached = CACHE / f"{key.hexdigest()[:16]}.pkl"
    if cached.is_file():
        return pickle.loads(cached.read_bytes())
    from stemdeck.eq.filters import apply_eq

    out = []
    for index, track in enumerate(find_tracks(root, split)):
        for stem_index, stem in enumerate(STEMS):
            clean = track.read(stem).mean(axis=0, dtype=np.float32)
            if _is_silent(clean):
                continue
            damages = damage_draws(seed, index, stem_index, draws)
            raw = [
                predict_eq(
                    apply_eq(clean, TARGET_RATE, g), TARGET_RATE, stem, model
                ).window_gains_db
                for g in damages
            ]
            clean_raw = predict_eq(clean, TARGET_RATE, stem, model).window_gains_db
            out.append(StemRaw(track.name, stem, power_spectrum(clean), clean_raw, damages, raw))
        print(f"{spec}: {index + 1} tracks", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(out))
    return out


def _levels(power: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Third-octave levels (dB) of the spectrum after the EQ `gains` (3,)."""
    response = np.abs(frequency_response(gains, _FREQS, TARGET_RATE)) ** 2
    return 10 * np.log10(np.maximum(_MEMBERS @ (power * response), 1e-30))


def _distance(reference: np.ndarray, levels: np.ndarray) -> float:
    floor = reference.max() - 100.0
    return float(np.mean(np.abs(np.maximum(levels, floor) - np.maximum(reference, floor))))


def score(stems: list[StemRaw], restraint: Restraint) -> dict[str, np.ndarray | float]:
    """(a), (b), (c) per band and the undo rate of one restraint."""
    errors, clean_errors, differential, undone = [], [], [], []
    for s in stems:
        clean_rec, _ = aggregate(s.clean, restraint, s.stem)
        clean_errors.append(np.abs(clean_rec))
        reference = _levels(s.power, np.zeros(3))
        for damage, raw in zip(s.damages, s.damaged, strict=True):
            rec, _ = aggregate(raw, restraint, s.stem)
            errors.append(np.abs(rec + damage))
            differential.append(np.abs(rec - clean_rec + damage))
            before = _distance(reference, _levels(s.power, damage))
            undone.append(_distance(reference, _levels(s.power, damage + rec)) < before)
    return {
        "a": np.mean(errors, axis=0),
        "b": np.mean(clean_errors, axis=0),
        "c": np.mean(differential, axis=0),
        "undo": float(np.mean(undone)),
    }


def fit_prior(stems: list[StemRaw], share: float, offset: bool) -> Restraint:
    """Per stem and band: offset = mean clean-stem median (if `offset`), factor = least-squares
    weight w minimising (1 - share) E[(w g - t)^2] + share E[(w g_clean)^2], in [0, 1]."""
    offsets, scales = {}, {}
    for kind in STEMS:
        chosen = [s for s in stems if s.stem == kind]
        if not chosen:
            continue
        clean = np.stack([np.median(s.clean, axis=0) for s in chosen])
        mu = clean.mean(axis=0) if offset else np.zeros(3)
        guess = np.concatenate([[np.median(r, axis=0) for r in s.damaged] for s in chosen]) - mu
        target = -np.concatenate([s.damages for s in chosen])
        clean = clean - mu
        top = (1 - share) * np.mean(guess * target, axis=0)
        bottom = (1 - share) * np.mean(guess**2, axis=0) + share * np.mean(clean**2, axis=0)
        scales[kind] = tuple(float(v) for v in np.clip(top / bottom, 0.0, 1.0))
        if offset:
            offsets[kind] = tuple(float(v) for v in mu)
    return Restraint(stem_offset_db=offsets, stem_scale=scales)


def write(args: argparse.Namespace, loaded: LoadedEqModel, tune: list[StemRaw]) -> None:
    """The model with the restraint fitted on --tune, its choice recorded in the metadata."""
    prior = fit_prior(tune, args.share, args.offset)
    loaded.model.restraint = Restraint(
        stem_offset_db=prior.stem_offset_db,
        stem_scale=prior.stem_scale,
        spread_shrink=args.spread_shrink,
        dead_zone_db=args.dead_zone,
    )
    result = score(tune, loaded.model.restraint)
    metadata = dict(loaded.metadata)
    metadata["restraint_fit"] = {
        "tune": args.tune,
        "draws": args.draws,
        "seed": args.seed,
        "share": args.share,
        "offset": args.offset,
        "tune_scores": {k: np.round(v, 3).tolist() for k, v in result.items()},
    }
    save_checkpoint(args.write, loaded.model, metadata)
    print(f"{args.write}: {loaded.model.restraint.to_dict()}")
    print(f"on --tune: a {_cells(result['a'])}, b {_cells(result['b'])}, undo {result['undo']:.1%}")


def _cells(values: np.ndarray) -> str:
    return " / ".join(f"{v:.2f}" for v in values) + f" ({values.mean():.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune", action="append", required=True, help="DIR:split")
    parser.add_argument("--test", action="append", default=[], help="DIR:split")
    parser.add_argument("--model", default="default")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loo", action="store_true", help="leave-one-track-out on --tune")
    parser.add_argument("--write", type=Path, help="write the model with the chosen restraint")
    parser.add_argument("--share", type=float, default=0.25, help="prior: undamaged share p")
    parser.add_argument("--offset", action="store_true", help="prior: remove the clean mean")
    parser.add_argument("--dead-zone", type=float, default=0.0)
    parser.add_argument("--spread-shrink", type=float, default=0.0)
    args = parser.parse_args()
    path = resolve(args.model)
    loaded = open_model(path)
    model = loaded.model
    model.restraint = Restraint()  # raw medians: every option is applied here
    tune = [s for spec in args.tune for s in collect(spec, model, path, args.draws, args.seed)]
    if args.write:
        write(args, loaded, tune)
        return
    tests = {spec: collect(spec, model, path, args.draws, args.seed) for spec in args.test}
    options: dict[str, Restraint] = {"none (median)": Restraint()}
    for zone in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        options[f"dead zone {zone:g} dB"] = Restraint(dead_zone_db=zone)
    for k in (0.5, 1.0, 1.5, 2.0):
        options[f"spread shrink k={k:g}"] = Restraint(spread_shrink=k)
    for share, offset in itertools.product((0.0, 0.25, 0.5, 0.75), (False, True)):
        prior = fit_prior(tune, share, offset)
        name = f"per-stem prior p={share:g}{' + offset' if offset else ''}"
        options[name] = prior
        for zone in (1.0, 1.5, 2.0):
            options[f"{name} + dead zone {zone:g}"] = Restraint(
                stem_offset_db=prior.stem_offset_db, stem_scale=prior.stem_scale, dead_zone_db=zone
            )
    sets = {"tune: " + " + ".join(args.tune): tune} | {f"test: {k}": v for k, v in tests.items()}
    for label, stems in sets.items():
        print(f"\n{label} ({len(stems)} stems x {args.draws} damages), dB low / mid / high (mean)")
        print("| option | (a) MAE damaged | (b) clean-stem error | (c) differential | undo |")
        print("|---|---|---|---|---:|")
        for name, restraint in options.items():
            result = score(stems, restraint)
            print(
                f"| {name} | {_cells(result['a'])} | {_cells(result['b'])} | "
                f"{_cells(result['c'])} | {result['undo']:.1%} |",
                flush=True,
            )
    if args.loo:
        leave_one_out(tune)


#: Prior options compared by leave-one-track-out: (share, offset, dead zone, spread shrink).
LOO_OPTIONS = (
    (0.25, True, 2.0, 0.5),
    (0.25, False, 2.0, 0.5),
    (0.0, False, 2.0, 0.5),
    (0.25, False, 2.5, 0.0),
    (0.5, False, 1.5, 0.5),
    (0.0, False, 2.5, 0.5),
)


def leave_one_out(stems: list[StemRaw]) -> None:
    """Each prior option fitted on all songs but one and scored on that one, pooled."""
    tracks = sorted({s.track for s in stems})
    print(f"\nleave-one-track-out over {len(tracks)} songs")
    print("| share, offset, dead zone, k | (a) MAE damaged | (b) clean-stem error | undo |")
    print("|---|---|---|---:|")
    for share, offset, zone, k in LOO_OPTIONS:
        totals = {"a": np.zeros(3), "b": np.zeros(3), "undo": 0.0}
        for track in tracks:
            held = [s for s in stems if s.track == track]
            prior = fit_prior([s for s in stems if s.track != track], share, offset)
            restraint = Restraint(
                stem_offset_db=prior.stem_offset_db,
                stem_scale=prior.stem_scale,
                spread_shrink=k,
                dead_zone_db=zone,
            )
            result = score(held, restraint)
            for key in totals:
                totals[key] = totals[key] + result[key] * len(held)
        a, b = totals["a"] / len(stems), totals["b"] / len(stems)
        print(
            f"| {share:g}, {'offset' if offset else 'no offset'}, {zone:g}, {k:g} | "
            f"{_cells(a)} | {_cells(b)} | {totals['undo'] / len(stems):.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
