"""Render a Part with FluidSynth in-process, to float samples with no dither.

A synthesiser's output depends slightly on what it played before, even after a reset
(measured: up to 1.6e-4 after a different font's part), so each song gets a fresh one and
renders its parts in score order: the same song gives the same bytes in any worker.
"""

from __future__ import annotations

import ctypes
import math
from functools import cache

import numpy as np

from stemdeck.common.audio import TARGET_RATE
from stemdeck.training.synth.score import Part, Song
from stemdeck.training.synth.soundsets import font_path, is_single_kit

RATE = TARGET_RATE
BLOCK = 64  # FluidSynth's internal block; events land on these boundaries
TAIL_SECONDS = 3.0  # release tails rendered (then trimmed by the caller)
DRUM_CHANNEL = 9
MELODIC_CHANNEL = 0


def _fluidsynth():
    try:
        import fluidsynth
    except (ImportError, OSError) as error:  # OSError: the C library is missing
        raise RuntimeError(
            "FluidSynth is not installed: run scripts/install-synth-deps "
            f"and `pip install -e .[synth]` ({error})"
        ) from error
    return fluidsynth


@cache
def _write_float():
    fs = _fluidsynth()
    return fs.cfunc(
        "fluid_synth_write_float", ctypes.c_int,
        ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1),
    )  # fmt: skip


class FontSynth:
    """One FluidSynth instance with fonts loaded on demand (internal reverb/chorus off: the
    mixer adds its own effects per stem)."""

    def __init__(self) -> None:
        fs = _fluidsynth()
        self._synth = fs.Synth(
            gain=0.5,
            samplerate=float(RATE),
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1,
               "synth.polyphony": 256, "synth.dynamic-sample-loading": 0},
        )  # fmt: skip
        self._fonts: dict[str, int] = {}

    def _font_id(self, name: str) -> int:
        if name not in self._fonts:
            sfid = self._synth.sfload(str(font_path(name)))
            if sfid < 0:
                raise RuntimeError(f"FluidSynth could not load {font_path(name)}")
            self._fonts[name] = sfid
        return self._fonts[name]

    def _select(self, part: Part, font: str) -> int:
        """Choose the part's preset; fall back to program/kit 0 where the font lacks it."""
        sfid = self._font_id(font)
        if part.is_drums and is_single_kit(font):
            channel, bank, program = MELODIC_CHANNEL, 0, 0
        elif part.is_drums:
            channel, bank, program = DRUM_CHANNEL, 128, part.program
        else:
            channel, bank, program = MELODIC_CHANNEL, 0, part.program
        if self._synth.program_select(channel, sfid, bank, program) != 0:
            self._synth.program_select(channel, sfid, bank, 0)
        return channel

    def _reset(self) -> None:
        self._synth.system_reset()
        for channel in range(16):
            self._synth.all_sounds_off(channel)
        self._render(BLOCK * 4)  # lets killed voices finish; discarded

    def _render(self, frames: int) -> np.ndarray:
        """The next `frames` samples; whole parts stay multiples of BLOCK so every part
        starts on a block boundary of the synthesiser, as on a fresh one."""
        out = np.zeros((frames, 2), dtype=np.float32)
        if frames:
            address = out.ctypes.data
            _write_float()(self._synth.synth, frames, address, 0, 2, address, 1, 2)
        return out

    def render(self, part: Part, song: Song, font: str, velocity_scale: float = 1.0) -> np.ndarray:
        """(2, frames) float32 of the part over the whole song plus TAIL_SECONDS."""
        self._reset()
        channel = self._select(part, font)
        spb = song.seconds_per_beat
        events: list[tuple[int, int, int, int]] = []  # (frame, 0=off/1=on, key, velocity)
        for note in part.notes:
            on = round(note.start * spb * RATE)
            off = max(on + BLOCK, round((note.start + note.length) * spb * RATE))
            velocity = max(1, min(127, round(note.velocity * velocity_scale)))
            events.append((on, 1, note.pitch, velocity))
            events.append((off, 0, note.pitch, 0))
        events.sort()
        total = math.ceil((song.beats * spb + TAIL_SECONDS) * RATE / BLOCK) * BLOCK
        pieces, now = [], 0
        for frame, kind, key, velocity in events:
            frame = min(frame, total)
            if frame > now:
                pieces.append(self._render(frame - now))
                now = frame
            if kind:
                self._synth.noteon(channel, key, velocity)
            else:
                self._synth.noteoff(channel, key)
        pieces.append(self._render(total - now))
        return np.concatenate(pieces).T.copy()

    def close(self) -> None:
        self._synth.delete()

    def __enter__(self) -> FontSynth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
