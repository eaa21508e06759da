"""The genre stage's own time per song: the genre model and the track analysis, run as the genre
worker runs them (side by side, `genre.task.genre_and_analysis_of`), warm, on a song of
--seconds seconds (the real song bench/pipeline.py uses, cut or looped; tones when absent).

    .venv/bin/python bench/genre_stage.py [--seconds 60] [--repeats 3] [--model default]

Prints the median of the repeats for the whole stage and for the genre model alone, as wall
seconds and as CPU seconds (`time.process_time`: every thread of this process, TensorFlow's
intra-op pool included; the input is a WAV, decoded in-process by soundfile). On a loaded
machine the wall time grows with the load while the CPU time barely moves, so the CPU seconds
are the figure to compare between runs; on a quiet 2-core machine the wall time is at most the
CPU time (the model and the analysis run side by side). The stage's target is 2 s per 60 s song
(issue 21); bench/pipeline.py measures it inside a running service, with the separator beside
it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline import make_input  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    from stemdeck.common.audio import read_audio
    from stemdeck.genre import task
    from stemdeck.genre.classifier import load_genre_model

    model = load_genre_model(args.model)
    task.genre_model = lambda: model  # the worker's cached loader, pointed at the model asked for
    with tempfile.TemporaryDirectory(prefix="stemdeck-genre-bench-") as folder:
        song = make_input(Path(folder), args.seconds)
        task.genre_and_analysis_of(song)  # warm-up: TensorFlow tracing, numba compilation
        stage, genre_only, stage_cpu, genre_cpu = [], [], [], []
        for _ in range(args.repeats):
            started, cpu = time.perf_counter(), time.process_time()
            genre, _ = task.genre_and_analysis_of(song)
            stage.append(time.perf_counter() - started)
            stage_cpu.append(time.process_time() - cpu)
            started, cpu = time.perf_counter(), time.process_time()
            model.classify(read_audio(song, sample_rate=model.rate, channels=1)[0])
            genre_only.append(time.perf_counter() - started)
            genre_cpu.append(time.process_time() - cpu)
    print(
        f"model {model.name}: {genre['label']} ({genre['confidence']:.2f}), "
        f"{len(genre['windows'])} windows"
    )
    print(f"genre stage (model + analysis side by side), {args.seconds:g} s song:")
    _report("  wall", stage)
    _report("  CPU ", stage_cpu)
    print("genre model alone (decode + classify):")
    _report("  wall", genre_only)
    _report("  CPU ", genre_cpu)


def _report(what: str, seconds: list[float]) -> None:
    print(f"{what}: median {statistics.median(seconds):.2f} s of {[round(t, 2) for t in seconds]}")


if __name__ == "__main__":
    main()
