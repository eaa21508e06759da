"""The composer: deterministic, valid scores whose genres really differ (pure Python, fast)."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from stemdeck.training.synth.compose import compose, lyric_line, parse_numeral, swing_time
from stemdeck.training.synth.score import GENRES, STEMS, Song
from stemdeck.training.synth.styles import COMPOUND_CELLS, SIMPLE_CELLS, STYLES

pytestmark = pytest.mark.unit

VOICES = ("festival:kal", "festival:slt", "espeak:en-us+m3", "espeak:en+f3")
SEEDS = range(6)
ROLES = {
    "drums": {"drums"},
    "bass": {"bass"},
    "other": {"chords", "pad", "lead", "guitar_distorted"},
    "vocals": {"vocal_lead", "vocal_double"},
}


@pytest.fixture(scope="module")
def songs() -> dict[tuple[str, int], Song]:
    """Six 30 s songs per genre, composed once for the whole module."""
    return {(g, s): compose(g, 30.0, s, f"{g}-{s}", VOICES) for g in GENRES for s in SEEDS}


def _female(voice: str) -> bool:
    return any(mark in voice for mark in ("slt", "lp", "+f"))


def test_same_seed_same_song_and_other_seeds_differ() -> None:
    a = compose("rock", 30.0, 7, "t", VOICES)
    assert a == compose("rock", 30.0, 7, "t", VOICES)
    assert a != compose("rock", 30.0, 8, "t", VOICES)
    assert a.title == "t" and a.seed == 7 and a.genre == "rock"


@pytest.mark.parametrize("genre", GENRES)
def test_every_genre_composes_valid_30_second_songs(genre, songs) -> None:
    for seed in SEEDS:
        song = songs[genre, seed]
        assert song.beats * song.seconds_per_beat >= 30.0
        assert re.fullmatch(r"(C|C#|D|Eb|E|F|F#|G|Ab|A|Bb|B) \w+", song.key)
        assert song.beats_per_bar == song.time_signature[0] * 4 / song.time_signature[1]
        assert 0.0 <= song.swing <= 1.0
        bar = 0
        for section in song.sections:  # contiguous from bar 0
            assert section.start_bar == bar and section.bars > 0
            assert section.name in ("intro", "verse", "chorus", "bridge", "outro")
            assert 0.0 <= section.dynamics <= 1.0
            bar += section.bars
        assert song.chords[0].start == 0.0
        assert sum(c.length for c in song.chords) == pytest.approx(song.beats)
        counts = Counter(p.stem for p in song.parts)
        assert counts["drums"] == (0 if genre == "classical" else 1)
        assert counts["bass"] == 1 and 1 <= counts["other"] <= 3 and counts["vocals"] <= 2
        for part in song.parts:
            assert part.stem in STEMS and part.role in ROLES[part.stem], part
            assert 0 <= part.program <= 127 and part.notes
            if part.program in (29, 30):
                assert part.role == "guitar_distorted"
            for n in part.notes:
                assert 0 <= n.start <= song.beats and n.length > 0, n
                assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127, n


def test_classical_has_no_drums_and_orchestral_bass(songs) -> None:
    for seed in SEEDS:
        song = songs["classical", seed]
        assert not song.parts_of("drums")
        assert song.parts_of("bass")[0].program in (42, 43)


def test_drum_kits_bass_programs_and_distorted_guitars_fit_the_genre(songs) -> None:
    for (genre, _), song in songs.items():
        bass = song.parts_of("bass")[0]
        if genre != "classical":
            assert 32 <= bass.program <= 39
            assert song.parts_of("drums")[0].program in (0, 8, 16, 24, 25, 32, 40, 48)
        if genre == "jazz":
            assert song.parts_of("drums")[0].program in (32, 40)
    metal_roles = {p.role for s in SEEDS for p in songs["metal", s].parts_of("other")}
    assert "guitar_distorted" in metal_roles


def _drum_profile(songs, genre: str) -> Counter:
    """How often each (GM key, 16th position in the bar) sounds, over a genre's songs."""
    profile: Counter = Counter()
    for seed in SEEDS:
        song = songs[genre, seed]
        for n in song.parts_of("drums")[0].notes:
            profile[n.pitch, round((n.start % song.beats_per_bar) * 4)] += 1
    return profile


def test_drum_grooves_differ_between_genres(songs) -> None:
    drummed = [g for g in GENRES if g != "classical"]
    profiles = {g: _drum_profile(songs, g) for g in drummed}
    for i, a in enumerate(drummed):
        for b in drummed[i + 1 :]:
            pa, pb = profiles[a], profiles[b]
            ta, tb = sum(pa.values()), sum(pb.values())
            distance = sum(abs(pa[k] / ta - pb[k] / tb) for k in set(pa) | set(pb))
            assert distance > 0.3, (a, b, distance)


def test_characteristic_grooves(songs) -> None:
    def share(genre: str, key: int, positions: set[int]) -> float:
        hits = [(k, p) for (k, p), c in _drum_profile(songs, genre).items() for _ in range(c)]
        on_key = [p % 16 for k, p in hits if k == key]
        return sum(p in positions for p in on_key) / max(1, len(on_key))

    assert share("disco", 36, {0, 4, 8, 12}) > 0.9  # four on the floor
    assert share("rock", 38, {4, 12}) > 0.7  # backbeat on 2 and 4
    reggae_rims = [
        s for s in SEEDS if any(n.pitch == 37 for n in songs["reggae", s].parts[0].notes)
    ]
    assert reggae_rims  # rim-shots of the one drop / rockers
    jazz_keys = {n.pitch for s in SEEDS for n in songs["jazz", s].parts[0].notes}
    assert 51 in jazz_keys and 44 in jazz_keys  # ride and foot hi-hat


def test_tempo_and_meter_stay_in_the_style(songs) -> None:
    for (genre, _), song in songs.items():
        meters = [m for m in STYLES[genre].meters if m.signature == song.time_signature]
        assert any(m.tempo[0] <= song.tempo <= m.tempo[1] for m in meters), (genre, song.tempo)
    for seed in range(30):
        assert compose("classical", 30.0, seed, "t", ()).time_signature in ((4, 4), (3, 4))
        assert 110 <= compose("disco", 30.0, seed, "t", ()).tempo <= 132


def test_vocals_only_where_sections_allow(songs) -> None:
    for song in songs.values():
        bpb = song.beats_per_bar
        for part in song.parts_of("vocals"):
            for n in part.notes:
                section = next(
                    s
                    for s in song.sections
                    if s.start_bar * bpb <= n.start < (s.start_bar + s.bars) * bpb
                )
                assert section.vocals, (song.title, section, n)
                if part.role == "vocal_double":
                    assert section.name == "chorus"
        for section in song.sections:
            if section.name == "intro" or section.name == "outro":
                assert not section.vocals


def test_some_songs_are_instrumental() -> None:
    sung = [bool(compose("pop", 30.0, s, "t", VOICES).parts_of("vocals")) for s in range(60)]
    assert 0 < sung.count(False) < 20
    assert not compose("pop", 30.0, 1, "t", ()).parts_of("vocals")
    instrumental = next(s for s in range(60) if not sung[s])
    song = compose("pop", 30.0, instrumental, "t", VOICES)
    assert not any(s.vocals for s in song.sections)
    assert any(p.role == "lead" or p.role == "guitar_distorted" for p in song.parts_of("other"))


def test_vocal_lines_fit_the_singer(songs) -> None:
    sung = 0
    eighths_to_halves: dict[str, list[bool]] = {}
    for song in songs.values():
        parts = song.parts_of("vocals")
        if not parts:
            continue
        sung += 1
        lead = parts[0]
        assert lead.role == "vocal_lead" and lead.voice in VOICES
        shortest = 0.25 * (1 - song.swing / 3) - 1e-3  # a 16th, or a swung 16th
        for part in parts:
            low, high = (57, 76) if _female(part.voice) else (45, 67)
            for n in part.notes:
                assert low <= n.pitch <= high, (part.voice, n)
                assert re.fullmatch(r"[a-z]+", n.syllable), n
                assert n.length >= shortest, n
            eighth = 2 * shortest  # a swung 8th is shorter than half a beat
            eighths_to_halves.setdefault(song.genre, []).extend(
                eighth <= n.length <= 2.1 for n in part.notes
            )
        if len(parts) == 2:
            double = parts[1]
            assert double.role == "vocal_double" and double.voice in VOICES
            by_start = {n.start: n.syllable for n in lead.notes}
            assert all(by_start[n.start] == n.syllable for n in double.notes)
    assert sung >= len(songs) // 2
    for genre, fits in eighths_to_halves.items():  # mostly 8ths to halves
        assert sum(fits) / len(fits) > 0.6, genre


def test_bass_stays_in_range(songs) -> None:
    for song in songs.values():
        (bass,) = song.parts_of("bass")
        assert all(28 <= n.pitch <= 55 for n in bass.notes)


def test_excerpts_enter_the_form_at_different_places() -> None:
    firsts = {compose("rock", 30.0, s, "t", VOICES).sections[0].name for s in range(20)}
    assert len(firsts) >= 2
    long = compose("rock", 240.0, 3, "t", VOICES)
    assert long.sections[0].name == "intro"
    assert long.beats * long.seconds_per_beat >= 240.0


def test_swing_delays_the_off_beat() -> None:
    import numpy as np

    t = np.array([0.0, 0.5, 1.0, 1.5, 0.25])
    assert swing_time(t, 1.0, 0.5)[:4].tolist() == pytest.approx(
        [0.0, 0.5 + 1 / 6, 1.0, 1.5 + 1 / 6]
    )
    assert swing_time(t, 0.6, 0.25)[4] == pytest.approx(0.25 + 0.6 / 12)
    assert swing_time(t, 0.0, 0.5).tolist() == t.tolist()


def test_roman_numerals_and_lyrics() -> None:
    assert parse_numeral("V7") == (7, "7", 7)
    assert parse_numeral("ii7") == (2, "m7", 2)
    assert parse_numeral("bVImaj7") == (8, "maj7", 8)
    assert parse_numeral("V/3") == (7, "", 11)
    assert parse_numeral("#ivo7") == (6, "dim7", 6)
    import numpy as np

    rng = np.random.default_rng(0)
    for n in range(1, 14):
        line = lyric_line(rng, n, ("road", "mid-night"))
        assert len(line) == n and all(re.fullmatch(r"[a-z]+", s) for s in line)


def test_style_tables_are_consistent() -> None:
    for style in STYLES.values():
        names = {i.name for i in style.instruments}
        for arrangement, _ in style.arrangements:
            assert set(arrangement) <= names and 1 <= len(arrangement) <= 3
        assert set(style.leads) <= names
        steps = {m.name: m.steps for m in style.meters} | {m.label: m.steps for m in style.meters}
        for g in style.grooves:
            for _, lane in g.lanes:
                assert all(len(lane) % steps[m] == 0 for m in g.meters if m in steps), g
        for f in style.fills:
            assert len({len(lane) for _, lane in f.lanes}) <= 1, f
        for b in style.bass_lines:
            if b.pattern not in ("walk", "kick"):
                assert set(b.pattern) <= set("RO5F367 24A.-"), b
                assert all(len(b.pattern) % steps[m] == 0 for m in b.meters if m in steps), b
        for inst in style.instruments:
            for r in inst.rhythms:
                assert all(len(r.pattern) % steps[m] == 0 for m in r.meters if m in steps), r
        for p in style.progressions:
            for token in p.chords.replace("|", " ").split():
                parse_numeral(token)
        for cell, _ in style.singing.cells + style.singing.solo_cells:
            assert cell in SIMPLE_CELLS or cell in COMPOUND_CELLS


def test_compose_is_quick() -> None:
    started = time.perf_counter()
    for seed in range(10):
        compose(GENRES[seed], 30.0, seed, "t", VOICES)
    assert (time.perf_counter() - started) / 10 < 0.25  # ~10-20 ms on an idle core
