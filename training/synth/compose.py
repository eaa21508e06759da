"""Compose one song of a genre from a seed: form, harmony, drums, bass, other parts and vocals.

The composer interprets a `Style` (styles.py) and draws every choice from one
`numpy.random.default_rng(seed)` in a fixed order, so a seed always gives the same song and the
genres differ only where their tables differ. Everything is written in beats on a straight grid;
swing and humanisation are applied last, to every part alike, so the parts stay together.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

import numpy as np

from stemdeck.training.synth.score import NOTE_NAMES, Chord, Note, Part, Section, Song
from stemdeck.training.synth.styles import (
    COMPOUND_CELLS,
    MODES,
    QUALITIES,
    SIMPLE_CELLS,
    STYLES,
    TIME_KEYS,
    Fill,
    Groove,
    Instrument,
    Meter,
    Progression,
    Style,
    level_velocity,
)

T = TypeVar("T")
#: A note before swing and humanisation: start, length, pitch, velocity, syllable.
Event = tuple[float, float, int, float, str]

FEMALE_MARKS = ("slt", "lp", "+f")
FEMALE_RANGE, MALE_RANGE = (57, 76), (45, 67)
BASS_RANGE = (28, 55)
CRASH_KEY, KICK_KEY = 49, 36
DISTORTED = (29, 30)
_DYNAMICS = {"intro": 0.55, "verse": 0.7, "chorus": 0.9, "bridge": 0.65, "outro": 0.6}
_EPS = 1e-6


def compose(genre: str, seconds: float, seed: int, title: str, voices: Sequence[str]) -> Song:
    """A song of `genre` lasting at least `seconds`, the same for the same arguments.

    Excerpts shorter than the song's form start at a random section, so 30 s clips of one
    genre do not all begin with an intro.
    """
    if genre not in STYLES:
        raise ValueError(f"unknown genre {genre!r}; expected one of {sorted(STYLES)}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    style = STYLES[genre]
    rng = np.random.default_rng(seed)
    song = _Composer(style, rng, float(seconds), list(voices)).run()
    song.title, song.seed = title, seed
    return song


# ---------------------------------------------------------------------------------------------
# Small helpers


def _pick(rng: np.random.Generator, options: Sequence[tuple[T, float]]) -> T:
    """One option drawn by weight."""
    total = sum(w for _, w in options)
    x = rng.random() * total
    for option, weight in options:
        x -= weight
        if x < 0:
            return option
    return options[-1][0]


def _one(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def _fitting(items: Sequence[T], meter: Meter, tempo: float | None = None) -> list[T]:
    """Patterns for this meter: those naming its feel if any, else its signature; then those
    whose tempo range holds `tempo` (all of them if none does)."""
    named = [x for x in items if meter.name in x.meters]
    if not named or meter.name == meter.label:
        named = [x for x in items if meter.label in x.meters]
    if tempo is not None:
        fast = [x for x in named if x.tempo[0] <= tempo <= x.tempo[1]]
        named = fast or named
    return named


@lru_cache(maxsize=1024)
def _hits(pattern: str) -> tuple[tuple[int, int, str], ...]:
    """(step, length in steps, hit character) of a step pattern; "-" holds, "." rests."""
    out: list[list] = []
    open_hit = False
    for i, ch in enumerate(pattern):
        if ch == ".":
            open_hit = False
        elif ch == "-":
            if open_hit:
                out[-1][1] += 1
        else:
            out.append([i, 1, ch])
            open_hit = True
    return tuple((s, n, c) for s, n, c in out)


def _bar_hits(pattern: str, steps: int, bar: int) -> tuple[tuple[int, int, str], ...]:
    """The hits of one bar of a (possibly multi-bar) pattern, steps counted from the bar."""
    if len(pattern) <= steps:
        return _hits(pattern)
    offset = (bar % (len(pattern) // steps)) * steps
    return tuple((s - offset, n, c) for s, n, c in _hits(pattern) if offset <= s < offset + steps)


def _fold(pitch: int, lo: int, hi: int) -> int:
    """Move a pitch by octaves into [lo, hi] (hi - lo >= 11)."""
    while pitch < lo:
        pitch += 12
    while pitch > hi:
        pitch -= 12
    return pitch


def _nearest(pc: int, near: int, lo: int, hi: int) -> int:
    """The pitch of pitch class `pc` in [lo, hi] closest to `near`."""
    return min((p for p in range(lo, hi + 1) if p % 12 == pc), key=lambda p: (abs(p - near), p))


def _scale(dynamics: float) -> float:
    """Velocity factor of a section's dynamics: quiet sections play softer, not silent."""
    return 0.55 + 0.45 * dynamics


def swing_time(t: np.ndarray, amount: float, unit: float) -> np.ndarray:
    """Delay off-beat subdivisions: with `unit` 0.5 the off-beat 8th moves amount/6 beat later
    (amount 1 = triplet swing), with 0.25 the off-beat 16th amount/12; times between follow
    linearly, so note ends and 16ths inside a swung 8th move consistently."""
    if amount <= 0:
        return t
    period = 2 * unit
    base = np.floor(t / period + _EPS) * period
    x = t - base
    mid = unit + amount * unit / 3
    y = np.where(x <= unit, x * mid / unit, mid + (x - unit) * (period - mid) / (period - unit))
    return base + y


# ---------------------------------------------------------------------------------------------
# Harmony

_NUMERALS = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_TOKEN = re.compile(r"^([b#]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)([^/]*)(?:/([357]))?$")


@lru_cache(maxsize=512)
def parse_numeral(token: str) -> tuple[int, str, int]:
    """(root above tonic, quality suffix, bass above tonic) of a Roman-numeral chord token."""
    m = _TOKEN.match(token)
    if not m:
        raise ValueError(f"bad chord token {token!r}")
    accidental, numeral, suffix, inversion = m.groups()
    root = _NUMERALS[numeral.lower()] + {"b": -1, "#": 1, "": 0}[accidental]
    if numeral.islower():
        if suffix.startswith("o"):
            suffix = "dim" + suffix[1:]
        elif not suffix.startswith(("m", "dim", "5")):
            suffix = "m" + suffix
    if suffix not in QUALITIES:
        raise ValueError(f"unknown chord quality in {token!r}")
    bass = root
    if inversion:
        index = {"3": 1, "5": 2, "7": 3}[inversion]
        if index >= len(QUALITIES[suffix]):
            raise ValueError(f"{token!r}: the chord has no such inversion")
        bass = root + QUALITIES[suffix][index]
    return root % 12, suffix, bass % 12


@dataclass(frozen=True)
class _Chord:
    """A chord sounding from `start` for `length` beats (pitch classes are absolute)."""

    root: int
    quality: str
    bass: int
    start: float
    length: float

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def symbol(self) -> str:
        slash = f"/{NOTE_NAMES[self.bass]}" if self.bass != self.root else ""
        return f"{NOTE_NAMES[self.root]}{self.quality}{slash}"

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple(sorted({(self.root + i) % 12 for i in self.intervals}))

    def sung_pcs(self, scale: tuple[int, ...]) -> tuple[int, ...]:
        """Pitch classes a melody treats as chord tones: a power chord gets the key's third."""
        if self.quality != "5":
            return self.pcs
        return tuple(sorted({*self.pcs, (self.root + self.third(scale)) % 12}))

    def third(self, scale: tuple[int, ...]) -> int:
        """The chord's third, or the key's third above the root where it has none (power/sus)."""
        ivs = self.intervals
        if len(ivs) > 2 and ivs[1] in (3, 4):
            return ivs[1]
        return 3 if (self.root + 3) % 12 in scale else 4

    def fifth(self) -> int:
        return next((i for i in self.intervals if i in (6, 7, 8)), 7)

    def seventh(self) -> int:
        """The chord's seventh; a b7 where it has none (blues and rock bass lines)."""
        sevenths = (9, 10, 11) if self.quality == "dim7" else (10, 11)
        return next((i for i in self.intervals if i in sevenths), 10)


def _local_scale(chord: _Chord, scale: tuple[int, ...], blue: tuple[int, ...]) -> tuple[int, ...]:
    """Pitch classes a melody may use over `chord`: its tones, plus key tones at least a whole
    tone from every chord tone (the avoid notes drop out), plus the style's blue notes."""
    tones = set(chord.sung_pcs(scale))
    ok = set(tones) | set(blue)
    for pc in scale:
        if all(min((pc - t) % 12, (t - pc) % 12) >= 2 for t in tones):
            ok.add(pc)
    return tuple(sorted(ok))


# ---------------------------------------------------------------------------------------------
# Lyrics

_SUBJECTS = ("i", "we", "you")
_VERBS = ("feel", "need", "want", "see", "hold", "find", "love", "call", "chase", "miss", "keep")
_MOVES = ("run", "dance", "fly", "fall", "shine", "rise", "dream", "wait", "ride", "burn", "sing",
          "cry", "roll", "stay", "go", "move")  # fmt: skip
_ADJECTIVES = ("blue", "wild", "free", "cold", "sweet", "young", "gold", "bright", "slow", "lost",
               "high", "long")  # fmt: skip
_TIMES = ("to-night", "all night", "a-gain", "some-day", "right now", "to-day", "all day",
          "for-ev-er", "no more")  # fmt: skip
_PLACES = ("in the rain", "on the road", "in the dark", "with me", "by your side", "in the light",
           "down the line", "through the night", "out of time")  # fmt: skip
_NOUNS = ("love", "heart", "night", "light", "time", "way", "world", "sky", "fire", "home")
_FILLERS = ("oh", "yeah", "now", "so", "hey")
_CLAUSES = (
    "S V the N", "S V your N", "S M T", "the N is A", "S M P", "my A N", "S will M T",
    "S V you P", "hold me T", "come on and M", "S M with the N", "like a A N", "the A N T",
    "S can V the N", "let the N M", "S M and S M", "A N", "oh my N", "S M", "M with me T",
    "take my hand", "all the way", "here we go", "one more time", "S V it T", "M a-way",
)  # fmt: skip


def _clause(rng: np.random.Generator, words: Sequence[str]) -> list[str]:
    """One short clause from a template, as syllables."""
    line: list[str] = []
    for slot in _one(rng, _CLAUSES).split():
        if slot == "S":
            line.append(_one(rng, _SUBJECTS))
        elif slot == "V":
            line.append(_one(rng, _VERBS))
        elif slot == "M":
            line.append(_one(rng, _MOVES))
        elif slot == "A":
            line.append(_one(rng, _ADJECTIVES))
        elif slot == "N":
            line.append(_one(rng, words) if rng.random() < 0.7 else _one(rng, _NOUNS))
        elif slot in ("T", "P"):
            line.extend(_one(rng, _TIMES if slot == "T" else _PLACES).split())
        else:
            line.append(slot)
    return [s for word in line for s in word.split("-")]


def lyric_line(rng: np.random.Generator, syllables: int, words: Sequence[str]) -> list[str]:
    """Exactly `syllables` plain lowercase syllables: clauses that fit, longest first, and an
    "oh" or "yeah" only where a single syllable is left over."""
    out: list[str] = []
    while len(out) < syllables:
        left = syllables - len(out)
        fits = [c for c in (_clause(rng, words) for _ in range(5)) if len(c) <= left]
        if fits:
            out.extend(max(fits, key=len))
        else:
            out.append(_one(rng, _FILLERS))
    return out


# ---------------------------------------------------------------------------------------------
# The composer


@dataclass
class _Sec:
    """A section while composing (frozen `Section`s are made at the end)."""

    name: str
    start_bar: int
    bars: int
    dynamics: float
    vocals: bool
    groove: Groove | None = None


@dataclass
class _Line:
    """Melody phrases of one section, relative to its start: (start, length, pitch) lists."""

    phrases: list[list[tuple[float, float, int]]] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)


class _Composer:
    """One composition: the choices, in the order they are drawn from the generator."""

    def __init__(self, style: Style, rng: np.random.Generator, seconds: float, voices: list[str]):
        self.style, self.rng, self.seconds, self.voices = style, rng, seconds, voices
        self.meter: Meter = _pick(rng, [(m, m.weight) for m in style.meters])
        lo, hi = self.meter.tempo
        self.tempo = round(min(hi, max(lo, float(rng.uniform(lo, hi)))), 1)
        s_lo, s_hi = self.meter.swing
        self.swing = round(float(rng.uniform(s_lo, s_hi)), 3) if s_hi > 0 else 0.0
        self.tonic = int(rng.integers(12))
        self.mode: str = _pick(rng, style.modes)
        self.scale = tuple(sorted((self.tonic + i) % 12 for i in MODES[self.mode]))
        self.bpb = self.meter.beats_per_bar
        self.step = self.meter.step_beats
        self.felt = self.meter.felt_beat
        self.has_vocals = bool(voices) and rng.random() >= style.no_vocals

    # -- plan -----------------------------------------------------------------------------

    def run(self) -> Song:
        self.sections = self._form()
        self.chords = self._harmony()
        self.starts = [c.start for c in self.chords]
        self.beats = self.sections[-1].start_bar * self.bpb + self.sections[-1].bars * self.bpb
        parts: list[Part] = []
        drums = self._drums()
        if drums is not None:
            parts.append(drums)
        parts.append(self._bass())
        vocal_parts = self._vocals() if self.has_vocals else []
        parts.extend(self._others())
        parts.extend(vocal_parts)
        sung = [n for p in vocal_parts for n in p.notes]
        sections = []
        for sec in self.sections:
            lo, hi = sec.start_bar * self.bpb, (sec.start_bar + sec.bars) * self.bpb
            sings = sec.vocals and any(lo - _EPS <= n.start < hi for n in sung)
            sections.append(Section(sec.name, sec.start_bar, sec.bars, sec.dynamics, sings))
        return Song(
            title="",
            genre=self.style.genre,
            tempo=self.tempo,
            key=f"{NOTE_NAMES[self.tonic]} {self.mode}",
            time_signature=self.meter.signature,
            beats_per_bar=self.bpb,
            swing=self.swing,
            sections=sections,
            chords=self._chord_symbols(),
            parts=parts,
            seed=0,
        )

    def _form(self) -> list[_Sec]:
        """The song's sections: a form from the style, lengthened to cover `seconds`, entered at
        a random section when the excerpt is much shorter than the form (rarely one where
        nobody sings, so sung songs mostly stay sung)."""
        rng = self.rng
        plan = [
            (n, int(b)) for n, b in (x.split(":") for x in _pick(rng, self.style.forms).split())
        ]
        bar_seconds = self.bpb * 60.0 / self.tempo
        need = max(1, math.ceil(self.seconds / bar_seconds))
        if need * self.bpb * (60.0 / self.tempo) < self.seconds:  # as Song computes it
            need += 1
        core = [x for x in plan if x[0] in ("verse", "chorus")] or [max(plan, key=lambda x: x[1])]
        while sum(b for _, b in plan) < need:
            plan[-1:-1] = core
        sings = [
            self.has_vocals
            and (name in ("verse", "chorus") or (name == "bridge" and rng.random() < 0.4))
            for name, _ in plan
        ]
        total = sum(b for _, b in plan)
        first = 0
        if need <= 0.6 * total:
            options = []
            for i in range(len(plan)):
                covered, j = 0, i
                while j < len(plan) and covered < need:
                    covered, j = covered + plan[j][1], j + 1
                if covered >= need:
                    options.append((i, 1.0 if any(sings[i:j]) or not self.has_vocals else 0.15))
            first = _pick(rng, options)
        sections: list[_Sec] = []
        bar = 0
        for (name, bars), sung in zip(plan[first:], sings[first:], strict=True):
            bars = min(bars, need - bar)
            dyn = float(np.clip(_DYNAMICS[name] + rng.uniform(-0.08, 0.08), 0.3, 1.0))
            sections.append(_Sec(name, bar, bars, round(dyn, 2), sung))
            bar += bars
            if bar >= need:
                break
        return sections

    def _harmony(self) -> list[_Chord]:
        """Chord per bar (or half bar): one progression per section kind, looped; intros play
        the tail of theirs so they turn around into what follows."""
        rng, style = self.rng, self.style
        usable = [p for p in style.progressions if self.mode in p.modes]
        chosen: dict[str, Progression] = {}
        for kind in ("verse", "chorus", "bridge"):
            options = [p for p in usable if kind in p.sections] or usable
            lengths = {s.bars for s in self.sections if s.name == kind}
            whole = [p for p in options if all(n % p.bars == 0 for n in lengths)] or options
            fresh = [p for p in whole if p not in chosen.values()] or whole
            chosen[kind] = _one(rng, fresh)
        chosen["intro"] = chosen["verse"] if rng.random() < 0.6 else chosen["chorus"]
        chosen["outro"] = chosen["chorus"]
        chords: list[_Chord] = []
        for sec in self.sections:
            prog = chosen[sec.name]
            bars = [b.split() for b in prog.chords.split("|")]
            for j in range(sec.bars):
                index = (prog.bars - sec.bars + j) % prog.bars if sec.name == "intro" else j
                tokens = bars[index % prog.bars]
                t0 = (sec.start_bar + j) * self.bpb
                edges = [self._split(k, len(tokens)) for k in range(len(tokens) + 1)]
                for k, token in enumerate(tokens):
                    root, quality, bass = parse_numeral(token)
                    chords.append(
                        _Chord(
                            (self.tonic + root) % 12,
                            quality,
                            (self.tonic + bass) % 12,
                            t0 + edges[k],
                            edges[k + 1] - edges[k],
                        )
                    )
        return chords

    def _split(self, k: int, n: int) -> float:
        """Where the k-th of n chords in a bar starts, on a felt beat where possible."""
        beats = self.bpb / self.felt
        return min(self.bpb, math.floor(k * beats / n + 0.5) * self.felt) if k < n else self.bpb

    def _chord_symbols(self) -> list[Chord]:
        """Song.chords: the chord events with repeats of the same chord merged."""
        out: list[Chord] = []
        for c in self.chords:
            if out and out[-1].symbol == c.symbol:
                last = out[-1]
                out[-1] = Chord(last.symbol, last.start, last.length + c.length)
            else:
                out.append(Chord(c.symbol, c.start, c.length))
        return out

    def chord_at(self, t: float) -> _Chord:
        return self.chords[max(0, bisect_right(self.starts, t + _EPS) - 1)]

    def change_after(self, t: float) -> float:
        """When the chord sounding at `t` gives way (or the song ends)."""
        i = bisect_right(self.starts, t + _EPS)
        return self.starts[i] if i < len(self.starts) else self.beats

    def bar_start(self, bar: int) -> float:
        return bar * self.bpb

    def _grid_hits(self, pattern: str, bar: int) -> list[tuple[float, float, str]]:
        """(position, length, character) in beats of one bar of a step pattern."""
        return [
            (s * self.step, n * self.step, c)
            for s, n, c in _bar_hits(pattern, self.meter.steps, bar)
        ]

    # -- parts ----------------------------------------------------------------------------

    def _finish(
        self,
        name: str,
        stem: str,
        role: str,
        program: int,
        events: list[Event],
        jitter: float,
        spread: float,
        voice: str | None = None,
    ) -> Part:
        """Swing, humanise and clamp the events into a Part's valid Notes."""
        if not events:
            return Part(name, stem, role, program, [], voice)
        events.sort(key=lambda e: (e[0], e[2]))
        start = np.array([e[0] for e in events])
        end = start + np.array([e[1] for e in events])
        vel = np.array([e[3] for e in events])
        unit = self.meter.swing_unit
        start, end = swing_time(start, self.swing, unit), swing_time(end, self.swing, unit)
        if jitter > 0:
            start = start + self.rng.normal(0.0, jitter, start.size)
        if spread > 0:
            vel = vel + self.rng.normal(0.0, spread, vel.size)
        start = np.clip(start, 0.0, self.beats - 0.01)
        length = np.maximum(end - start, 0.02)
        vel = np.clip(np.round(vel), 1, 127).astype(int)
        notes = [
            Note(round(float(s), 4), round(float(n), 4), int(min(127, max(0, e[2]))), int(v), e[4])
            for s, n, v, e in zip(start, length, vel, events, strict=True)
        ]
        return Part(name, stem, role, program, notes, voice)

    def _drums(self) -> Part | None:
        """The kit: a groove per section kind, ghost notes varying bar to bar, fills into new
        sections (and now and then every 4 bars), crashes on arrivals."""
        style, rng, meter = self.style, self.rng, self.meter
        if not style.kits:
            return None
        kit = _pick(rng, meter.kits or style.kits)
        grooves = _fitting(style.grooves, meter, self.tempo)
        verse = _one(rng, grooves)
        others = [g for g in grooves if g is not verse] or grooves
        by_kind = {
            "verse": verse,
            "chorus": _one(rng, others) if rng.random() < 0.7 else verse,
            "bridge": _one(rng, grooves),
        }
        by_kind["intro"], by_kind["outro"] = verse, by_kind["chorus"]
        fills = _fitting(style.fills, meter)
        small = [f for f in fills if self._fill_beats(f) <= self.felt + _EPS] or fills
        intro_mode = _pick(rng, (("full", 0.5), ("time", 0.3), ("late", 0.2)))
        events: list[Event] = []
        steps = meter.steps
        for si, sec in enumerate(self.sections):
            sec.groove = groove = by_kind[sec.name]
            gain = _scale(sec.dynamics)
            lanes = groove.lanes
            if sec.name == "intro" and intro_mode == "time":
                lanes = tuple(x for x in lanes if x[0] in TIME_KEYS) or lanes
            for j in range(sec.bars):
                if sec.name == "intro" and intro_mode == "late" and j < sec.bars // 2:
                    continue
                t0 = self.bar_start(sec.start_bar + j)
                fill: Fill | None = None
                if j == sec.bars - 1 and si + 1 < len(self.sections):
                    fill = _one(rng, fills) if rng.random() < 0.85 else None
                elif (j + 1) % 4 == 0:
                    chance = 0.5 if (j + 1) % 8 == 0 else 0.25
                    fill = _one(rng, small) if rng.random() < chance else None
                cut = self.bpb - (self._fill_beats(fill) if fill else 0.0)
                for key, pattern in lanes:
                    for s, _, level in _bar_hits(pattern, steps, j):
                        pos = s * self.step
                        if pos >= cut - _EPS or (level <= "3" and rng.random() < 0.25):
                            continue
                        events.append((t0 + pos, 0.25, key, level_velocity(level) * gain, ""))
                if fill:
                    fstep = fill.step_beats or self.step
                    for key, pattern in fill.lanes:
                        for s, _, level in _hits(pattern):
                            pos = cut + s * fstep
                            events.append((t0 + pos, 0.25, key, level_velocity(level) * gain, ""))
                if j == 0 and sec.name != "intro" and rng.random() < style.crash:
                    events.append((t0, 1.0, CRASH_KEY, level_velocity("8") * gain, ""))
                    if not any(k == KICK_KEY and p[0] != "." for k, p in lanes):
                        events.append((t0, 0.25, KICK_KEY, level_velocity("8") * gain, ""))
        return self._finish("drum kit", "drums", "drums", kit, events, 0.008, 5.0)

    def _fill_beats(self, fill: Fill) -> float:
        """How much of the bar's end a fill takes (a stop takes two felt beats)."""
        if not fill.lanes:
            return 2 * self.felt
        return len(fill.lanes[0][1]) * (fill.step_beats or self.step)

    def _bass(self) -> Part:
        """The bass: a line per section kind (pattern, walking, or on the kick), always in
        MIDI 28-55."""
        style, rng, meter = self.style, self.rng, self.meter
        program = _pick(rng, meter.bass_programs or style.bass_programs)
        floor = max(style.bass_floor, 36 if program == 42 else BASS_RANGE[0])
        lines = _fitting(style.bass_lines, meter, self.tempo)
        if not style.kits:
            lines = [x for x in lines if x.pattern != "kick"]
        by_kind = {k: _one(rng, lines).pattern for k in ("verse", "chorus", "bridge")}
        by_kind["intro"], by_kind["outro"] = by_kind["verse"], by_kind["chorus"]
        late_intro = rng.random() < 0.3
        events: list[Event] = []
        prev = floor + 7
        for sec in self.sections:
            pattern = by_kind[sec.name]
            gain = _scale(sec.dynamics)
            for j in range(sec.bars):
                if sec.name == "intro" and late_intro and j < sec.bars // 2:
                    continue
                t0 = self.bar_start(sec.start_bar + j)
                if pattern == "walk":
                    prev = self._walk_bar(t0, gain, prev, events)
                    continue
                kick = pattern == "kick"
                hits = self._kick_hits(sec, j) if kick else self._grid_hits(pattern, j)
                for pos, length, code in hits:
                    t = t0 + pos
                    chord = self.chord_at(t)
                    length = min(length, self.change_after(t) - t)
                    pitch = self._bass_pitch(code, chord, t + length, floor)
                    accent = 1.0 if abs(pos % self.felt) < _EPS else 0.85
                    events.append((t, length * 0.92, pitch, 100 * accent * gain, ""))
        return self._finish("bass", "bass", "bass", program, events, 0.005, 4.0)

    def _kick_hits(self, sec: _Sec, bar: int) -> list[tuple[float, float, str]]:
        """Bass notes on the section groove's kicks, each held until the next (808 style)."""
        kicks: list[float] = []
        if sec.groove is not None:
            for key, pattern in sec.groove.lanes:
                if key == KICK_KEY:
                    kicks = [s * self.step for s, _, _ in _bar_hits(pattern, self.meter.steps, bar)]
        if not kicks or kicks[0] > _EPS:
            kicks = [0.0, *kicks]
        ends = [*kicks[1:], self.bpb]
        return [(k, max(e - k, self.step), "R") for k, e in zip(kicks, ends, strict=True)]

    def _bass_pitch(self, code: str, chord: _Chord, until: float, floor: int) -> int:
        """The pitch of a bass-line degree code over `chord` (see styles.BassLine)."""
        lo, hi = BASS_RANGE
        root = floor + (chord.root - floor) % 12
        if code == "R":
            return floor + (chord.bass - floor) % 12
        if code == "A":
            nxt = self.chord_at(until)
            target = floor + (nxt.bass - floor) % 12
            return _fold(target - 1 if target - 1 >= lo else target + 1, lo, hi)
        offset = {
            "O": 12,
            "5": chord.fifth(),
            "F": chord.fifth() - 12,
            "3": chord.third(self.scale),
            "6": 9 if (chord.root + 9) % 12 in self.scale or "6" in chord.quality else 8,
            "7": chord.seventh(),
            "2": 2,
            "4": 5,
        }[code]
        return _fold(root + offset, lo, hi)

    def _walk_bar(self, t0: float, gain: float, prev: int, events: list[Event]) -> int:
        """A walking line through the bar: the root on each chord, chord and scale tones
        between, a chromatic approach into the next chord."""
        rng = self.rng
        lo, hi = BASS_RANGE[0], 50
        t = t0
        while t < t0 + self.bpb - _EPS:
            chord = self.chord_at(t)
            end = min(self.change_after(t), t0 + self.bpb)
            count = max(1, round(end - t))
            root = _nearest(chord.root, prev, lo, hi)
            nxt = (
                self.chord_at(t0 + self.bpb) if end >= t0 + self.bpb - _EPS else self.chord_at(end)
            )
            target = _nearest(nxt.root, root, lo, hi)
            if target == root and count > 2:
                target = root + 12 if root + 12 <= hi else root - 12
            approach = target + (1 if rng.random() < 0.5 else -1)
            approach = (
                approach if lo <= approach <= hi else target - 1 if target > lo else target + 1
            )
            pool = [p for p in range(lo, hi + 1) if p % 12 in _local_scale(chord, self.scale, ())]
            line = [root]
            for k in range(1, count - 1):
                ideal = root + (approach - root) * k / (count - 1)
                near = sorted((p for p in pool if p != line[-1]), key=lambda p: abs(p - ideal))
                line.append(_one(rng, near[:2]))
            if count > 1:
                line.append(approach)
            for k, pitch in enumerate(line):
                vel = (96 if k == 0 else 84) * gain
                events.append((t + k, 0.95, int(pitch), vel, ""))
            prev = line[-1]
            t += count
        return prev

    # -- other parts -----------------------------------------------------------------------

    def _others(self) -> list[Part]:
        """1-3 "other" parts from an arrangement of the style; instrumentals get a lead that
        carries the tune, sung songs sometimes one that solos where nobody sings."""
        style, rng = self.style, self.rng
        names = list(_pick(rng, style.arrangements))
        leads = [n for n in names if style.instrument(n).texture == "lead"]
        if not self.has_vocals and not leads:
            lead = _one(rng, style.leads)
            names = [*names[:2], lead]
        elif self.has_vocals and not leads and len(names) < 3:
            solo = any(s.name == "bridge" and not s.vocals for s in self.sections)
            if rng.random() < (0.8 if solo else 0.3):
                names.append(_one(rng, style.leads))
        chordal = [n for n in names if style.instrument(n).texture != "lead"]
        resting: dict[str, set[str]] = {}
        for n in chordal:
            out = set()
            if rng.random() < 0.35:
                out.add("intro")
            if rng.random() < 0.25:
                out.add("verse")
            resting[n] = out
        for kind in ("intro", "verse"):
            if all(kind in resting[n] for n in chordal):
                resting[chordal[0]].discard(kind)
        parts = []
        for n in names:
            instrument = style.instrument(n)
            program = _one(rng, instrument.programs)
            role = "guitar_distorted" if program in DISTORTED else instrument.role
            if instrument.texture == "lead":
                events = self._lead(instrument)
                jitter, spread = 0.004, 4.0
            else:
                events = self._comp(instrument, resting[n])
                jitter, spread = 0.004, 5.0
            part = self._finish(n, "other", role, program, events, jitter, spread)
            if part.notes:
                parts.append(part)
        return parts

    def _comp(self, inst: Instrument, resting: set[str]) -> list[Event]:
        """A chord part: a rhythm per section kind (per bar when it varies), voiced with smooth
        voice leading, played as its texture says."""
        rng, meter = self.rng, self.meter
        rhythms = [r.pattern for r in _fitting(inst.rhythms, meter)] or [
            "9" + "-" * (meter.steps - 1)
        ]
        by_kind = {k: _one(rng, rhythms) for k in ("intro", "verse", "chorus", "bridge", "outro")}
        sustained = inst.texture in ("block", "strum", "power")
        strum_gap = 0.012 * self.tempo / 60.0
        events: list[Event] = []
        voicing: list[int] = []
        voiced: _Chord | None = None
        lo, hi = inst.register
        for sec in self.sections:
            if sec.name in resting:
                continue
            gain = _scale(sec.dynamics)
            for j in range(sec.bars):
                t0 = self.bar_start(sec.start_bar + j)
                pattern = _one(rng, rhythms) if inst.vary else by_kind[sec.name]
                hits = self._grid_hits(pattern, j)
                if sustained:
                    for c in self.chords:
                        if t0 + _EPS < c.start < t0 + self.bpb - _EPS:
                            pos = c.start - t0
                            if not any(abs(h[0] - pos) < _EPS for h in hits):
                                hits.append((pos, t0 + self.bpb - c.start, "7"))
                for pos, length, char in hits:
                    t = t0 + pos
                    chord = self.chord_at(t)
                    length = min(length, self.change_after(t) - t)
                    if chord is not voiced:
                        voicing = _voice(inst.voicing, chord, lo, hi, voicing, self.scale)
                        voiced = chord
                    on_beat = abs(pos % self.felt) < _EPS
                    if inst.texture == "arp":
                        k = int(char)
                        pitch = voicing[k % len(voicing)] + 12 * (k // len(voicing))
                        pitch = pitch - 12 if pitch > hi else pitch
                        vel = (92 if on_beat else 76) * gain
                        events.append((t, length * 0.95, pitch, vel, ""))
                        continue
                    vel = level_velocity(char) * gain
                    if inst.texture == "strum":
                        # down-strokes on the beat and its half, up-strokes (top strings) between
                        halves = pos / (self.felt / 2)
                        down = abs(halves - round(halves)) < _EPS and round(halves) % 2 == 0
                        strings = voicing if down else voicing[::-1][:4]
                        for k, pitch in enumerate(strings):
                            off = k * strum_gap
                            ring = max(length - off, 0.05) * 0.95
                            events.append((t + off, ring, pitch, vel * (1 - 0.03 * k), ""))
                    elif inst.texture in ("stab", "power"):
                        ring = 0.85 if inst.texture == "stab" else 0.92
                        events.extend((t, length * ring, p, vel, "") for p in voicing)
                    else:
                        events.extend((t, length * 0.98, p, vel * 0.9, "") for p in voicing)
        return events

    # -- melodies --------------------------------------------------------------------------

    def _phrase_bars(self) -> int:
        bar_seconds = self.bpb * 60.0 / self.tempo
        target = self.style.singing.phrase_seconds
        return min((1, 2, 4), key=lambda k: abs(math.log(k * bar_seconds / target)))

    def _cells(self, weights: tuple[tuple[str, float], ...], sung: bool) -> list[tuple[str, float]]:
        """The rhythm cells of this meter; no 16ths for singers when a 16th is under 0.12 s."""
        table = COMPOUND_CELLS if self.felt > 1 else SIMPLE_CELLS
        fast = 15.0 / self.tempo < 0.12
        usable = [
            (n, w)
            for n, w in weights
            if n in table and not (sung and fast and any(ln < 0.5 for _, ln in table[n][1]))
        ]
        return usable or [("dq" if self.felt > 1 else "q", 1.0)]

    def _rhythm(self, length: float, cells: list[tuple[str, float]], rest: float):
        """Onsets and lengths of one phrase of `length` beats, built from rhythm cells, ending
        at least `rest` beats before the phrase's end."""
        rng = self.rng
        table = COMPOUND_CELLS if self.felt > 1 else SIMPLE_CELLS
        end = length - rest
        t = self.felt if end >= 3 * self.felt and rng.random() < 0.25 else 0.0
        notes: list[tuple[float, float]] = []
        while t < end - _EPS:
            options = [(n, w) for n, w in cells if table[n][0] <= end - t + _EPS]
            if not notes:
                options = [(n, w) for n, w in options if table[n][1]] or options
            if not options:
                break
            span, cell = table[_pick(rng, options)]
            notes.extend((t + on, ln) for on, ln in cell)
            t += span
        if len(notes) < 2 and end >= self.felt:
            notes = [(0.0, self.felt / 2), (self.felt / 2, self.felt / 2)]
        if notes:
            on, ln = notes[-1]
            notes[-1] = (on, max(ln, min(2.0 * self.felt, length - rest - on)))
        return [(on, ln) for on, ln in notes if on < length - _EPS]

    def _pitches(
        self, onsets: list[float], lo: int, hi: int, centre: float, span: int
    ) -> list[int]:
        """A contour over the chords: chord tones on felt beats, scale steps between, an arch
        over the phrase, the chord's root or third to end on."""
        rng = self.rng
        blue = tuple((self.tonic + b) % 12 for b in self.style.singing.blue_notes)
        band_lo = int(min(max(lo, round(centre - span / 2)), max(lo, hi - span)))
        band_hi = min(hi, band_lo + span)
        band = range(band_lo, band_hi + 1)
        out: list[int] = []
        n = len(onsets)
        peak = 0.3 + 0.45 * rng.random()  # where the arch culminates, as a fraction of the phrase
        for i, t in enumerate(onsets):
            chord = self.chord_at(t)
            local = [p for p in band if p % 12 in _local_scale(chord, self.scale, blue)]
            tones = [p for p in band if p % 12 in chord.sung_pcs(self.scale)] or local
            x = i / max(1, n - 1)
            rise = x / peak if x <= peak else (1 - x) / (1 - peak)
            target = band_lo + (band_hi - band_lo) * (0.25 + 0.55 * rise)
            strong = abs((t % self.bpb) % self.felt) < _EPS
            if not out:
                near = sorted(tones, key=lambda p: abs(p - target))[:2]
                out.append(_one(rng, near))
                continue
            prev = out[-1]
            up = target > prev + 1 or (abs(target - prev) <= 1 and rng.random() < 0.5)
            if i == n - 1:
                ends = [p for p in tones if (p - chord.root) % 12 in (0, chord.third(self.scale))]
                pitch = min(ends or tones, key=lambda p: (abs(p - prev), p))
            elif strong and rng.random() < 0.8:
                ahead = (
                    [p for p in tones if p > prev] if up else [p for p in tones if p < prev][::-1]
                )
                ahead = ahead or [p for p in tones if p != prev] or tones
                leap = len(ahead) > 1 and rng.random() < 0.2
                pitch = ahead[1] if leap else ahead[0]
            elif rng.random() < 0.15 and prev in local:
                pitch = prev
            else:
                above = [p for p in local if p > prev]
                below = [p for p in local if p < prev]
                pitch = ((above[:1] if up else below[-1:]) or above[:1] or below[-1:] or [prev])[0]
            out.append(int(pitch))
        return out

    def _line(self, sec: _Sec, lo: int, hi: int, centre: float, span: int, solo: bool) -> _Line:
        """Phrases of melody over a section: rhythm motifs A and B alternate with rests between
        phrases, and a motif over the same chords comes back with the same notes."""
        rng, singing = self.rng, self.style.singing
        cells = self._cells(singing.solo_cells if solo else singing.cells, sung=not solo)
        phrase_bars = self._phrase_bars()
        t_sec = self.bar_start(sec.start_bar)
        line = _Line()
        motifs: dict[tuple[int, float], list[tuple[float, float]]] = {}
        tunes: dict[tuple, list[int]] = {}
        for k, b in enumerate(range(0, sec.bars, phrase_bars)):
            length = min(phrase_bars, sec.bars - b) * self.bpb
            key = (k % 2, length)
            if key not in motifs:
                rest = max(1.0, self.felt * (1 if solo or rng.random() < 0.6 else 2))
                rest = min(rest, max(1.0, length - 2 * self.felt))
                motifs[key] = self._rhythm(length, cells, rest)
            rhythm = motifs[key]
            if not rhythm:
                continue
            start = b * self.bpb
            onsets = [t_sec + start + on for on, _ in rhythm]
            harmony = (key, tuple(self.chord_at(t).symbol for t in onsets))
            if harmony in tunes and not solo and rng.random() < 0.8:
                pitches = tunes[harmony]
            else:
                pitches = tunes[harmony] = self._pitches(onsets, lo, hi, centre, span)
            line.phrases.append(
                [(start + on, ln, p) for (on, ln), p in zip(rhythm, pitches, strict=True)]
            )
        return line

    def _lead(self, inst: Instrument) -> list[Event]:
        """An instrumental lead: the tune in verse and chorus of instrumentals, solos in the
        sections without singing."""
        rng = self.rng
        lo, hi = inst.register
        events: list[Event] = []
        tunes: dict[tuple[str, int], _Line] = {}
        for sec in self.sections:
            tune = not self.has_vocals and sec.name in ("verse", "chorus")
            plays = tune or (
                not sec.vocals
                and (sec.name == "bridge" or rng.random() < (0.4 if sec.name == "intro" else 0.5))
            )
            if not plays:
                continue
            if tune:
                key = (sec.name, sec.bars)
                centre = lo + (0.45 if sec.name == "verse" else 0.55) * (hi - lo)
                span = min(hi - lo, 14)
                if key not in tunes:
                    tunes[key] = self._line(sec, lo, hi, centre, span, solo=False)
                line = tunes[key]
            else:
                line = self._line(sec, lo, hi, lo + 0.5 * (hi - lo), min(hi - lo, 19), solo=True)
            gain = _scale(sec.dynamics)
            t_sec = self.bar_start(sec.start_bar)
            for phrase in line.phrases:
                for on, ln, p in phrase:
                    accent = 1.0 if abs(on % self.felt) < _EPS else 0.88
                    events.append((t_sec + on, ln, p, 100 * accent * gain, ""))
        return events

    # -- vocals ---------------------------------------------------------------------------

    def _vocals(self) -> list[Part]:
        """The lead vocal with one lyric syllable per note; choruses repeat their melody and
        words, verses their melody with new words; a double or harmony in choruses."""
        rng, style = self.rng, self.style
        voice = _one(rng, self.voices)
        lo, hi = voice_range(voice)
        span = min(style.singing.span, hi - lo)
        lines: dict[str, _Line] = {}
        events: list[Event] = []
        chorus_spans: list[tuple[float, float]] = []
        for sec in self.sections:
            if not sec.vocals:
                continue
            lift = {"chorus": 3, "bridge": 1}.get(sec.name, 0)
            centre = lo + 0.42 * (hi - lo) + lift
            cached = lines.get(sec.name)
            if cached is None or sec.name == "bridge":
                line = self._line(sec, lo, hi, centre, span, solo=False)
                line.words = [lyric_line(rng, len(p), style.words) for p in line.phrases]
                if sec.name == "chorus" and len(line.phrases) > 2:
                    for k in range(2, len(line.phrases), 2):
                        if len(line.phrases[k]) == len(line.phrases[0]):
                            line.words[k] = line.words[0]  # the hook comes back
                lines[sec.name] = line
            else:
                line = _Line(cached.phrases, cached.words)
                if sec.name != "chorus":
                    line.words = [lyric_line(rng, len(p), style.words) for p in line.phrases]
            gain = _scale(sec.dynamics)
            t_sec = self.bar_start(sec.start_bar)
            t_end = t_sec + sec.bars * self.bpb
            for phrase, words in zip(line.phrases, line.words, strict=True):
                for (on, ln, p), syllable in zip(phrase, words, strict=True):
                    if t_sec + on < t_end - _EPS:
                        events.append((t_sec + on, ln, p, 98 * gain, syllable))
            if sec.name == "chorus":
                chorus_spans.append((t_sec, t_end))
        parts = [self._finish("lead vocal", "vocals", "vocal_lead", 0, events, 0, 3.0, voice)]
        if chorus_spans:
            second = _one(rng, self.voices)
            how = _pick(rng, (("unison", 0.4), ("third", 0.4), ("sixth", 0.2)))
            doubled = [e for e in events if any(a - _EPS <= e[0] < b for a, b in chorus_spans)]
            if doubled:
                pitches = self._harmony_line([e[2] for e in doubled], how, voice_range(second))
                events2 = [
                    (e[0], e[1], p, e[3] * 0.85, e[4])
                    for e, p in zip(doubled, pitches, strict=True)
                ]
                name = "vocal double" if how == "unison" else "vocal harmony"
                parts.append(
                    self._finish(name, "vocals", "vocal_double", 0, events2, 0, 3.0, second)
                )
        return [p for p in parts if p.notes]

    def _harmony_line(self, pitches: list[int], how: str, bounds: tuple[int, int]) -> list[int]:
        """The lead's pitches in unison, or a diatonic third/sixth above, moved by octaves into
        the second singer's range."""
        lo, hi = bounds
        steps = {"unison": 0, "third": 2, "sixth": 5}[how]
        ladder = [p for p in range(0, 128) if p % 12 in self.scale]
        out = []
        for p in pitches:
            i = bisect_right(ladder, p) - 1
            out.append(ladder[min(len(ladder) - 1, i + steps)] if steps else p)
        shift = max(
            (-24, -12, 0, 12, 24), key=lambda s: (sum(lo <= q + s <= hi for q in out), -abs(s))
        )
        return [_fold(q + shift, lo, hi) for q in out]


def voice_range(voice: str) -> tuple[int, int]:
    """The MIDI range the composer writes for a singer: female voices higher."""
    return FEMALE_RANGE if any(m in voice for m in FEMALE_MARKS) else MALE_RANGE


# ---------------------------------------------------------------------------------------------
# Voicings


def _voice(
    kind: str, chord: _Chord, lo: int, hi: int, prev: list[int], scale: tuple[int, ...]
) -> list[int]:
    """Pitches of `chord` for an instrument in [lo, hi]: power, guitar and open shapes are
    fixed; close and shell voicings take the inversion nearest the previous voicing."""
    ivs = chord.intervals
    root = lo + (chord.root - lo) % 12
    fifth, third = chord.fifth(), chord.third(scale)
    if kind == "power":
        return [p for p in (root, root + fifth, root + 12) if p <= hi] or [root]
    if kind in ("guitar", "open"):
        sus = next((i for i in ivs if i in (2, 5)), None) if len(ivs) == 3 else None
        mid = sus if sus is not None and chord.quality.startswith("sus") else third
        upper = [i % 12 + 12 for i in ivs[3:]]
        if kind == "guitar":
            shape = [0, fifth, 12, mid + 12, fifth + 12] + (upper[:1] or [24])
        else:
            shape = [0, fifth, mid + 12] + upper[:2] + ([] if upper else [24])
        notes = sorted({root + s for s in shape if root + s <= hi})
        return notes if len(notes) >= 2 else [root, root + fifth]
    if kind == "shell" and len(ivs) >= 4:
        wanted = [ivs[1], ivs[3], ivs[4] if len(ivs) > 4 else 14]
    elif kind == "shell":
        wanted = [ivs[1] if len(ivs) > 2 else third, fifth, 14]
    else:
        wanted = list(ivs) if len(ivs) <= 4 else [i for i in ivs if i not in (6, 7, 8)][:4]
        if len(wanted) == 2:
            wanted.append(12)
    pcs = sorted({(chord.root + i) % 12 for i in wanted})
    centre = (lo + hi) / 2 - 2
    best: list[int] = []
    best_cost = math.inf
    for r in range(len(pcs)):
        order = pcs[r:] + pcs[:r]
        for base in range(lo, hi + 1):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                notes.append(notes[-1] + ((pc - notes[-1]) % 12 or 12))
            if notes[-1] > hi:
                break
            mean = sum(notes) / len(notes)
            if prev and len(prev) == len(notes):
                move = sum(abs(a - b) for a, b in zip(sorted(prev), notes, strict=True))
            else:
                move = abs(mean - (sum(prev) / len(prev) if prev else centre)) * len(notes)
            cost = move + 0.6 * abs(mean - centre)
            if cost < best_cost:
                best, best_cost = notes, cost
    return best or [root, root + third, root + fifth]
