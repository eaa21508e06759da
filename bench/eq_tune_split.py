"""A tuning split of the real training previews, so nothing is chosen on the reported previews.

`stemdeck eval eq` reports on the 14 `valid` previews of MUSDB18-7. Constants of the Auto-EQ's
restraint (and a fine-tune's checkpoint choice) are chosen instead on the 13 `train` previews
named in HELD_OUT (spread over the alphabet; picked once, before any figure was seen). This
writes OUT/train/ (links
to the training previews only; the 14 reported ones are left out) and OUT/tracks.csv marking
the 13 as `valid` and the rest as `train`, a dataset `eval eq`, `train eq` and
`bench/eq_posthoc.py` read like any other.

    .venv/bin/python bench/eq_tune_split.py --data ../shared/audio/musdb18-7 \
        --out runs/eq-real-split

With --shifted DIR (a folder `stemdeck train shifted-copies` wrote), it also writes
OUT/shifted/train/: links to the copies of the training songs outside HELD_OUT (its
tracks.csv's `source_track` column says which song each copy came from), so a network can
train on the copies without having heard any version of a tuning song.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from stemdeck.training.musdb import STEM_SUFFIX, find_tracks

HELD_OUT = (
    "Actions - Devil's Words",
    "Auctioneer - Our Future Faces",
    "Chris Durban - Celebrate",
    "Dreamers Of The Ghetto - Heavy Love",
    "Giselle - Moss",
    "Invisible Familiars - Disturbing Wildlife",
    "Leaf - Come Around",
    "Music Delta - Beatles",
    "Night Panther - Fire",
    "Secret Mountains - High Horse",
    "Strand Of Oaks - Spacestation",
    "The So So Glos - Emergency",
    "Voelund - Comfort Lives In Belief",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--shifted", type=Path, help="shifted copies to link, the held-out songs' left out"
    )
    args = parser.parse_args()
    train = find_tracks(args.data, "train")
    held = set(HELD_OUT) & {t.name for t in train}
    if len(held) != len(HELD_OUT):
        raise SystemExit(f"{args.data} lacks {sorted(set(HELD_OUT) - held)}")
    (args.out / "train").mkdir(parents=True, exist_ok=True)
    with (args.out / "tracks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track", "split"])
        for track in train:
            link = args.out / "train" / f"{track.name}{STEM_SUFFIX}"
            if not link.exists():
                link.symlink_to(track.path.resolve())
            writer.writerow([track.name, "valid" if track.name in held else "train"])
    print(f"{args.out}: {len(train) - len(held)} train, {len(held)} valid: {sorted(held)}")
    if args.shifted:
        link_shifted(args.shifted, args.out / "shifted" / "train", held)


def link_shifted(shifted: Path, out: Path, held: set[str]) -> None:
    """Link every copy in SHIFTED whose source song is not held out into OUT."""
    table = shifted / "tracks.csv"
    if not table.is_file():
        raise SystemExit(f"{table} not found: is {shifted} a folder `train shifted-copies` wrote?")
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "source_track" not in rows[0]:
        raise SystemExit(f"{table} has no source_track column")
    out.mkdir(parents=True, exist_ok=True)
    kept = [row["track"] for row in rows if row["source_track"] not in held]
    for name in kept:
        link = out / name
        if not link.exists():
            link.symlink_to((shifted / "train" / name).resolve())
    left = len(rows) - len(kept)
    print(f"{out}: {len(kept)} copies linked, {left} copies of held-out songs left out")


if __name__ == "__main__":
    main()
