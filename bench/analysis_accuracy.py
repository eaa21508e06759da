"""Tempo and key accuracy of `stemdeck analyze` on synthetic songs whose score is known.

Why: the analysis shows a BPM and a key to users; this checks them against the tempo and key
the synthetic corpus wrote into each song's metadata.json (`stemdeck synth`), on the mix and —
as `stemdeck analyze --drums` does — with the drums stem driving the beat tracker.

Scoring:
- tempo: "exact" within 2 % of the written BPM (quarter notes per minute); "double/half" within
  2 % of twice or half of it, counted separately; for 12/8 songs also "dotted pulse" (2/3 or
  4/3 of the written tempo: the dotted-quarter pulse or its double); the rest "other".
- key: the corpus writes modes (major, minor, dorian, mixolydian, phrygian); a major/minor key
  finder is right when it names the tonic and the mode family (major, mixolydian → major;
  minor, dorian, phrygian → minor). Errors are broken down MIREX-style (fifth, relative,
  parallel, other), and the MIREX weighted score (1, 0.5, 0.3, 0.2, 0) is printed too.

    .venv/bin/python bench/analysis_accuracy.py data/synth [--split test] [-j 2]

A table goes to stdout; per-song rows to bench/results/analysis_accuracy.csv (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PITCH = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6,
         "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11}  # fmt: skip
MODE_FAMILY = {"major": "major", "mixolydian": "major", "lydian": "major", "minor": "minor",
               "dorian": "minor", "phrygian": "minor", "aeolian": "minor"}  # fmt: skip
MIREX_WEIGHT = {"correct": 1.0, "fifth": 0.5, "relative": 0.3, "parallel": 0.2, "other": 0.0}


def tempo_class(estimate: float, written: float, meter: str, tolerance: float = 0.02) -> str:
    def near(target: float) -> bool:
        return abs(estimate - target) <= tolerance * target

    if near(written):
        return "exact"
    if near(2 * written) or near(written / 2):
        return "double/half"
    if meter == "12/8" and (near(written * 2 / 3) or near(written * 4 / 3)):
        return "dotted pulse"
    return "other"


def key_class(tonic: str, mode: str, written: str) -> str:
    """MIREX category of an estimated key against a written one such as "A dorian"."""
    ref_tonic, ref_mode = written.split()
    ref_pc, ref_family = PITCH[ref_tonic], MODE_FAMILY[ref_mode]
    pc = PITCH[tonic]
    if pc == ref_pc and mode == ref_family:
        return "correct"
    if mode == ref_family and (pc - ref_pc) % 12 in (5, 7):
        return "fifth"
    relative = (ref_pc + 3) % 12 if ref_family == "minor" else (ref_pc - 3) % 12
    if mode != ref_family and pc == relative:
        return "relative"
    if mode != ref_family and pc == ref_pc:
        return "parallel"
    return "other"


def songs(root: Path, split: str) -> list[Path]:
    splits = ("train", "test") if split == "all" else (split,)
    found = [
        folder
        for s in splits
        for folder in sorted((root / s).glob("*"))
        if (folder / "metadata.json").is_file() and (folder / "mixture.wav").is_file()
    ]
    if not found:
        raise SystemExit(f"no songs with metadata.json under {root} ({', '.join(splits)})")
    return found


def measure(folder: Path) -> dict:
    """One song: tempo from the mix and from the drums stem, key from the mix."""
    from stemdeck.genre.analysis import analyze_file

    meta = json.loads((folder / "metadata.json").read_text())
    started = time.perf_counter()
    mix = analyze_file(folder / "mixture.wav")
    seconds = time.perf_counter() - started
    drums = analyze_file(folder / "mixture.wav", drums=folder / "drums.wav")
    meter = meta.get("time_signature", "4/4")
    return {
        "song": folder.name,
        "genre": meta["genre"],
        "meter": meter,
        "written_bpm": meta["tempo"],
        "mix_bpm": mix["tempo_bpm"],
        "mix_class": tempo_class(mix["tempo_bpm"], meta["tempo"], meter),
        "drums_bpm": drums["tempo_bpm"],
        "drums_class": tempo_class(drums["tempo_bpm"], meta["tempo"], meter),
        "written_key": meta["key"],
        "key": mix["key"],
        "key_class": key_class(mix["key_tonic"], mix["key_mode"], meta["key"]),
        "analysis_s": round(seconds, 2),
    }


def share(rows: list[dict], column: str, value: str) -> str:
    n = sum(r[column] == value for r in rows)
    return f"{n}/{len(rows)} ({100 * n / len(rows):.0f} %)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="synthetic corpus root (stemdeck synth)")
    parser.add_argument("--split", default="all", choices=("train", "test", "all"))
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="only the first N songs")
    args = parser.parse_args()
    folders = songs(args.root, args.split)[: args.limit]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(measure, folders))
    elapsed = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "analysis_accuracy.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    print(f"{len(rows)} songs from {args.root} ({args.split}); {elapsed:.0f} s with {args.jobs} "
          f"process(es); mean analysis {sum(r['analysis_s'] for r in rows) / len(rows):.2f} s "
          "per song (mix, no stems)\n")  # fmt: skip
    print("| tempo (2 % tolerance) | exact | double/half | dotted pulse (12/8) | other |")
    print("|---|---|---|---|---|")
    for source in ("mix", "drums"):
        cells = [share(rows, f"{source}_class", c)
                 for c in ("exact", "double/half", "dotted pulse", "other")]  # fmt: skip
        print(f"| beat tracker on the {source} | " + " | ".join(cells) + " |")
    classes = ("exact", "double/half", "dotted pulse", "other")
    for meter in sorted({r["meter"] for r in rows}):
        subset = [r for r in rows if r["meter"] == meter]
        cells = " | ".join(share(subset, "drums_class", c) for c in classes)
        print(f"| - {meter} songs, drums ({len(subset)}) | {cells} |")
    print("\n| key | correct | fifth | relative | parallel | other | MIREX score |")
    print("|---|---|---|---|---|---|---|")
    modes = sorted({r["written_key"].split()[1] for r in rows})
    for label, subset in [("all songs", rows)] + [
        (f"written {m}", [r for r in rows if r["written_key"].split()[1] == m]) for m in modes
    ]:
        cells = [share(subset, "key_class", c) for c in MIREX_WEIGHT]
        score = sum(MIREX_WEIGHT[r["key_class"]] for r in subset) / len(subset)
        print(f"| {label} ({len(subset)}) | " + " | ".join(cells) + f" | {score:.3f} |")
    print(f"\nper-song rows: {RESULTS / 'analysis_accuracy.csv'}")


if __name__ == "__main__":
    main()
