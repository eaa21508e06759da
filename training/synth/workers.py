"""What `synth` and `synth-genres` share: one seeded song from score to stems, and a pool
that makes many of them. Workers are spawned, not forked: forking a process that has loaded
FluidSynth deadlocked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import TypeVar

import numpy as np

from stemdeck.training.synth.render import RenderedSong
from stemdeck.training.synth.score import Song

Job = TypeVar("Job")
Result = TypeVar("Result")


def make_song(
    genre: str, seconds: float, seed: int, title: str, sound_set: str
) -> tuple[Song, RenderedSong]:
    """Compose and render one song; `seed` splits into a composing and a rendering seed."""
    from stemdeck.training.synth.compose import compose
    from stemdeck.training.synth.render import render_song
    from stemdeck.training.synth.soundsets import get_sound_set
    from stemdeck.training.synth.vocals import available_voices

    chosen = get_sound_set(sound_set)
    compose_seed, render_seed = np.random.SeedSequence(seed).generate_state(2)
    singers = [v for v in chosen.voices if v in available_voices()]
    song = compose(genre, seconds, int(compose_seed), title, singers)
    return song, render_song(song, chosen, seconds, np.random.default_rng(render_seed))


def run_jobs(
    work: Callable[..., Result], jobs: Iterable[Job], *args: object, workers: int = 1
) -> Iterator[Result]:
    """`work(job, *args)` for every job, in `workers` processes, yielding as each finishes."""
    if workers <= 1:
        for job in jobs:
            yield work(job, *args)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(work, job, *args) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
