"""The head-to-head table of issue #20 from the runs' history.csv files: steps, wall and CPU
time, CPU seconds per step, seconds of audio drawn, and the best whole-track validation SDR.

    .venv/bin/python bench/h2h_table.py runs/h2h-spectral:4x4 runs/h2h-compact:4x2

Each argument is RUN_FOLDER:BATCHxSECONDS (the batch and segment it trained with). The figures
include the validations (the CPU they took is part of what a run costs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stemdeck.training.trainer import read_rows


def summarise(folder: Path, batch: int, seconds: float) -> str:
    rows = read_rows(folder / "history.csv")
    last = rows[-1]
    best = max(rows, key=lambda r: float(r["valid_sdr"]))
    steps, cpu = int(last["step"]), float(last["cpu_seconds"])
    stems = " / ".join(
        f"{float(best[f'sdr_{s}']):.2f}" for s in ("drums", "bass", "other", "vocals")
    )
    return (
        f"| {folder.name} | {steps} | {float(last['seconds']) / 3600:.2f} | {cpu / 3600:.2f} "
        f"| {cpu / steps:.1f} | {steps * batch * seconds / 60:.0f} "
        f"| {float(best['valid_sdr']):.2f} (step {best['step']}) | {stems} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="RUN_FOLDER:BATCHxSECONDS")
    args = parser.parse_args()
    print(
        "| run | steps | wall h | CPU h | CPU s / step | audio drawn (min) "
        "| best valid SDR (dB) | drums / bass / other / vocals |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for item in args.runs:
        folder, shape = item.rsplit(":", 1)
        batch, seconds = shape.split("x")
        print(summarise(Path(folder), int(batch), float(seconds)))


if __name__ == "__main__":
    main()
