"""Genre styles: every musical choice that makes a synthetic blues sound unlike a synthetic disco.

A genre is data here (meters and tempi, drum grooves and fills, bass lines, progressions, forms,
instruments and how they comp, how the singer phrases); `compose` only interprets it, so the ten
genres share one composer and differ where real genres differ: tempo, groove, harmony and
instrumentation.

Step patterns are strings with one character per grid step of a bar (16ths in 4/4 and 3/4,
eighths in 12/8; a pattern may span several bars). "." is a rest, "-" holds the previous hit,
and what a hit character means depends on the pattern:

- drum lanes, fills and comping rhythms: a velocity level "1"-"9" (see `level_velocity`);
- bass lines: a degree of the chord (see `BassLine`);
- arpeggios: an index into the chord's voicing, "0" the lowest note.

Patterns name the meters they fit: a signature ("4/4") or a style-specific meter name ("trap",
"ballad"); a meter with patterns under its own name uses only those.
"""

from __future__ import annotations

from dataclasses import dataclass

from stemdeck.training.synth.score import GENRES

#: Scale steps (semitones above the tonic) of the modes a key can be in.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}

#: Chord qualities by symbol suffix: semitones above the root, root first, then 3rd, 5th, 7th...
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "5": (0, 7),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14),
    "9": (0, 4, 7, 10, 14),
    "m9": (0, 3, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "7b9": (0, 4, 7, 10, 13),
    "7#9": (0, 4, 7, 10, 15),
    "13": (0, 4, 7, 10, 14, 21),
}

#: General MIDI percussion keys by the lane names the grooves use.
DRUM_KEYS: dict[str, int] = {
    "kick": 36, "rim": 37, "snare": 38, "clap": 39, "floor": 41, "hat": 42, "tom_lo": 45,
    "pedal": 44, "open": 46, "tom_mid": 47, "crash": 49, "tom_hi": 50, "ride": 51, "china": 52,
    "bell": 53, "tamb": 54, "cowbell": 56, "conga_hi": 63, "conga_lo": 64, "bongo": 60,
    "shaker": 70, "clave": 75,
}  # fmt: skip

#: Lanes a drummer keeps when only "time" is wanted (thin intros): cymbals and shakers.
TIME_KEYS = frozenset({42, 44, 46, 51, 53, 54, 70})

#: Rhythm cells a melody is built from, per felt beat: name -> (beats spanned, notes as
#: (onset, length) in quarter-note beats). Simple meters count quarter beats, 12/8 dotted ones.
SIMPLE_CELLS: dict[str, tuple[float, tuple[tuple[float, float], ...]]] = {
    "q": (1, ((0, 1),)),
    "ee": (1, ((0, 0.5), (0.5, 0.5))),
    "_e": (1, ((0.5, 0.5),)),
    "h": (2, ((0, 2),)),
    "q.e": (2, ((0, 1.5), (1.5, 0.5))),
    "sse": (1, ((0, 0.25), (0.25, 0.25), (0.5, 0.5))),
    "ess": (1, ((0, 0.5), (0.5, 0.25), (0.75, 0.25))),
    "ssss": (1, ((0, 0.25), (0.25, 0.25), (0.5, 0.25), (0.75, 0.25))),
    "r": (1, ()),
}
COMPOUND_CELLS: dict[str, tuple[float, tuple[tuple[float, float], ...]]] = {
    "dq": (1.5, ((0, 1.5),)),
    "qe": (1.5, ((0, 1), (1, 0.5))),
    "eee": (1.5, ((0, 0.5), (0.5, 0.5), (1, 0.5))),
    "_ee": (1.5, ((0.5, 0.5), (1, 0.5))),
    "dh": (3, ((0, 3),)),
    "r": (1.5, ()),
}


def level_velocity(level: str) -> float:
    """MIDI velocity of a pattern's level character: "1" a ghost (~32) to "9" an accent (~124)."""
    return 20.0 + 11.5 * int(level)


@dataclass(frozen=True)
class Meter:
    """A time signature as a style plays it: its tempo range and feel.

    Attributes:
        name: what patterns refer to ("4/4", or a feel such as "trap", "ballad").
        signature: (beats per bar, beat unit).
        tempo: quarter notes per minute, low to high (12/8 counts quarters too: 90 is a
            dotted-quarter pulse of 60).
        weight: how often the style uses it.
        swing: range of the swing amount (0 straight, 1 full triplet).
        swing_unit: the swung subdivision in beats: 0.5 (8ths) or 0.25 (16ths).
        kits, bass_programs: (GM number, weight) overriding the style's for this feel.
    """

    name: str
    signature: tuple[int, int]
    tempo: tuple[float, float]
    weight: float = 1.0
    swing: tuple[float, float] = (0.0, 0.0)
    swing_unit: float = 0.5
    kits: tuple[tuple[int, float], ...] = ()
    bass_programs: tuple[tuple[int, float], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.signature[0]}/{self.signature[1]}"

    @property
    def beats_per_bar(self) -> float:
        return self.signature[0] * 4 / self.signature[1]

    @property
    def steps(self) -> int:
        """Grid steps per bar: 16ths in x/4, eighths in x/8."""
        return self.signature[0] * (4 if self.signature[1] == 4 else 1)

    @property
    def step_beats(self) -> float:
        return self.beats_per_bar / self.steps

    @property
    def felt_beat(self) -> float:
        """The counted pulse in quarter beats: 1, or 1.5 (a dotted quarter) in compound time."""
        return 1.5 if self.signature[1] == 8 else 1.0


@dataclass(frozen=True)
class Groove:
    """One bar (or more) of a drum beat: (GM key, step pattern) lanes."""

    name: str
    lanes: tuple[tuple[int, str], ...]
    meters: tuple[str, ...] = ("4/4",)
    tempo: tuple[float, float] = (0.0, 999.0)


@dataclass(frozen=True)
class Fill:
    """Drum hits replacing the end of a bar: lanes as in `Groove`, aligned to the bar's end.

    `step_beats` overrides the meter's grid (e.g. 32nd-note hat rolls); a fill with no lanes is
    a stop (everything drops out).
    """

    lanes: tuple[tuple[int, str], ...]
    meters: tuple[str, ...] = ("4/4",)
    step_beats: float | None = None


@dataclass(frozen=True)
class BassLine:
    """A bass pattern; hit codes are degrees of the chord sounding at the hit.

    Codes: R root (the bass note of an inversion), O octave, 5 fifth, F fifth below, 3 third,
    6 sixth, 7 seventh (b7 on triads), 2 ninth, 4 fourth, A chromatic approach to the next
    chord's root. Two whole-pattern specials: "walk" (a walking line, four to the bar) and
    "kick" (an 808 line on the kick drum's hits, held to the next one).
    """

    pattern: str
    meters: tuple[str, ...] = ("4/4",)
    tempo: tuple[float, float] = (0.0, 999.0)


@dataclass(frozen=True)
class Rhythm:
    """A comping rhythm (velocity levels) or arpeggio (voicing indices) for a chord part."""

    pattern: str
    meters: tuple[str, ...] = ("4/4",)


@dataclass(frozen=True)
class Instrument:
    """An "other" part a style can use.

    Attributes:
        name: the part's label. role: "chords", "pad", "lead" or "guitar_distorted".
        programs: GM programs to choose from (29/30 always play as "guitar_distorted").
        texture: how it plays chords: "block" (sustained), "strum" (staggered strings, down
            and up strokes), "stab" (short hits), "arp" (broken chords), "power" (power
            chords), or "lead" (a melody line: the tune in instrumentals, solos elsewhere).
        voicing: "close", "shell" (rootless 3rd/7th/9th), "open", "power" or "guitar".
        register: lowest and highest MIDI pitch it plays.
        rhythms: patterns to choose from (one per section, or per bar when `vary`).
        vary: change rhythm every bar (jazz comping) rather than every section.
    """

    name: str
    role: str
    programs: tuple[int, ...]
    texture: str
    voicing: str = "close"
    register: tuple[int, int] = (52, 79)
    rhythms: tuple[Rhythm, ...] = ()
    vary: bool = False


@dataclass(frozen=True)
class Progression:
    """Chords per bar in Roman numerals relative to the tonic, bars split by "|".

    Numerals are chromatic (bIII, bVI, bVII for minor keys); case gives major/minor, a suffix
    a quality from QUALITIES ("V7", "ii7" = minor 7th, "iio" dim, "viio7" dim7, "i5" power), and
    "/3", "/5" or "/7" an inversion. Two chords in a bar split it evenly.
    """

    chords: str
    modes: tuple[str, ...]
    sections: tuple[str, ...] = ("verse", "chorus", "bridge")

    @property
    def bars(self) -> int:
        return self.chords.count("|") + 1


@dataclass(frozen=True)
class Singing:
    """How the style's melodies move.

    Attributes:
        cells: (rhythm cell name, weight) from SIMPLE_CELLS/COMPOUND_CELLS for sung lines.
        solo_cells: the same for instrumental leads and solos.
        span: semitones a sung line ranges over (rap-like hip-hop stays narrow).
        phrase_seconds: about how long one sung line lasts.
        blue_notes: semitones above the tonic added to the melody's notes (blues b3, b7).
    """

    cells: tuple[tuple[str, float], ...]
    solo_cells: tuple[tuple[str, float], ...] = (("ee", 3), ("q", 2), ("_e", 1), ("h", 0.5))
    span: int = 12
    phrase_seconds: float = 4.0
    blue_notes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Style:
    """Everything `compose` needs to know about one genre.

    Attributes:
        meters: the meters and tempi it plays in.
        modes: (mode, weight) of its keys.
        forms: (section plan, weight); a plan reads "intro:4 verse:8 chorus:8 outro:4".
        progressions: chord progressions, each tagged with modes and section kinds.
        kits: (GM drum kit, weight); empty means the style has no drums.
        grooves, fills: drum patterns. crash: chance of a crash on a new section.
        bass_programs: (GM program, weight). bass_lines: bass patterns. bass_floor: lowest
            root the bass plays (28 = E1).
        instruments: the "other" parts it can use; arrangements: (names, weight) of the
            1-3 parts a song uses; leads: instruments that carry the tune of instrumentals.
        singing: melody rules. no_vocals: chance that a song is instrumental.
        words: nouns its lyrics like to use, syllables joined by "-" ("mid-night").
    """

    genre: str
    meters: tuple[Meter, ...]
    modes: tuple[tuple[str, float], ...]
    forms: tuple[tuple[str, float], ...]
    progressions: tuple[Progression, ...]
    kits: tuple[tuple[int, float], ...]
    grooves: tuple[Groove, ...]
    fills: tuple[Fill, ...]
    bass_programs: tuple[tuple[int, float], ...]
    bass_lines: tuple[BassLine, ...]
    instruments: tuple[Instrument, ...]
    arrangements: tuple[tuple[tuple[str, ...], float], ...]
    leads: tuple[str, ...]
    singing: Singing
    no_vocals: float
    words: tuple[str, ...]
    crash: float = 0.7
    bass_floor: int = 28

    def instrument(self, name: str) -> Instrument:
        for instrument in self.instruments:
            if instrument.name == name:
                return instrument
        raise KeyError(f"{self.genre} has no instrument {name!r}")


def groove(name: str, meters: tuple[str, ...] = ("4/4",), tempo=(0.0, 999.0), **lanes: str):
    """A Groove from lane-name keywords (kick="9...", snare="....9...")."""
    return Groove(name, tuple((DRUM_KEYS[k], v) for k, v in lanes.items()), meters, tempo)


def fill(meters: tuple[str, ...] = ("4/4",), step: float | None = None, **lanes: str) -> Fill:
    """A Fill from lane-name keywords."""
    return Fill(tuple((DRUM_KEYS[k], v) for k, v in lanes.items()), meters, step)


def _bass(*patterns: str, meters: tuple[str, ...] = ("4/4",), tempo=(0.0, 999.0)):
    return tuple(BassLine(p, meters, tempo) for p in patterns)


def _rh(*patterns: str, meters: tuple[str, ...] = ("4/4",)) -> tuple[Rhythm, ...]:
    return tuple(Rhythm(p, meters) for p in patterns)


def _prog(modes: str, *bars: str, sections=("verse", "chorus", "bridge")):
    return tuple(Progression(b, tuple(modes.split()), sections) for b in bars)


# ---------------------------------------------------------------------------------------------
# The tables below are laid out by hand so that drum lanes line up step for step.
# fmt: off

WHOLE = _rh("9---------------") + _rh("9-----------", meters=("3/4", "12/8"))
HALVES = _rh("9-------7-------") + _rh("9-----7-----", meters=("12/8",))
STRUMS = (
    _rh("9---7-5---5-7-5-", "9---7---7-5-7-5-", "9-5-7-5-9-5-7-5-")
    + _rh("9---7---7---", "9---7-5-7-5-", meters=("3/4",))
    + _rh("9-57-57-57-5", "9--7--9--7--", meters=("12/8",))
)
_LYRIC_POP = ("heart", "love", "night", "light", "dream", "star", "sky", "fire", "home", "song",
              "sun-shine", "rain-bow")

BLUES = Style(
    genre="blues",
    meters=(
        Meter("4/4", (4, 4), (78.0, 132.0), 0.6, swing=(0.6, 0.9)),
        Meter("12/8", (12, 8), (72.0, 108.0), 0.4),
    ),
    modes=(("major", 0.7), ("minor", 0.3)),
    forms=(
        ("intro:4 verse:12 verse:12 bridge:12 verse:12 outro:4", 2.0),
        ("intro:2 verse:12 verse:12 verse:12 bridge:12 bridge:12 verse:12 outro:2", 1.0),
    ),
    progressions=(
        _prog("major",
              "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
              "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 IV7 | I7 V7",
              "I7 | I7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
              "I9 | IV9 | I9 | I9 | IV9 | IV9 | I9 | I9 | V9 | IV9 | I9 | V7#9")
        + _prog("minor",
                "i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | V7",
                "i7 | i7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | i7",
                "i9 | iv9 | i9 | i9 | iv9 | iv9 | i9 | i9 | bVI7 | V7#9 | i9 | V7")
    ),
    kits=((0, 0.4), (8, 0.35), (32, 0.25)),
    grooves=(
        groove("shuffle", kick="9.......9.......", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("texas shuffle", kick="9.....5.9.....5.", snare="..3.9.3...3.9.3.",
               ride="7.5.7.5.7.5.7.5."),
        groove("shuffle ride", kick="9.......9...5...", snare="....9.......9...",
               ride="7.5.7.5.7.5.7.5.", pedal="....5.......5..."),
        groove("slow blues", ("12/8",), kick="9.....9.7...", snare="...9.....9..",
               hat="755755755755"),
        groove("slow blues ride", ("12/8",), kick="9.....9.....", snare="...9..3..9.3",
               ride="755755755755"),
    ),
    fills=(
        fill(snare="..7.9.9."),
        fill(snare="5.7.", tom_lo="..9."),
        fill(snare="7.7.....", tom_hi="....7.7.", kick="9......."),
        fill(("12/8",), snare="799"),
        fill(("12/8",), snare="799...", tom_hi="...77.", floor=".....9"),
        fill(("12/8",), snare="577...", tom_mid="...777"),
    ),
    bass_programs=((33, 0.5), (32, 0.3), (34, 0.2)),
    bass_lines=(
        _bass("walk", "R-R-3-3-5-5-6-6-", "R-3-5-6-7-6-5-3-", "R-R-3-3-5-5-6-5-")
        + _bass("R-R3-35-56-6", "R--3--5--6--", "R-RR-R5-57-6", meters=("12/8",))
    ),
    instruments=(
        Instrument("piano", "chords", (0, 3), "stab", "close", (52, 76),
                   _rh("..7...7...7...7.", "7-5-7-5-7-5-7-5-", "9-....7...7.....")
                   + _rh("..7..7..7..7", "7-57-57-57-5", meters=("12/8",))),
        Instrument("organ", "pad", (16, 17), "block", "close", (48, 72), WHOLE + HALVES),
        Instrument("rhythm guitar", "chords", (27, 26), "strum", "guitar", (40, 72),
                   _rh("....7-......7-..", "9-5-9-5-9-5-9-5-")
                   + _rh("...7-....7-.", "9-57-59-57-5", meters=("12/8",))),
        Instrument("horns", "chords", (61,), "stab", "close", (55, 79),
                   _rh("9-.............7", "....9-......9-..")
                   + _rh("9-.......7-.", meters=("12/8",))),
        Instrument("lead guitar", "lead", (27, 29, 26), "lead", register=(52, 84)),
        Instrument("harmonica", "lead", (22,), "lead", register=(60, 84)),
        Instrument("sax", "lead", (66, 65), "lead", register=(49, 80)),
    ),
    arrangements=(
        (("rhythm guitar", "piano"), 2.0),
        (("piano", "organ"), 1.0),
        (("rhythm guitar", "organ"), 1.5),
        (("piano",), 1.0),
        (("rhythm guitar", "horns", "organ"), 0.7),
    ),
    leads=("lead guitar", "harmonica", "sax"),
    singing=Singing(
        cells=(("q", 3), ("ee", 2.5), ("_e", 2), ("h", 2), ("r", 0.5),
               ("qe", 4), ("dq", 2), ("eee", 1.5), ("_ee", 1.5), ("dh", 1)),
        solo_cells=(("ee", 3), ("q", 2), ("_e", 2), ("sse", 1), ("h", 0.5),
                    ("eee", 3), ("qe", 2), ("_ee", 1), ("dq", 0.5)),
        span=12, phrase_seconds=4.0, blue_notes=(3, 10),
    ),
    no_vocals=0.08,
    words=("blues", "train", "road", "rain", "town", "lord", "shoes", "mid-night", "cross-road",
           "down-town"),
    crash=0.5,
)

CLASSICAL = Style(
    genre="classical",
    meters=(
        Meter("4/4", (4, 4), (60.0, 132.0), 0.6),
        Meter("3/4", (3, 4), (84.0, 168.0), 0.4),
    ),
    modes=(("major", 0.55), ("minor", 0.45)),
    forms=(
        ("intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:8 verse:8 outro:4", 2.0),
        ("intro:2 verse:8 verse:8 bridge:8 verse:8 chorus:8 outro:4", 1.0),
    ),
    progressions=(
        _prog("major", "I | IV | V7 | I", "I | vi | ii/3 | V7", "I | II7/3 | V | V7",
              "I | V/3 | vi | iii | IV | I/3 | ii | V",
              "I | IV/5 | V7 | I | vi | ii/3 | I/5 V7 | I",
              "I | I/3 | IV | V7 | vi | IV | ii/3 | V")
        + _prog("minor", "i | iv | V7 | i", "i | bVI | iv | V", "i | iio/3 | V7 | i",
                "i | bVII | bVI | V", "i | iv/3 | i/5 V7 | i",
                "i | bIII | iv | V7 | bVI | iv | V7 | i")
    ),
    kits=(),
    grooves=(),
    fills=(),
    bass_programs=((43, 0.6), (42, 0.4)),
    bass_lines=(
        _bass("R-------R-------", "R---R---R---R---", "R---5---R---5---", "R---------------",
              "R-------5-------")
        + _bass("R-----------", "R---5---5---", "R---R---R---", meters=("3/4",))
    ),
    instruments=(
        Instrument("strings", "pad", (48, 49), "block", "open", (43, 81), WHOLE + HALVES),
        Instrument("piano", "chords", (0,), "arp", "open", (40, 84),
                   _rh("0-3-2-3-0-3-2-3-", "0-1-2-3-2-1-2-1-", "0123212301232123")
                   + _rh("0-2-3-2-3-2-", "0-1-2-3-2-1-", meters=("3/4",))),
        Instrument("harp", "chords", (46,), "arp", "open", (43, 91),
                   _rh("0-1-2-3-4-3-2-1-", "0123432101234321")
                   + _rh("0-1-2-3-4-3-", meters=("3/4",))),
        Instrument("harpsichord", "chords", (6,), "arp", "open", (48, 84),
                   _rh("0-2-1-2-3-2-1-2-", "0123012301230123")
                   + _rh("0-2-1-2-3-2-", meters=("3/4",))),
        Instrument("pizzicato", "chords", (45,), "stab", "close", (43, 72),
                   _rh("9...7...7...7...", "9.......7.......")
                   + _rh("....7...7...", "9...7...7...", meters=("3/4",))),
        Instrument("horns", "pad", (60,), "block", "close", (48, 72), WHOLE + HALVES),
        Instrument("tremolo strings", "pad", (44,), "block", "open", (48, 84), WHOLE),
        Instrument("violin", "lead", (40,), "lead", register=(62, 91)),
        Instrument("flute", "lead", (73,), "lead", register=(62, 93)),
        Instrument("oboe", "lead", (68,), "lead", register=(60, 86)),
        Instrument("clarinet", "lead", (71,), "lead", register=(52, 84)),
    ),
    arrangements=(
        (("strings",), 1.0),
        (("piano",), 1.5),
        (("strings", "harp"), 1.0),
        (("pizzicato", "horns"), 0.7),
        (("harpsichord",), 0.7),
        (("piano", "strings"), 1.0),
        (("strings", "pizzicato", "horns"), 0.7),
        (("tremolo strings", "harp"), 0.5),
    ),
    leads=("violin", "flute", "oboe", "clarinet"),
    singing=Singing(
        cells=(("q", 3), ("h", 3), ("ee", 2), ("q.e", 1.5)),
        solo_cells=(("ee", 3), ("q", 3), ("h", 1.5), ("q.e", 1), ("ssss", 0.7)),
        span=14, phrase_seconds=5.0,
    ),
    no_vocals=0.65,
    words=("moon", "sea", "rose", "sun", "bird", "dream", "light", "heart", "star", "spring"),
    bass_floor=31,
)

COUNTRY = Style(
    genre="country",
    meters=(
        Meter("4/4", (4, 4), (88.0, 160.0), 0.75, swing=(0.0, 0.3)),
        Meter("3/4", (3, 4), (90.0, 150.0), 0.25),
    ),
    modes=(("major", 0.85), ("mixolydian", 0.15)),
    forms=(
        ("intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:8 chorus:8 outro:4", 2.0),
        ("intro:4 verse:16 chorus:8 verse:16 chorus:8 outro:4", 1.0),
    ),
    progressions=(
        _prog("major", "I | IV | V | I", "I | I | IV | IV | V | V | I | I", "I | IV | I | V7",
              "I | V | vi | IV", "I | IV | I/3 | V", "I | ii | V7 | I", "IV | I | V | I")
        + _prog("mixolydian", "I | bVII | IV | I", "I | I | bVII | IV", "I | bVII | I | V")
    ),
    kits=((0, 0.4), (8, 0.35), (40, 0.25)),
    grooves=(
        groove("two-step", kick="9.......9.......", rim="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("train beat", kick="9.......9.......", snare="3333933333339333"),
        groove("country rock", kick="9.....7.9.......", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5.", tamb="....7.......7..."),
        groove("shuffle", kick="9.......9.......", snare="....9.......9...",
               ride="7.5.7.5.7.5.7.5."),
        groove("waltz", ("3/4",), kick="9...........", rim="....7...7...",
               hat="5.3.5.3.5.3."),
        groove("waltz brush", ("3/4",), kick="9...........", snare="5.3.7.3.7.3.",
               pedal="....5...5..."),
    ),
    fills=(
        fill(snare="5779"),
        fill(snare="7.7.....", tom_hi="....7...", floor="......9."),
        fill(snare="..5.7.7.", kick="9......."),
        fill(("3/4",), snare="5779"),
        fill(("3/4",), snare="7.7.....", tom_lo="....9.9."),
    ),
    bass_programs=((33, 0.5), (34, 0.3), (32, 0.2)),
    bass_lines=(
        _bass("R-------F-------", "R---F---R---F---", "R---F---R---3---", "R---F---R---A---")
        + _bass("R-----------F-----------", "R-------5---", meters=("3/4",))
    ),
    instruments=(
        Instrument("acoustic guitar", "chords", (25,), "strum", "guitar", (40, 76),
                   STRUMS + _rh("....7-......7-..")),
        Instrument("electric guitar", "chords", (27, 26), "arp", "guitar", (45, 79),
                   _rh("0-3-2-3-1-3-2-3-", "0-4-2-3-1-4-2-3-")
                   + _rh("0-3-4-3-2-3-", meters=("3/4",))),
        Instrument("banjo", "chords", (105,), "arp", "open", (55, 79),
                   _rh("0241024102410241", "0-2-4-0-2-4-0-4-")
                   + _rh("024102410241", meters=("3/4",))),
        Instrument("piano", "chords", (3, 0), "stab", "close", (52, 79),
                   _rh("..7...7...7...7.", "....7-......7-..")
                   + _rh("....7-..7-..", meters=("3/4",))),
        Instrument("fiddle", "lead", (110, 40), "lead", register=(62, 88)),
        Instrument("harmonica", "lead", (22,), "lead", register=(60, 84)),
        Instrument("lead guitar", "lead", (27, 25), "lead", register=(52, 84)),
    ),
    arrangements=(
        (("acoustic guitar", "electric guitar"), 2.0),
        (("acoustic guitar", "piano"), 1.5),
        (("acoustic guitar", "banjo"), 1.0),
        (("acoustic guitar",), 1.0),
        (("electric guitar", "piano"), 1.0),
        (("acoustic guitar", "electric guitar", "piano"), 0.7),
    ),
    leads=("fiddle", "harmonica", "lead guitar"),
    singing=Singing(
        cells=(("q", 3), ("ee", 4), ("h", 1.5), ("_e", 1), ("q.e", 1)),
        solo_cells=(("ee", 4), ("q", 2), ("sse", 1), ("_e", 1)),
        span=12, phrase_seconds=4.0,
    ),
    no_vocals=0.08,
    words=("road", "truck", "home", "town", "porch", "sun", "girl", "field", "high-way", "sun-down",
           "home-town", "rail-road"),
)

DISCO = Style(
    genre="disco",
    meters=(Meter("4/4", (4, 4), (110.0, 132.0), 1.0, swing=(0.0, 0.1)),),
    modes=(("minor", 0.4), ("dorian", 0.35), ("major", 0.25)),
    forms=(
        ("intro:8 verse:16 chorus:16 bridge:8 verse:16 chorus:16 outro:8", 1.0),
        ("intro:8 verse:8 chorus:8 verse:8 chorus:8 bridge:16 chorus:16 outro:8", 1.0),
    ),
    progressions=(
        _prog("minor", "i7 | iv7 | i7 | iv7", "i7 | i7 | bVImaj7 | bVII",
              "i7 | iv7 | bVII7 | bIIImaj7", "i9 | bVII | bVImaj7 | V7")
        + _prog("dorian", "i7 | IV7", "i9 | IV9", "i7 | i7 | IV9 | IV9")
        + _prog("major", "Imaj7 | ii7 | iii7 | ii7", "IVmaj7 | iii7 | ii7 | Imaj7",
                "ii7 | V9 | Imaj7 | vi7", "Imaj7 | vi7 | ii7 | V7")
    ),
    kits=((0, 0.4), (8, 0.3), (24, 0.3)),
    grooves=(
        groove("four on the floor", kick="9...9...9...9...", snare="....9.......9...",
               open="..7...7...7...7.", hat="5...5...5...5..."),
        groove("sixteenth hats", kick="9...9...9...9...", clap="....9.......9...",
               hat="75.575.575.575.5", open="..7...7...7...7."),
        groove("tambourine", kick="9...9...9...9...", snare="....9.......9...",
               tamb="5757575757575757", open="..7...7...7...7."),
        groove("cowbell", kick="9...9...9...9...", clap="....9.......9...",
               open="..7...7...7...7.", cowbell="7...7.5.7...7.5."),
        groove("congas", kick="9...9...9...9...", snare="....9.......9...",
               hat="5.7.5.7.5.7.5.7.", conga_hi="..7..5..7.7..5..", conga_lo="7.....7.....7..."),
    ),
    fills=(
        fill(snare="5577"),
        fill(snare="55775577"),
        fill(tom_hi="99..", tom_mid="..99"),
        fill(tom_hi="7.7.....", tom_mid="....7.7.", kick="9...9..."),
        fill(open="9.9.9.9.", kick="9...9..."),
    ),
    bass_programs=((33, 0.4), (36, 0.15), (37, 0.1), (38, 0.35)),
    bass_lines=_bass("R-O-R-O-R-O-R-O-", "R.O.R.O.R.O.R.O.", "ROR.O.R.ROR.O.5.",
                     "R-O-R-O-R-O-5-O-", "R.ORR.OR.RO.R.O7"),
    instruments=(
        Instrument("strings", "pad", (48, 49, 50), "block", "open", (55, 88), WHOLE + HALVES),
        Instrument("brass", "chords", (61, 62), "stab", "close", (55, 79),
                   _rh("....9-......9-..", "9-....7.9-....7.", "..7...7...7...7.")),
        Instrument("funk guitar", "chords", (28, 27), "stab", "close", (57, 79),
                   _rh("..7.5.7...7.5.7.", "5757575757575757", "..7...7...7.7.7.")),
        Instrument("electric piano", "chords", (4, 5), "stab", "close", (52, 76),
                   _rh("9-.7..7.9-.7..7.", "..7-..7-..7-..7-")),
        Instrument("clavinet", "chords", (7,), "stab", "close", (52, 76),
                   _rh("9.7..7.79.7..7.7", "7.5.7.5.7.5.7.5.")),
        Instrument("sax", "lead", (65, 66), "lead", register=(52, 84)),
        Instrument("synth lead", "lead", (81, 80), "lead", register=(60, 88)),
    ),
    arrangements=(
        (("strings", "funk guitar"), 2.0),
        (("strings", "brass", "funk guitar"), 1.5),
        (("electric piano", "strings"), 1.5),
        (("clavinet", "strings"), 1.0),
        (("funk guitar", "brass"), 1.0),
        (("electric piano", "funk guitar", "strings"), 1.0),
    ),
    leads=("sax", "synth lead"),
    singing=Singing(
        cells=(("ee", 3), ("q", 3), ("_e", 2), ("h", 1.5), ("sse", 0.5)),
        solo_cells=(("ee", 3), ("sse", 1.5), ("q", 2), ("_e", 1)),
        span=12, phrase_seconds=3.5,
    ),
    no_vocals=0.08,
    words=("dance", "floor", "night", "groove", "light", "beat", "star", "love", "mid-night",
           "star-light"),
    crash=0.8,
)

HIPHOP = Style(
    genre="hiphop",
    meters=(
        Meter("4/4", (4, 4), (82.0, 100.0), 0.7, swing=(0.3, 0.7), swing_unit=0.25),
        Meter("trap", (4, 4), (130.0, 150.0), 0.3, swing=(0.0, 0.15), swing_unit=0.25,
              kits=((25, 1.0),), bass_programs=((38, 0.5), (39, 0.5))),
    ),
    modes=(("minor", 0.6), ("dorian", 0.25), ("phrygian", 0.15)),
    forms=(
        ("intro:4 verse:16 chorus:8 verse:16 chorus:8 outro:4", 2.0),
        ("intro:8 verse:16 chorus:8 verse:16 chorus:8 bridge:8 chorus:8 outro:4", 1.0),
    ),
    progressions=(
        _prog("minor", "i7 | i7 | bVImaj7 | bVImaj7", "i9 | iv9", "i | bVI | bIII | bVII",
              "i7 | bVII | bVImaj7 | v7", "i7 | iv7 | i7 | V7#9")
        + _prog("dorian", "i7 | IV9", "i9 | i9 | IV7 | IV7", "i7 | ii7 | i7 | IV9")
        + _prog("phrygian", "i | bII | i | bII", "i | bIImaj7 | bVII | i")
    ),
    kits=((0, 0.35), (8, 0.3), (24, 0.2), (25, 0.15)),
    grooves=(
        groove("boom bap", kick="9......7.79.....", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("boom bap ghost", kick="9.7.......9..7..", snare="....9.......9..3",
               hat="7535753575357535"),
        groove("boom bap open", kick="9......9..9.....", snare="....9.......9...",
               hat="7.5.7.5.7.5.7...", open="..............7."),
        groove("laid back", kick="9.....9...7.....", clap="....9.......9...",
               snare="....5.......5...", ride="7.5.7.5.7.5.7.5."),
        groove("trap", ("trap",), kick="9......7..9.....", clap="........9.......",
               hat="7575757575757575"),
        groove("trap sparse", ("trap",), kick="9.....9.......7.", clap="........9.......",
               snare="........7.......", hat="7.5.7.5.7575757."),
        groove("trap bounce", ("trap",), kick="9..9......9..7..", clap="........9.......",
               hat="7.5.7.5.7.5.7.5.", open="......7........."),
    ),
    fills=(
        fill(),
        fill(snare="..9."),
        fill(snare="..5.7.9."),
        fill(kick="9.9.", snare="..9."),
        fill(("trap",), step=0.125, hat="5656789."),
        fill(("trap",), step=0.125, hat="3456789.", snare="......9."),
        fill(("trap",)),
        fill(("trap",), clap="..7.9..."),
    ),
    bass_programs=((33, 0.3), (38, 0.35), (39, 0.35)),
    bass_lines=(
        _bass("kick", "R-----R-..R-----", "R-------R---..5-")
        + _bass("kick", "R-------------..", meters=("trap",))
    ),
    instruments=(
        Instrument("rhodes", "chords", (4,), "block", "close", (52, 76),
                   _rh("9-------------..", "9-----7-------..", "9-------7-------")),
        Instrument("piano sample", "chords", (0, 1), "stab", "close", (55, 79),
                   _rh("9-....7-..7-....", "9--.....9--.....", "9-..7-....7-..7-")),
        Instrument("strings", "pad", (48, 49), "block", "open", (48, 84), WHOLE),
        Instrument("synth pad", "pad", (89, 90, 88), "block", "open", (48, 79), WHOLE),
        Instrument("bells", "chords", (10, 9, 8, 11), "arp", "open", (64, 93),
                   _rh("0-..2-..1-..2-..", "0-2-1-3-0-2-1-3-", "0..20..21..32...")),
        Instrument("flute", "lead", (73,), "lead", register=(67, 93)),
        Instrument("synth lead", "lead", (80, 81), "lead", register=(60, 88)),
    ),
    arrangements=(
        (("rhodes",), 1.5),
        (("rhodes", "strings"), 1.5),
        (("piano sample", "synth pad"), 1.0),
        (("bells", "synth pad"), 1.5),
        (("piano sample",), 1.0),
        (("rhodes", "bells"), 1.0),
    ),
    leads=("flute", "synth lead"),
    singing=Singing(
        cells=(("ee", 4), ("sse", 1.5), ("ess", 1.5), ("ssss", 0.5), ("_e", 1.5), ("q", 1)),
        solo_cells=(("ee", 2), ("q", 2), ("h", 1), ("_e", 1)),
        span=6, phrase_seconds=3.0,
    ),
    no_vocals=0.1,
    words=("street", "block", "crown", "dream", "game", "flow", "night", "gold", "cash", "crew",
           "down-town"),
    crash=0.4,
)

JAZZ = Style(
    genre="jazz",
    meters=(
        Meter("4/4", (4, 4), (110.0, 210.0), 0.7, swing=(0.55, 0.85)),
        Meter("3/4", (3, 4), (120.0, 180.0), 0.15, swing=(0.5, 0.7)),
        Meter("ballad", (4, 4), (58.0, 84.0), 0.15, swing=(0.6, 0.8), kits=((40, 1.0),)),
    ),
    modes=(("major", 0.55), ("minor", 0.25), ("dorian", 0.2)),
    forms=(
        ("intro:4 verse:8 verse:8 chorus:8 verse:8 bridge:32 verse:8 outro:4", 2.0),
        ("intro:4 verse:12 verse:12 bridge:12 bridge:12 verse:12 outro:4", 1.0),
    ),
    progressions=(
        _prog("major",
              "ii7 | V7 | Imaj7 | Imaj7",
              "ii7 V7 | Imaj7 vi7 | ii7 V7 | Imaj7",
              "Imaj7 vi7 | ii7 V7 | iii7 VI7 | ii7 V7",
              "iii7 | VI7 | ii7 | V7",
              "Imaj7 | #ivm7b5 VII7 | iii7 VI7 | ii7 V7",
              "ii7 | bII7 | Imaj9 | VI7b9",
              "Imaj7 | IV7 | iii7 VI7 | ii7 V7 | Imaj7 | I7 | IVmaj7 | ii7 V7",
              "I7 | IV7 | I7 | v7 I7 | IV7 | #ivo7 | I7 | VI7 | ii7 | V7 | I7 VI7 | ii7 V7")
        + _prog("minor",
                "iim7b5 | V7b9 | i7 | i7",
                "iim7b5 V7 | i6 | iim7b5 V7 | i6",
                "i7 | iv7 | bVII7 | bIIImaj7",
                "i7 | i7 | iim7b5 | V7b9",
                "i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | V7")
        + _prog("dorian", "i7 | i7 | i7 | i7 | bii7 | bii7 | i7 | i7", "i7 | IV7 | i7 | IV7",
                "i9 | i9 | IV13 | IV13")
    ),
    kits=((32, 0.6), (40, 0.4)),
    grooves=(
        groove("swing ride", ("4/4", "ballad"), ride="7...9.5.7...9.5.", pedal="....7.......7...",
               kick="2...2...2...2...", snare="..........3....."),
        groove("swing comp", ride="7...9.5.7...9.5.", pedal="....7.......7...",
               kick="2.......2.......", snare="......3.....3.3."),
        groove("brushes", ("4/4", "ballad"), snare="5.3.5.3.5.3.5.3.",
               ride="5...7.3.5...7.3.", pedal="....5.......5..."),
        groove("waltz ride", ("3/4",), ride="7...9.5.9.5.", pedal="....7...7...",
               kick="3...........", snare="......3....."),
        groove("waltz brushes", ("3/4",), snare="5.3.5.3.5.3.", pedal="....5...5...",
               ride="5...7.3.7.3."),
    ),
    fills=(
        fill(snare=".5.7"),
        fill(snare="7.7.", kick="..9."),
        fill(snare="5.5.7...", tom_lo="......9."),
        fill(snare="3.5.7.9."),
        fill(("3/4",), snare=".5.7"),
        fill(("3/4",), snare="5.7.", kick="...9"),
    ),
    bass_programs=((32, 0.8), (35, 0.2)),
    bass_lines=(
        _bass("walk")
        + _bass("R-------5-------", "walk", meters=("ballad",))
        + _bass("walk", "R-------5---", meters=("3/4",))
    ),
    instruments=(
        Instrument("piano", "chords", (0,), "stab", "shell", (50, 74),
                   _rh("9-....7-........", "....7-....7-....", "..7-....7-..5-..",
                       "7-....7-....7-..", "9-----....5-....", "......7-..7-....")
                   + _rh("9-....7-....", "....7-..7-..", "..7-....7-..", meters=("3/4",)),
                   vary=True),
        Instrument("guitar", "chords", (26,), "stab", "shell", (48, 67),
                   _rh("7--.5--.7--.5--.") + _rh("7--.5--.5--.", meters=("3/4",))),
        Instrument("vibraphone", "chords", (11,), "block", "shell", (53, 79),
                   _rh("9-----..7-----..", "9-------7-------", "..7-......7-....")
                   + _rh("9-----7-----", meters=("3/4",)), vary=True),
        Instrument("organ", "pad", (16,), "block", "shell", (48, 76), WHOLE + HALVES),
        Instrument("tenor sax", "lead", (66,), "lead", register=(46, 77)),
        Instrument("alto sax", "lead", (65,), "lead", register=(51, 82)),
        Instrument("trumpet", "lead", (56, 59), "lead", register=(55, 84)),
        Instrument("trombone", "lead", (57,), "lead", register=(43, 72)),
        Instrument("clarinet", "lead", (71,), "lead", register=(52, 86)),
    ),
    arrangements=(
        (("piano",), 2.0),
        (("piano", "guitar"), 1.0),
        (("guitar",), 0.5),
        (("organ",), 0.6),
        (("piano", "vibraphone"), 0.7),
        (("guitar", "organ"), 0.4),
    ),
    leads=("tenor sax", "alto sax", "trumpet", "trombone", "clarinet"),
    singing=Singing(
        cells=(("q", 3), ("ee", 3), ("_e", 2), ("h", 2), ("q.e", 1.5), ("r", 0.3)),
        solo_cells=(("ee", 6), ("_e", 1.5), ("q", 1), ("sse", 0.7), ("ess", 0.7)),
        span=13, phrase_seconds=4.0,
    ),
    no_vocals=0.15,
    words=("moon", "dream", "night", "rain", "heart", "star", "song", "kiss", "moon-light",
           "some-day"),
    crash=0.25,
)

METAL = Style(
    genre="metal",
    meters=(Meter("4/4", (4, 4), (96.0, 196.0), 1.0),),
    modes=(("minor", 0.6), ("phrygian", 0.4)),
    forms=(
        ("intro:8 verse:16 chorus:8 verse:16 chorus:8 bridge:16 chorus:8 outro:8", 2.0),
        ("intro:4 verse:8 verse:8 chorus:8 verse:8 chorus:8 bridge:8 chorus:16 outro:4", 1.0),
    ),
    progressions=(
        _prog("minor", "i5 | i5 | bVI5 | bVII5", "i5 | bVI5 | bIII5 | bVII5",
              "i5 | iv5 | bVI5 bVII5 | i5", "i5 | bVII5 | bVI5 | V5", "i5 bVI5 | bVII5 i5")
        + _prog("phrygian", "i5 | bII5 | i5 | bII5", "i5 bII5 | i5 bVII5 | i5 bII5 | bIII5 bII5",
                "i5 | i5 | bII5 | bVII5")
    ),
    kits=((16, 0.5), (0, 0.3), (8, 0.2)),
    grooves=(
        groove("double kick", kick="9797979797979797", snare="....9.......9...",
               ride="7...7...7...7..."),
        groove("thrash", tempo=(140.0, 999.0), kick="9...9...9...9...",
               snare="..9...9...9...9.", crash="7...7...7...7..."),
        groove("blast", tempo=(150.0, 999.0), kick="9.9.9.9.9.9.9.9.",
               snare=".9.9.9.9.9.9.9.9", crash="7.......7......."),
        groove("half-time", kick="9.9.....9.9..9..", snare="........9.......",
               china="7...7...7...7..."),
        groove("gallop", kick="9.999.999.999.99", snare="....9.......9...",
               ride="7.5.7.5.7.5.7.5."),
        groove("heavy backbeat", kick="99....9.99....9.", snare="....9.......9...",
               hat="7.7.7.7.7.7.7.7."),
    ),
    fills=(
        fill(tom_hi="99..", tom_mid="..99"),
        fill(snare="9999", kick="9999"),
        fill(tom_hi="99......", tom_mid="..99....", tom_lo="....99..", floor="......99"),
        fill(snare="99999999", kick="9.9.9.9."),
        fill(snare="9.9.", floor="..9.", kick="9999"),
    ),
    bass_programs=((34, 0.6), (33, 0.4)),
    bass_lines=(
        _bass("R-R-R-R-R-R-R-R-", "R.RRR.RRR.RRR.RR", "R-------R-R-R---")
        + _bass("RRRRRRRRRRRRRRRR", "kick", tempo=(0.0, 170.0))
    ),
    instruments=(
        Instrument("rhythm guitar", "guitar_distorted", (30, 29), "power", "power", (40, 60),
                   _rh("9.99.99.9.99.99.", "9-7-9-7-9-7-9-7-", "9797979797979797",
                       "9-------9-------", "9.7.9.7.9-------")),
        Instrument("second guitar", "guitar_distorted", (30,), "power", "power", (47, 67),
                   _rh("9-------9-------", "9-7-9-7-9-7-9-7-", "9---------------")),
        Instrument("lead guitar", "guitar_distorted", (30, 29), "lead", register=(55, 88)),
        Instrument("strings", "pad", (48, 49, 50), "block", "open", (48, 79), WHOLE),
        Instrument("synth pad", "pad", (89, 90, 94), "block", "open", (48, 79), WHOLE),
    ),
    arrangements=(
        (("rhythm guitar",), 2.5),
        (("rhythm guitar", "second guitar"), 3.0),
        (("rhythm guitar", "second guitar", "strings"), 1.0),
        (("rhythm guitar", "synth pad"), 1.0),
    ),
    leads=("lead guitar",),
    singing=Singing(
        cells=(("q", 3), ("h", 3), ("ee", 2.5), ("_e", 1)),
        solo_cells=(("ssss", 4), ("ee", 2), ("sse", 2), ("q", 1)),
        span=12, phrase_seconds=4.0,
    ),
    no_vocals=0.12,
    words=("fire", "steel", "storm", "blood", "night", "war", "sky", "throne", "dark", "stone",
           "wild-fire"),
    crash=0.9,
)

POP = Style(
    genre="pop",
    meters=(
        Meter("4/4", (4, 4), (90.0, 128.0), 0.85, swing=(0.0, 0.15), swing_unit=0.25),
        Meter("ballad", (4, 4), (66.0, 88.0), 0.15),
    ),
    modes=(("major", 0.65), ("minor", 0.35)),
    forms=(
        ("intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:8 chorus:8 outro:4", 2.0),
        ("intro:8 verse:16 chorus:8 verse:16 chorus:8 bridge:4 chorus:16 outro:4", 1.0),
        ("intro:4 verse:8 verse:8 chorus:8 bridge:8 chorus:8 outro:8", 1.0),
    ),
    progressions=(
        _prog("major", "I | V | vi | IV", "vi | IV | I | V", "I | vi | IV | V", "IV | I | V | vi",
              "Iadd9 | V | vi7 | IVmaj7", "I | V/3 | vi | IV", "I | iii | IV | V")
        + _prog("minor", "i | bVI | bIII | bVII", "i | bVII | bVI | bVII", "i | iv | bVI | bVII",
                "bVI | bVII | i | i")
    ),
    kits=((0, 0.45), (24, 0.3), (8, 0.25)),
    grooves=(
        groove("pop eighths", kick="9.......9.7.....", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("pop clap", kick="9.....7.9.......", clap="....9.......9...",
               snare="....7.......7...", hat="..7...7...7...7."),
        groove("dance pop", kick="9...9...9...9...", clap="....9.......9...",
               open="..7...7...7...7.", hat="3...3...3...3..."),
        groove("sixteenths", kick="9..7..7.9.......", snare="....9.......9...",
               hat="7353735373537353", tamb="....7.......7..."),
        groove("shaker", kick="9.......9.7.....", snare="....9.......9...",
               shaker="7575757575757575"),
        groove("ballad", ("ballad",), kick="9.......7.9.....", rim="....7.......7...",
               hat="5.3.5.3.5.3.5.3."),
        groove("ballad snare", ("ballad",), kick="9.....5.9.......", snare="....7.......7...",
               ride="5.3.5.3.5.3.5.3."),
    ),
    fills=(
        fill(snare="5779"),
        fill(snare="57795779"),
        fill(tom_hi="77..", floor="..99"),
        fill(snare="7.7.....", tom_mid="....7...", floor="......9."),
        fill(clap="7777"),
        fill(),
    ),
    bass_programs=((33, 0.35), (38, 0.3), (34, 0.15), (39, 0.2)),
    bass_lines=(
        _bass("R-R-R-R-R-R-R-R-", "R--R--R-R--R--R-", "R---..R-R---5-..", "R-----R-R-----5-")
        + _bass("R-------R-------", "R-------5---R---", meters=("ballad",))
    ),
    instruments=(
        Instrument("piano", "chords", (0, 1), "block", "close", (52, 79),
                   _rh("9---7---7---7---", "9-----7-----7---", "7-5-7-5-7-5-7-5-")),
        Instrument("acoustic guitar", "chords", (25, 24), "strum", "guitar", (40, 76), STRUMS),
        Instrument("electric guitar", "chords", (27,), "arp", "guitar", (52, 81),
                   _rh("0-1-2-3-0-1-2-3-", "0-2-3-4-3-2-1-2-", "0.2.3.4.0.2.3.4.")),
        Instrument("synth pad", "pad", (88, 89, 90, 95), "block", "open", (48, 79), WHOLE),
        Instrument("strings", "pad", (48, 49, 50), "block", "open", (48, 84), WHOLE + HALVES),
        Instrument("electric piano", "chords", (4, 5), "stab", "close", (52, 76),
                   _rh("9-..7-..9-..7-..", "..7-..7-..7-..7-")),
        Instrument("bells", "chords", (9, 8, 10), "arp", "open", (67, 96),
                   _rh("0-2-1-3-0-2-1-3-", "0...2...1...3...")),
        Instrument("synth lead", "lead", (80, 81), "lead", register=(60, 88)),
        Instrument("guitar lead", "lead", (27, 29), "lead", register=(55, 86)),
    ),
    arrangements=(
        (("piano", "synth pad"), 2.0),
        (("acoustic guitar", "piano"), 1.5),
        (("electric guitar", "synth pad"), 1.5),
        (("piano", "strings"), 1.0),
        (("electric piano", "acoustic guitar"), 1.0),
        (("piano",), 1.0),
        (("acoustic guitar", "electric guitar", "synth pad"), 1.0),
        (("synth pad", "bells"), 0.7),
    ),
    leads=("synth lead", "guitar lead"),
    singing=Singing(
        cells=(("q", 3), ("ee", 4), ("_e", 1.5), ("h", 1.5), ("q.e", 1), ("r", 0.5)),
        solo_cells=(("ee", 3), ("q", 3), ("sse", 1), ("_e", 1), ("h", 1)),
        span=12, phrase_seconds=3.5,
    ),
    no_vocals=0.06,
    words=_LYRIC_POP,
)

REGGAE = Style(
    genre="reggae",
    meters=(Meter("4/4", (4, 4), (62.0, 92.0), 1.0, swing=(0.1, 0.45)),),
    modes=(("major", 0.5), ("minor", 0.35), ("dorian", 0.15)),
    forms=(
        ("intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:8 chorus:8 outro:4", 2.0),
        ("intro:4 chorus:8 verse:8 chorus:8 verse:8 chorus:8 outro:4", 1.0),
    ),
    progressions=(
        _prog("major", "I | IV | I | V", "I | I | IV | IV", "I | V | IV | V", "I | vi | IV | V",
              "ii | V | I | I", "I | IV | V | IV")
        + _prog("minor", "i | bVII | i | bVII", "i | iv | i | iv", "i | bVI | bVII | i",
                "i | bVII | bVI | bVII")
        + _prog("dorian", "i7 | IV7 | i7 | IV7", "i | IV")
    ),
    kits=((0, 0.4), (8, 0.4), (32, 0.2)),
    grooves=(
        groove("one drop", kick="........9.......", rim="........9.......",
               hat="5.7.5.7.5.7.5.7."),
        groove("one drop ghost", kick="........9.......", rim="........9.......",
               hat="7.5.7.5.7.5.7.5.", snare="..............3.", open="......5........."),
        groove("rockers", kick="9.......9.......", rim="....9.......9...",
               hat="7575757575757575"),
        groove("steppers", kick="9...9...9...9...", rim="........9.......",
               hat="..7...7...7...7."),
        groove("one drop congas", kick="........9.......", rim="........9.......",
               hat="5.7.5.7.5.7.5.7.", conga_hi="....7.5.....7.5.", conga_lo="..5.........5..."),
    ),
    fills=(
        fill(tom_hi="9.9.", floor="..9."),
        fill(snare="..9.9.9."),
        fill(tom_hi="7.7.....", tom_mid="....7.7.", kick="9......."),
        fill(rim="9999"),
    ),
    bass_programs=((33, 0.6), (32, 0.2), (38, 0.2)),
    bass_lines=_bass("..R-R-5...3-R-..", "R--.R-5-..3-5-R-", "....R-.R5-3-R---",
                     "R---..R-5---..3-", "..R.R.5-....O-5-"),
    instruments=(
        Instrument("skank guitar", "chords", (27, 28), "stab", "close", (60, 79),
                   _rh("....7.......7...", "..7...7...7...7.", "....7.5.....7.5.")),
        Instrument("organ bubble", "chords", (16, 17), "stab", "close", (48, 72),
                   _rh("..5.7.5...5.7.5.", "..5-7-....5-7-..")),
        Instrument("piano skank", "chords", (0,), "stab", "close", (55, 79),
                   _rh("....7.......7...", "....7.5.....7.5.")),
        Instrument("horns", "chords", (61, 56), "stab", "close", (55, 79),
                   _rh("9-.......7-.....", "....9-......9-..")),
        Instrument("melodica", "lead", (21, 22), "lead", register=(60, 84)),
        Instrument("trumpet", "lead", (56, 57), "lead", register=(52, 82)),
    ),
    arrangements=(
        (("skank guitar", "organ bubble"), 3.0),
        (("skank guitar", "piano skank"), 1.5),
        (("skank guitar",), 1.0),
        (("skank guitar", "organ bubble", "horns"), 1.0),
        (("piano skank", "organ bubble"), 0.7),
    ),
    leads=("melodica", "trumpet"),
    singing=Singing(
        cells=(("_e", 3), ("ee", 3), ("q", 2), ("h", 1), ("ess", 1), ("r", 0.5)),
        solo_cells=(("ee", 3), ("_e", 2), ("q", 2), ("h", 1)),
        span=10, phrase_seconds=4.0,
    ),
    no_vocals=0.08,
    words=("sun", "land", "love", "sky", "road", "heart", "fire", "rain", "sun-shine",
           "home-land"),
    crash=0.3,
)

ROCK = Style(
    genre="rock",
    meters=(
        Meter("4/4", (4, 4), (96.0, 160.0), 0.9, swing=(0.0, 0.05)),
        Meter("12/8", (12, 8), (84.0, 114.0), 0.1),
    ),
    modes=(("major", 0.5), ("minor", 0.3), ("mixolydian", 0.2)),
    forms=(
        ("intro:4 verse:8 chorus:8 verse:8 chorus:8 bridge:8 chorus:8 outro:4", 2.0),
        ("intro:8 verse:16 chorus:8 verse:16 chorus:8 bridge:8 chorus:16 outro:4", 1.0),
    ),
    progressions=(
        _prog("major", "I | IV | V | IV", "I | IV | I | V", "I | V | vi | IV", "vi | IV | I | V",
              "I | bVII | IV | I", "I | I | IV | IV | V | V | IV | IV")
        + _prog("minor", "i | bVII | bVI | bVII", "i | bVI | bVII | i", "i | iv | bVII | bIII",
                "i | bIII | bVII | iv")
        + _prog("mixolydian", "I | bVII | IV | I", "I | bVII | I | bVII", "I | IV | bVII | IV")
    ),
    kits=((0, 0.4), (8, 0.3), (16, 0.3)),
    grooves=(
        groove("backbeat", kick="9.......9.9.....", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("backbeat push", kick="9.....7.9.......", snare="....9.......9...",
               hat="7.5.7.5.7.5.7.5."),
        groove("ride chorus", kick="9.....7.9.9.....", snare="....9.......9...",
               ride="7.5.7.5.7.5.7.5."),
        groove("open hats", kick="9.......9.7.....", snare="....9.......9...",
               open="7.5.7.5.7.5.7.5."),
        groove("sixteenth hats", kick="9.......9.9.....", snare="....9.......9...",
               hat="7353735373537353"),
        groove("floor tom", kick="9.....9.9.......", snare="....9.......9...",
               floor="7.5.7.5.7.5.7.5."),
        groove("rock ballad", ("12/8",), kick="9.....9.7...", snare="...9.....9..",
               hat="755755755755"),
        groove("rock ballad ride", ("12/8",), kick="9....79.....", snare="...9.....9..",
               ride="755755755755"),
    ),
    fills=(
        fill(snare="5779"),
        fill(snare="77......", tom_hi="..77....", tom_mid="....77..", floor="......99"),
        fill(snare="9.9.9.9.", kick="9...9..."),
        fill(tom_hi="7.7.", floor="..9."),
        fill(("12/8",), snare="799"),
        fill(("12/8",), snare="777...", tom_hi="...77.", floor=".....9"),
    ),
    bass_programs=((34, 0.5), (33, 0.5)),
    bass_lines=(
        _bass("R-R-R-R-R-R-R-R-", "R---R-R-R---R-A-", "R-R-R-R-5-5-O-O-", "R-.RR-R-R-.RR-5-")
        + _bass("R-RR-RR-RR-R", "R-RR-R5-57-6", meters=("12/8",))
    ),
    instruments=(
        Instrument("distorted guitar", "guitar_distorted", (29, 30), "power", "power", (40, 64),
                   _rh("7-5-7-5-7-5-7-5-", "9-----9-----9---", "9-------7-7-7---",
                       "9---------------")
                   + _rh("9-79-79-79-7", "9-----9-----", meters=("12/8",))),
        Instrument("clean guitar", "chords", (27,), "arp", "guitar", (48, 79),
                   _rh("0-2-3-4-3-2-0-2-", "0-1-2-3-4-3-2-1-")
                   + _rh("012343012343", meters=("12/8",))),
        Instrument("acoustic guitar", "chords", (25,), "strum", "guitar", (40, 76), STRUMS),
        Instrument("organ", "pad", (16, 18), "block", "close", (48, 72), WHOLE + HALVES),
        Instrument("piano", "chords", (0, 1), "block", "close", (52, 79),
                   _rh("9---5---7---5---", "7-5-7-5-7-5-7-5-")
                   + _rh("9-57-57-57-5", meters=("12/8",))),
        Instrument("lead guitar", "lead", (29, 30, 27), "lead", register=(52, 86)),
    ),
    arrangements=(
        (("distorted guitar",), 3.0),
        (("distorted guitar", "clean guitar"), 2.0),
        (("distorted guitar", "organ"), 1.5),
        (("distorted guitar", "piano"), 1.0),
        (("acoustic guitar", "distorted guitar"), 1.0),
        (("distorted guitar", "clean guitar", "organ"), 0.7),
    ),
    leads=("lead guitar",),
    singing=Singing(
        cells=(("q", 3), ("ee", 4), ("h", 1.5), ("_e", 1), ("q.e", 1), ("r", 0.5),
               ("qe", 3), ("dq", 2), ("eee", 1.5)),
        solo_cells=(("ee", 3), ("ssss", 1.5), ("sse", 1.5), ("q", 2), ("eee", 3), ("qe", 1)),
        span=12, phrase_seconds=4.0,
    ),
    no_vocals=0.08,
    words=("road", "night", "fire", "town", "high-way", "heart", "girl", "dream", "car", "light",
           "rock"),
    crash=0.85,
)

# fmt: on

_ALL = (BLUES, CLASSICAL, COUNTRY, DISCO, HIPHOP, JAZZ, METAL, POP, REGGAE, ROCK)
STYLES: dict[str, Style] = {s.genre: s for s in _ALL}
assert tuple(STYLES) == GENRES, "one style per genre, in GENRES order"
