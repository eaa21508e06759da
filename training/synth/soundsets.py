"""Named groups of SoundFonts and singers, so training and test sets can differ in timbre.

A song draws one font for its melodic parts and one for its drums from its sound set; the
`test` set shares no font with `train`, so a test score measures generalisation to unheard
instruments. Fonts are looked up in STEMDECK_SOUNDFONT_DIR, then Debian's folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3"))


@dataclass(frozen=True)
class SoundSet:
    """Fonts for pitched parts, fonts for drums, and the singers' names.

    Attributes:
        melodic: SoundFont file names with the General MIDI melodic bank.
        drums: SoundFont file names for drum kits; a GM font plays kits from bank 128, a
            single-kit font (the AVL kits) plays its one preset for every kit.
        voices: singer names understood by `vocals.render_vocal_part`.
    """

    name: str
    melodic: tuple[str, ...]
    drums: tuple[str, ...]
    voices: tuple[str, ...]


SOUND_SETS = {
    s.name: s
    for s in (
        SoundSet(
            "train",
            melodic=("FluidR3_GM.sf2", "TimGM6mb.sf2"),
            drums=("FluidR3_GM.sf2", "TimGM6mb.sf2"),
            voices=("festival:kal", "festival:slt", "espeak:en-us+m3", "espeak:en+f3"),
        ),
        SoundSet(
            "test",
            melodic=("MuseScore_General.sf3",),
            drums=("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2"),
            voices=("festival:ked", "festival:lp", "espeak:en-us+f4"),
        ),
        SoundSet(
            "all",
            melodic=("FluidR3_GM.sf2", "TimGM6mb.sf2", "MuseScore_General.sf3"),
            drums=(
                "FluidR3_GM.sf2",
                "TimGM6mb.sf2",
                "Black_Pearl_4_LV2.sf2",
                "Red_Zeppelin_4_LV2.sf2",
            ),
            voices=(
                "festival:kal",
                "festival:ked",
                "festival:slt",
                "festival:lp",
                "espeak:en-us+m3",
                "espeak:en+f3",
                "espeak:en-us+f4",
            ),
        ),
    )
}

DEFAULT_SPLIT_SET = {"train": "train", "test": "test"}


class MissingSoundFont(RuntimeError):
    """A font of the chosen sound set is not installed."""


def font_path(name: str) -> Path:
    """Where the font file `name` is installed, or a MissingSoundFont saying how to get it."""
    dirs = [Path(d) for d in os.environ.get("STEMDECK_SOUNDFONT_DIR", "").split(os.pathsep) if d]
    for folder in (*dirs, *FONT_DIRS):
        if (folder / name).is_file():
            return folder / name
    raise MissingSoundFont(
        f"SoundFont {name} is not installed: run scripts/install-synth-deps "
        "(or point STEMDECK_SOUNDFONT_DIR at a folder holding it)"
    )


def get_sound_set(name: str) -> SoundSet:
    """The sound set called `name`, with every font checked to exist."""
    if name not in SOUND_SETS:
        raise ValueError(f"unknown sound set {name!r}; choose one of {', '.join(SOUND_SETS)}")
    sound_set = SOUND_SETS[name]
    for font in (*sound_set.melodic, *sound_set.drums):
        font_path(font)
    return sound_set


def is_single_kit(font: str) -> bool:
    """AVL drum fonts hold one kit as preset 0:0, played on a melodic channel."""
    return "LV2" in font
