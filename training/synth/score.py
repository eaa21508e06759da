"""The score of one synthetic song: what composition produces and rendering consumes.

Times are in beats from the start of the song (a beat is one quarter note at `Song.tempo`),
so the composer never thinks in seconds and the renderer never thinks in bars.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STEMS = ("drums", "bass", "other", "vocals")
GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Note:
    """One note. Drums use General MIDI percussion keys (36 kick, 38 snare, 42 closed hat...).

    Attributes:
        start: onset in beats from the song's start (swing is already applied).
        length: duration in beats.
        pitch: MIDI key number.
        velocity: 1-127.
        syllable: the sung syllable (vocal parts only; "" elsewhere).
    """

    start: float
    length: float
    pitch: int
    velocity: int
    syllable: str = ""


@dataclass
class Part:
    """One instrument or voice; every part belongs to exactly one stem.

    Attributes:
        name: human label ("rhythm guitar", "lead vocal", "drum kit").
        stem: one of STEMS.
        role: what the mixer does with it: "drums", "bass", "chords", "pad", "lead",
            "guitar_distorted", "vocal_lead" or "vocal_double" (doubles/harmonies).
        program: General MIDI program 0-127 (drums: GM drum-kit number, bank 128).
        notes: the notes, in any order.
        voice: vocal parts only: the singer, e.g. "festival:slt" or "espeak:en-us+f3".
    """

    name: str
    stem: str
    role: str
    program: int
    notes: list[Note] = field(default_factory=list)
    voice: str | None = None

    @property
    def is_drums(self) -> bool:
        return self.stem == "drums"


@dataclass(frozen=True)
class Section:
    """A stretch of the song ("intro", "verse", "chorus", "bridge", "outro").

    Attributes:
        start_bar: first bar, counted from 0. bars: length in bars.
        dynamics: 0-1 loudness of the section, scaling velocities.
        vocals: whether anyone sings in it.
    """

    name: str
    start_bar: int
    bars: int
    dynamics: float
    vocals: bool


@dataclass(frozen=True)
class Chord:
    """A chord symbol ("Am7", "G", "E7#9") sounding from `start` for `length` beats."""

    symbol: str
    start: float
    length: float


@dataclass
class Song:
    """A whole song: what the metadata file records and what the renderer plays.

    Attributes:
        title: track name (also the folder name; filesystem-safe).
        genre: one of GENRES.
        tempo: quarter notes per minute.
        key: e.g. "A minor", "Eb major", "E dorian".
        time_signature: (beats per bar, beat unit), e.g. (4, 4), (3, 4), (12, 8).
        beats_per_bar: bar length in quarter-note beats (4 for 4/4, 3 for 3/4, 6 for 12/8).
        swing: 0 (straight) to 1 (full triplet swing) of the off-beat eighths.
        sections, chords, parts: the arrangement.
        seed: the seed that composed it.
    """

    title: str
    genre: str
    tempo: float
    key: str
    time_signature: tuple[int, int]
    beats_per_bar: float
    swing: float
    sections: list[Section]
    chords: list[Chord]
    parts: list[Part]
    seed: int

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def bars(self) -> int:
        return max(s.start_bar + s.bars for s in self.sections)

    @property
    def beats(self) -> float:
        return self.bars * self.beats_per_bar

    def parts_of(self, stem: str) -> list[Part]:
        return [p for p in self.parts if p.stem == stem]

    def summary(self) -> dict:
        """The metadata a person or a loader wants, without the note lists."""
        return {
            "title": self.title,
            "genre": self.genre,
            "tempo": round(self.tempo, 2),
            "key": self.key,
            "time_signature": f"{self.time_signature[0]}/{self.time_signature[1]}",
            "beats_per_bar": self.beats_per_bar,
            "swing": round(self.swing, 3),
            "sections": [asdict(s) for s in self.sections],
            "chord_progression": [c.symbol for c in self.chords],
            "instruments": [
                {"name": p.name, "stem": p.stem, "role": p.role, "program": p.program,
                 "voice": p.voice, "notes": len(p.notes)}
                for p in self.parts
            ],
            "seed": self.seed,
        }  # fmt: skip
