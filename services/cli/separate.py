"""`stemdeck separate`: song files in, stem files out, one progress bar per track."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing import Manager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

err = Console(stderr=True, soft_wrap=True)  # never break paths in messages


class Format(StrEnum):
    wav = "wav"
    flac = "flac"
    mp3 = "mp3"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@dataclass(frozen=True)
class Job:
    """Everything a worker process needs to separate one file (picklable)."""

    path: Path
    out: Path
    model: str | None
    device: str
    segment: float | None
    overlap: float
    shifts: int
    soft_mask: bool | None
    format: str
    bit_depth: int
    two_stems: str | None
    threads: int


_SEPARATORS: dict[tuple, Any] = {}


def _separator(job: Job) -> Any:
    """Load the model once per process and reuse it for every track that process gets."""
    from stemdeck.separator.engine import ChunkSettings
    from stemdeck.separator.repository import open_model
    from stemdeck.separator.separate import Separator

    key = (job.model, job.device, job.segment, job.overlap, job.shifts, job.soft_mask)
    if key not in _SEPARATORS:
        chunks = ChunkSettings(
            segment=job.segment, overlap=job.overlap, shifts=job.shifts, soft_mask=job.soft_mask
        )
        _SEPARATORS[key] = Separator(open_model(job.model), job.device, chunks)
    return _SEPARATORS[key]


def run_job(job: Job, events: Any = None) -> Any:
    """Separate one file (returns a SeparationResult); report (path, fraction) on `events`."""
    import torch

    from stemdeck.separator.separate import OutputOptions

    torch.set_num_threads(job.threads)
    options = OutputOptions(job.format, job.bit_depth, job.two_stems)

    def report(fraction: float) -> None:
        if events is not None:
            events.put((str(job.path), fraction))

    return _separator(job).separate_file(job.path, job.out, options, report)


def _failure_message(exc: BaseException) -> str:
    from stemdeck.common.audio import AudioError
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.repository import ModelNotFoundError

    if isinstance(exc, AudioError | CheckpointError | ModelNotFoundError | ValueError | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def separate(
    inputs: Annotated[
        list[Path], typer.Argument(help="Audio files to separate.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("separated"),
    model: Annotated[
        str | None,
        typer.Option(
            help="Installed model's name (`stemdeck models list`: default, hdemucs, ...) or a "
            "checkpoint path."
        ),
    ] = None,
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    segment: Annotated[
        float | None,
        typer.Option(
            help="Segment seconds (default: the model's; 2 s for compact, 7.8 s for hdemucs).",
            min=0.1,
        ),
    ] = None,
    overlap: Annotated[
        float, typer.Option(help="Overlap between segments.", min=0.0, max=0.9)
    ] = 0.25,
    shifts: Annotated[
        int, typer.Option(help="Random shifts averaged in (better, slower).", min=0, max=20)
    ] = 0,
    soft_mask: Annotated[
        bool | None,
        typer.Option(
            "--soft-mask/--no-soft-mask",
            help="Split the mixture by the model's magnitude ratios (stems then add up to the "
            "input). Default: the model's own (on for models whose card shows it helps, such "
            "as the former compact default; off for the bundled spectral model and Demucs).",
            show_default=False,
        ),
    ] = None,
    two_stems: Annotated[
        str | None, typer.Option(help="Write STEM and no_STEM only, e.g. --two-stems vocals.")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Output file format.")] = Format.wav,
    bit_depth: Annotated[int, typer.Option(help="16, 24 or 32 (float) bits; WAV/FLAC.")] = 16,
    jobs: Annotated[
        int, typer.Option("-j", "--jobs", help="Tracks processed in parallel.", min=1)
    ] = 1,
) -> None:
    """Split songs into vocals, drums, bass and other: OUT/<track>/<stem>.<format>."""
    from stemdeck.separator.repository import ModelNotFoundError, resolve

    if bit_depth not in (16, 24, 32):
        raise typer.BadParameter("must be 16, 24 or 32", param_hint="--bit-depth")
    if format is Format.flac and bit_depth == 32:
        raise typer.BadParameter("FLAC supports 16 or 24 bits", param_hint="--bit-depth")
    try:
        resolved = str(resolve(model))
    except ModelNotFoundError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    jobs = min(jobs, len(inputs))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    work = [
        Job(
            p,
            out,
            resolved,
            device.value,
            segment,
            overlap,
            shifts,
            soft_mask,
            format.value,
            bit_depth,
            two_stems,
            threads,
        )
        for p in inputs
    ]
    failures = _run_all(work, jobs)
    if failures:
        err.print(f"[red]{failures} of {len(work)} input(s) failed.[/red]")
        raise typer.Exit(1)


def _run_all(work: list[Job], jobs: int) -> int:
    """Run every job, show a bar per track, report failures without stopping the others."""
    failures = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bars:
        tasks = {
            str(job.path): bars.add_task(escape(job.path.name[:40]), total=1.0) for job in work
        }

        def finish(job: Job, result: Any, exc: BaseException | None) -> None:
            nonlocal failures
            if exc is None:
                folder = next(iter(result.stems.values())).parent
                bars.update(tasks[str(job.path)], completed=1.0)
                bars.console.print(
                    f"[green]✓[/green] {escape(job.path.name)} → {escape(str(folder))} "
                    f"({result.duration:.1f} s of audio in {result.seconds:.1f} s on "
                    f"{result.device})"
                )
            else:
                failures += 1
                bars.update(tasks[str(job.path)], visible=False)
                bars.console.print(
                    f"[red]✗ {escape(str(job.path))}:[/red] {escape(_failure_message(exc))}"
                )

        if jobs == 1:
            for job in work:
                events = _DirectEvents(bars, tasks)
                try:
                    finish(job, run_job(job, events), None)
                except Exception as exc:
                    finish(job, None, exc)
            return failures
        with Manager() as manager, ProcessPoolExecutor(jobs) as pool:
            queue = manager.Queue()
            futures = {pool.submit(run_job, job, queue): job for job in work}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(queue, bars, tasks)
                for future in done:
                    error = future.exception()
                    finish(futures[future], None if error else future.result(), error)
            _drain(queue, bars, tasks)
    return failures


class _DirectEvents:
    """In-process stand-in for the progress queue."""

    def __init__(self, bars: Progress, tasks: dict[str, Any]) -> None:
        self.bars, self.tasks = bars, tasks

    def put(self, event: tuple[str, float]) -> None:
        self.bars.update(self.tasks[event[0]], completed=event[1])


def _drain(queue: Any, bars: Progress, tasks: dict[str, Any]) -> None:
    while not queue.empty():
        path, fraction = queue.get()
        bars.update(tasks[path], completed=fraction)
