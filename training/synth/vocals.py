"""Sung vocal lines with words: Festival and espeak-ng turned into singers.

Neither synthesiser sings on its own well enough for a separation corpus: Festival's singing
mode follows pitch and duration only with its diphone voices (the HTS voice ignores both), and
espeak-ng only speaks. So every voice goes through the same two steps:

1. *Speak*: each phrase (notes split at rests of a beat or more) is synthesised in one call per
   phrase, all phrases of a part in one process, with the phone timings the synthesiser itself
   reports (Festival's Segment relation, espeak-ng's phoneme and mark events). Festival is asked
   to sing (singing mode with SECONDS/FREQ, which sidesteps its BPM and octave quirks); espeak-ng
   speaks at a constant pitch near the phrase's notes.
2. *Sing*: a TD-PSOLA resynthesis puts every syllable where its note is: onset consonants at
   the note start at their natural length, the vowel held for the rest of the note, coda
   consonants at its end, and every voiced grain at the note's pitch (with a short glide from
   the previous note and a little vibrato on long notes), so timing and pitch come from the
   score, not from the synthesiser.

The result is a dry mono line, peak-normalised to 0.5; the mixer adds space and level.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfiltfilt

from stemdeck.common.audio import TARGET_RATE
from stemdeck.training.synth.score import Note, Part, Song

INSTALL_HINT = "run scripts/install-synth-deps"
#: Festival voice short name -> (Festival voice, Debian package, gender).
FESTIVAL_VOICES = {
    "kal": ("kal_diphone", "festvox-kallpc16k", "male"),
    "ked": ("ked_diphone", "festvox-kdlpc16k", "male"),
    "slt": ("cmu_us_slt_arctic_hts", "festvox-us-slt-hts", "female"),
    "lp": ("lp_diphone", "festvox-italp16k", "female"),
}
#: espeak-ng language+variant singers offered when espeak-ng is installed.
ESPEAK_VOICES = ("en-us+m3", "en-us+m7", "en+f3", "en-us+f4")
#: Notes further apart than this (in beats) start a new phrase, i.e. a new synthesiser call.
PHRASE_GAP_BEATS = 1.0
PEAK = 0.5

_FESTIVAL_DIPHONES = ("kal", "ked", "lp")  # these already sing what they are asked to
_ESPEAK_RATE = 150  # words (here: syllables) per minute: natural consonants, short vowels
_LEGATO_S = 0.06  # a note starting this soon after the previous one glides from its pitch
_GLIDE_S = 0.03
_VIBRATO = (5.5, 25.0, 0.22, 0.25)  # rate Hz, depth cents, onset s, ramp s
_FADE_IN_S, _FADE_OUT_S = 0.003, 0.015
_UNVOICED_HOP_S = 0.005
_TIMEOUT_S = 600  # a synthesiser call for one part; far beyond any real part


@dataclass(frozen=True)
class _Syllable:
    """One note to sing, in seconds from the song's start."""

    start: float
    length: float
    f0: float
    velocity: int
    text: str


@dataclass(frozen=True)
class _Phone:
    """A phone of the synthesiser's output, in seconds from the phrase audio's start."""

    name: str
    start: float
    end: float
    vowel: bool


@dataclass
class _Spoken:
    """One phrase as the synthesiser produced it: audio and each syllable's phones."""

    audio: np.ndarray
    rate: int
    phones: list[list[_Phone]]  # one list per syllable (may be empty if it said nothing)
    f0: list[float | None]  # the pitch each syllable was produced at, None if unknown


# ---------------------------------------------------------------------------------------------
# Public API


def available_voices() -> list[str]:
    """The singers usable on this machine, e.g. "festival:kal", "espeak:en-us+m3"."""
    return list(_available_voices())


def voice_gender(voice: str) -> str:
    """Whether the singer is "male" or "female": the range the composer should write for."""
    engine, name = _parse_voice(voice)
    if engine == "festival":
        return FESTIVAL_VOICES[name][2]
    variant = name.partition("+")[2]
    return "female" if variant.startswith("f") else "male"


def render_vocal_part(part: Part, song: Song, sample_rate: int = TARGET_RATE) -> np.ndarray:
    """The part sung dry: float32 mono, exactly as long as the song, silent between notes.

    Each note sings its `syllable` (letters and apostrophes kept, "ah" if none are left) at
    its pitch from its start for its length. Raises RuntimeError naming the package to install
    when the synthesiser or voice is missing, ValueError for a voice name it does not know.
    """
    frames = math.ceil(song.beats * song.seconds_per_beat * sample_rate)
    if not part.voice:
        raise ValueError(f"vocal part {part.name!r} has no voice")
    engine, name = _parse_voice(part.voice)
    phrases = _phrases(part.notes, song)
    if not phrases:
        return np.zeros(frames, dtype=np.float32)
    if engine == "festival":
        spoken = _festival_speak(name, phrases)
    else:
        spoken = _espeak_speak(name, phrases)
    rate = spoken[0].rate
    sung = np.zeros(math.ceil(song.beats * song.seconds_per_beat * rate) + rate, np.float64)
    for phrase, said in zip(phrases, spoken, strict=True):
        _sing_phrase(said, phrase, sung)
    out = soxr.resample(sung, rate, sample_rate, quality="HQ")
    out = _fit(out, frames) * _gate([s for p in phrases for s in p], frames, sample_rate)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= PEAK / peak
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Voices and installation checks


@functools.cache
def _available_voices() -> tuple[str, ...]:
    voices = [f"festival:{short}" for short in FESTIVAL_VOICES if _festival_has(short)]
    if _espeak_library() is not None:
        voices += [f"espeak:{v}" for v in ESPEAK_VOICES if _espeak_has(v)]
    return tuple(voices)


def _parse_voice(voice: str) -> tuple[str, str]:
    engine, _, name = voice.partition(":")
    if engine == "festival" and name in FESTIVAL_VOICES:
        return engine, name
    if engine == "espeak" and re.fullmatch(r"[A-Za-z-]+(\+[A-Za-z0-9_-]+)?", name):
        return engine, name
    known = ", ".join(f"festival:{v}" for v in FESTIVAL_VOICES)
    raise ValueError(f"unknown voice {voice!r}: expected one of {known} or espeak:<lang>+<variant>")


@functools.cache
def _festival_voice_list() -> tuple[str, ...]:
    if shutil.which("festival") is None:
        return ()
    done = subprocess.run(
        ["festival", "-b", "(print (voice.list))"], capture_output=True, text=True, check=False
    )
    return tuple(re.findall(r"[\w-]+", done.stdout))


def _festival_has(short: str) -> bool:
    return FESTIVAL_VOICES[short][0] in _festival_voice_list()


def _require_festival(short: str) -> str:
    """The Festival voice name, or a RuntimeError saying which package is missing."""
    if shutil.which("festival") is None:
        raise RuntimeError(f"festival is not installed: {INSTALL_HINT}")
    voice, package, _ = FESTIVAL_VOICES[short]
    if not _festival_has(short):
        raise RuntimeError(
            f"Festival voice {voice} is not installed (Debian package {package}): {INSTALL_HINT}"
        )
    return voice


@functools.cache
def _espeak_library() -> str | None:
    """The libespeak-ng path to load, if espeak-ng is installed."""
    if shutil.which("espeak-ng") is None:
        return None
    import ctypes.util

    for name in ("libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")):
        if name:
            try:
                ctypes.CDLL(name)
            except OSError:
                continue
            return name
    return None


@functools.cache
def _espeak_listing(kind: str) -> str:
    done = subprocess.run(
        ["espeak-ng", f"--voices={kind}"], capture_output=True, text=True, check=False
    )
    return done.stdout


def _espeak_has(voice: str) -> bool:
    language, _, variant = voice.partition("+")
    languages = set(re.findall(r"^\s*\d+\s+(\S+)|\((\S+) \d+\)", _espeak_listing(""), re.M))
    languages = {name for pair in languages for name in pair if name}
    variants = re.findall(r"!v/(\S+)", _espeak_listing("variant"))
    return language in languages and (not variant or variant in variants)


def _require_espeak(voice: str) -> str:
    library = _espeak_library()
    if library is None:
        raise RuntimeError(f"espeak-ng is not installed: {INSTALL_HINT}")
    if not _espeak_has(voice):
        raise RuntimeError(f"espeak-ng has no voice {voice!r}: {INSTALL_HINT}")
    return library


# ---------------------------------------------------------------------------------------------
# Score -> phrases


def _phrases(notes: list[Note], song: Song) -> list[list[_Syllable]]:
    """Notes in time order, overlaps cut, split at rests of PHRASE_GAP_BEATS or more."""
    end = song.beats
    ordered = sorted((n for n in notes if n.length > 0 and n.start < end), key=lambda n: n.start)
    phrases: list[list[_Syllable]] = []
    previous_end = -math.inf
    for i, note in enumerate(ordered):
        stop = min(note.start + note.length, end)
        if i + 1 < len(ordered):
            stop = min(stop, ordered[i + 1].start)
        if stop - note.start <= 1e-6:
            continue
        syllable = _Syllable(
            start=note.start * song.seconds_per_beat,
            length=(stop - note.start) * song.seconds_per_beat,
            f0=440.0 * 2 ** ((note.pitch - 69) / 12),
            velocity=note.velocity,
            text=_clean_text(note.syllable),
        )
        if not phrases or note.start - previous_end >= PHRASE_GAP_BEATS:
            phrases.append([])
        phrases[-1].append(syllable)
        previous_end = stop
    return phrases


def _clean_text(syllable: str) -> str:
    """Letters and apostrophes only, so each syllable is exactly one word to the synthesiser."""
    text = re.sub(r"[^A-Za-z']+", "", syllable).strip("'").lower()
    return text or "ah"


# ---------------------------------------------------------------------------------------------
# Festival

_FESTIVAL_DRIVER = r"""
(require 'singing-mode)
;; One syllable (note) per token, however many syllables Festival finds in it: share the note's
;; duration and pitch between them (stock singing mode drops or doubles them instead).
(define (sd_token_syllables syl)
  (let ((token (item.parent (item.relation (item.parent (item.relation syl 'SylStructure))
                                           'Token))))
    (apply + (mapcar (lambda (w) (length (item.daughters (item.relation w 'SylStructure))))
                     (item.daughters token)))))
(define (syl->durations syl)
  (let ((durs (singing-feat syl "R:SylStructure.parent.R:Token.parent.dur")))
    (list (/ (parse-number (car (car durs))) (sd_token_syllables syl)))))
(define (syl->freq syl)
  (car (singing-feat syl "R:SylStructure.parent.R:Token.parent.freq")))
(define (sd_vowel seg)
  (if (or (string-equal "+" (item.feat seg "ph_vc"))
          (string-equal "+" (item.feat seg "singing-vc")))
      1 0))
(defvar sd_utts nil)
(defvar sd_token 0)
(defvar sd_offset 0.0)
(define (sd_keep utt) (set! sd_utts (cons utt sd_utts)) utt)
(set! tts_hooks (list utt.synth sd_keep))
(define (sd_dump fd utt)
  (mapcar
   (lambda (token)
     (mapcar
      (lambda (word)
        (mapcar
         (lambda (syl)
           (mapcar
            (lambda (seg)
              (format fd "%d %s %f %f %d\n" sd_token (item.name seg)
                      (+ sd_offset (item.feat seg "segment_start"))
                      (+ sd_offset (item.feat seg "segment_end")) (sd_vowel seg)))
            (item.daughters syl)))
         (item.daughters (item.relation word 'SylStructure))))
      (item.daughters token))
     (if (item.daughters token) (set! sd_token (+ sd_token 1))))
   (utt.relation.items utt 'Token)))
(define (sd_phrase xml wavs phones)
  (set! sd_utts nil)
  (set! sd_token 0)
  (set! sd_offset 0.0)
  (tts_file xml 'singing)
  (let ((fd (fopen phones "w")) (k 0))
    (mapcar
     (lambda (utt)
       (wave.save (utt.wave utt) (format nil "%s%d.wav" wavs k) 'riff)
       (sd_dump fd utt)
       (let ((info (wave.info (utt.wave utt))))
         (set! sd_offset (+ sd_offset (/ (cadr (assoc 'num_samples info))
                                         (cadr (assoc 'sample_rate info))))))
       (set! k (+ k 1)))
     (reverse sd_utts))
    (fclose fd)))
"""


def _festival_speak(short: str, phrases: list[list[_Syllable]]) -> list[_Spoken]:
    """Every phrase sung by Festival in one process; audio plus per-syllable phones."""
    voice = _require_festival(short)
    with tempfile.TemporaryDirectory(prefix="stemdeck-vocals-") as tmp:
        folder = Path(tmp)
        lines = [f"(voice_{voice})", _FESTIVAL_DRIVER]
        for i, phrase in enumerate(phrases):
            (folder / f"p{i}.xml").write_text(_singing_xml(phrase), encoding="utf-8")
            paths = (folder / f"p{i}.xml", f"{folder / f'p{i}'}_", folder / f"p{i}.txt")
            lines.append(f"(sd_phrase {' '.join(_scheme_string(p) for p in paths)})")
        (folder / "driver.scm").write_text("\n".join(lines), encoding="utf-8")
        done = subprocess.run(
            ["festival", "-b", str(folder / "driver.scm")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=_TIMEOUT_S,
        )
        said = all((folder / f"p{i}.txt").exists() for i in range(len(phrases)))
        if done.returncode != 0 or not said:
            raise RuntimeError(f"festival failed on voice {voice}: {done.stderr.strip()[-500:]}")
        diphone = short in _FESTIVAL_DIPHONES
        return [
            _read_festival_phrase(folder, i, phrase, diphone) for i, phrase in enumerate(phrases)
        ]


def _scheme_string(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _singing_xml(phrase: list[_Syllable]) -> str:
    """Festival singing-mode markup: explicit seconds and Hz avoid its BPM and octave quirks.

    A spare "la" ends the phrase so that the last real syllable escapes phrase-final fading.
    """
    body = "\n".join(
        f'<PITCH FREQ="{s.f0:.2f}"><DURATION SECONDS="{s.length:.4f}">{s.text}</DURATION></PITCH>'
        for s in [*phrase, _spare(phrase)]
    )
    return (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
        '"Singing.v0_1.dtd" []>\n'
        f'<SINGING BPM="60">\n{body}\n</SINGING>\n'
    )


def _spare(phrase: list[_Syllable]) -> _Syllable:
    last = phrase[-1]
    return _Syllable(last.start + last.length, 0.3, last.f0, last.velocity, "la")


def _read_festival_phrase(
    folder: Path, index: int, phrase: list[_Syllable], diphone: bool
) -> _Spoken:
    waves = sorted(folder.glob(f"p{index}_*.wav"), key=lambda p: int(p.stem.split("_")[1]))
    parts = [sf.read(p, dtype="float64", always_2d=True) for p in waves]
    rate = parts[0][1]
    audio = np.concatenate([a[:, 0] for a, _ in parts])
    phones: list[list[_Phone]] = [[] for _ in phrase]
    for line in (folder / f"p{index}.txt").read_text(encoding="utf-8").splitlines():
        token, name, start, end, vowel = line.split()
        if int(token) < len(phrase):
            phones[int(token)].append(_Phone(name, float(start), float(end), vowel == "1"))
    f0 = [s.f0 if diphone else None for s in phrase]
    return _Spoken(audio, rate, _share_out(phones), f0)


# ---------------------------------------------------------------------------------------------
# espeak-ng

# Runs in a fresh interpreter per part: libespeak-ng keeps state (wave phase, filters) from one
# call to the next, so only a fresh process gives the same samples for the same part every time.
_ESPEAK_WORKER = r"""
import ctypes, json, sys
job = json.load(sys.stdin)
lib = ctypes.CDLL(job["library"])
libc = ctypes.CDLL(None)

class Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]

CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                            ctypes.POINTER(Event))
pcm, events = [], []

def collect(wav, count, event):
    if count > 0:
        pcm.append(ctypes.string_at(wav, 2 * count))
    i = 0
    while event[i].type != 0:
        e = event[i]
        if e.type == 3:
            name = ctypes.cast(ctypes.addressof(e) + Event.id.offset,
                               ctypes.POINTER(ctypes.c_char_p))[0]
            events.append(["mark", e.audio_position, name.decode()])
        elif e.type == 7:
            events.append(["phone", e.audio_position, e.id.decode("utf-8", "replace")])
        i += 1
    return 0

callback = CALLBACK(collect)
rate = lib.espeak_Initialize(2, 0, None, 0x0001 | 0x8000)
if rate <= 0 or lib.espeak_SetVoiceByName(job["voice"].encode()) != 0:
    sys.exit("espeak-ng cannot load voice " + job["voice"])
lib.espeak_SetSynthCallback(callback)
lib.espeak_SetParameter(1, job["rate"], 0)
lib.espeak_SetParameter(4, 0, 0)
path = ctypes.c_char_p()
lib.espeak_Info.restype = ctypes.c_char_p
lib.espeak_Info(ctypes.byref(path))
results = []
for i, phrase in enumerate(job["phrases"]):
    pcm.clear()
    events.clear()
    libc.srand(1)
    lib.espeak_ng_SetConstF0(int(phrase["f0"]))
    text = phrase["ssml"].encode()
    lib.espeak_Synth(text, len(text) + 1, 0, 1, 0, 0x1 | 0x10, None, None)
    lib.espeak_Synchronize()
    with open(job["folder"] + "/p%d.raw" % i, "wb") as out:
        out.write(b"".join(pcm))
    results.append(list(events))
json.dump({"rate": rate, "data": (path.value or b"").decode(), "events": results}, sys.stdout)
"""

# espeak-ng phoneme names that are vowels (first character), for English and most languages.
_ESPEAK_VOWEL_START = set("aeiouyAEIOUVY03@&")


def _espeak_speak(voice: str, phrases: list[list[_Syllable]]) -> list[_Spoken]:
    """Every phrase spoken by espeak-ng at a constant pitch, with per-syllable phones."""
    library = _require_espeak(voice)
    with tempfile.TemporaryDirectory(prefix="stemdeck-vocals-") as tmp:
        job = {
            "library": library,
            "voice": voice,
            "rate": _ESPEAK_RATE,
            "folder": tmp,
            "phrases": [{"ssml": _espeak_ssml(p), "f0": _phrase_f0(p)} for p in phrases],
        }
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _ESPEAK_WORKER],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            check=False,
            timeout=_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng failed on voice {voice}: {done.stderr.strip()[-500:]}")
        result = json.loads(done.stdout)
        echo = _espeak_echo(Path(result["data"]), voice)
        spoken = []
        for i, phrase in enumerate(phrases):
            raw = np.fromfile(Path(tmp) / f"p{i}.raw", dtype="<i2").astype(np.float64) / 32768
            audio = _remove_echo(raw, result["rate"], echo)
            events = result["events"][i]
            phones = _share_out(_espeak_phones(events, len(phrase), len(audio) / result["rate"]))
            f0 = float(int(_phrase_f0(phrase)))
            spoken.append(_Spoken(audio, result["rate"], phones, [f0] * len(phrase)))
        return spoken


def _espeak_ssml(phrase: list[_Syllable]) -> str:
    """One <mark> before each syllable, and a spare one at the end (see _singing_xml)."""
    syllables = [*phrase, _spare(phrase)]
    marks = " ".join(f'<mark name="{i}"/>{s.text}' for i, s in enumerate(syllables))
    return f"<speak>{marks}</speak>"


def _phrase_f0(phrase: list[_Syllable]) -> int:
    """The pitch espeak-ng speaks a phrase at: the geometric middle of its notes."""
    logs = [math.log2(s.f0) for s in phrase]
    return round(2 ** ((min(logs) + max(logs)) / 2))


def _espeak_phones(events: list, count: int, duration: float) -> list[list[_Phone]]:
    """Group espeak-ng's phoneme events under the <mark> before them (one mark per syllable)."""
    phones: list[list[_Phone]] = [[] for _ in range(count)]
    current = -1
    timeline: list[tuple[int, float, str]] = []
    for kind, ms, name in events:
        if kind == "mark":
            current = int(name) if name.isdigit() else current
        else:
            timeline.append((current, ms / 1000, name))
    for i, (syllable, start, name) in enumerate(timeline):
        end = timeline[i + 1][1] if i + 1 < len(timeline) else duration
        if 0 <= syllable < count and not name.startswith("_") and end > start:
            vowel = name[0] in _ESPEAK_VOWEL_START
            phones[syllable].append(_Phone(name, start, end, vowel))
    return phones


def _share_out(phones: list[list[_Phone]]) -> list[list[_Phone]]:
    """Give every syllable some phones. espeak-ng speaks unstressed words together with their
    neighbour ("in the") and reports both marks after them: split such a group at its vowels.
    A syllable still left empty holds the previous syllable's vowel (a melisma)."""
    out = [list(p) for p in phones]
    i = 0
    while i < len(out):
        j = i + 1
        while j < len(out) and not out[j]:
            j += 1
        if out[i] and j > i + 1:
            pieces = _split_at_vowels(out[i], j - i)
            out[i : i + len(pieces)] = pieces
        i = j
    for i in range(1, len(out)):
        if not out[i]:
            out[i] = [p for p in out[i - 1] if p.vowel][-1:]
    return out


def _split_at_vowels(group: list[_Phone], count: int) -> list[list[_Phone]]:
    """Up to `count` syllables from one run of phones, cut before the consonant(s) leading
    into each vowel (one consonant goes to the next syllable; of a cluster, all but the first)."""
    nuclei = [i for i, p in enumerate(group) if p.vowel and (i == 0 or not group[i - 1].vowel)]
    cuts = []
    for m in range(1, min(count, len(nuclei))):
        previous_end = nuclei[m - 1]
        while previous_end + 1 < len(group) and group[previous_end + 1].vowel:
            previous_end += 1
        consonants = nuclei[m] - previous_end - 1
        cuts.append(nuclei[m] - consonants + (1 if consonants > 1 else 0))
    bounds = [0, *cuts, len(group)]
    return [group[a:b] for a, b in pairwise(bounds)]


def _espeak_echo(data: Path, voice: str) -> tuple[float, float]:
    """(delay s, gain) of the echo some espeak-ng variants add: a dry stem must not have it."""
    variant = voice.partition("+")[2]
    if not variant:
        return 0.0, 0.0
    try:
        text = (data / "voices" / "!v" / variant).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0.0, 0.0
    found = re.search(r"^\s*echo\s+(\d+)\s+(\d+)", text, flags=re.MULTILINE)
    if not found:
        return 0.0, 0.0
    return int(found.group(1)) / 1000, min(int(found.group(2)), 100) / 256


def _remove_echo(audio: np.ndarray, rate: int, echo: tuple[float, float]) -> np.ndarray:
    """Undo espeak-ng's feedback echo y[n] = x[n] + g*y[n-D]: x[n] = y[n] - g*y[n-D]."""
    delay_s, gain = echo
    delay = int(delay_s * rate)
    if gain <= 0 or delay <= 0 or delay >= len(audio):
        return audio
    dry = audio.copy()
    dry[delay:] -= gain * audio[:-delay]
    return dry


# ---------------------------------------------------------------------------------------------
# Singing: TD-PSOLA onto the score


def _sing_phrase(said: _Spoken, phrase: list[_Syllable], out: np.ndarray) -> None:
    """Resynthesise each spoken syllable onto its note, adding into `out` (at said.rate)."""
    rate = said.rate
    pad = rate // 20
    x = np.concatenate([np.zeros(pad), said.audio, np.zeros(pad)])
    low = sosfiltfilt(butter(2, 1000, fs=rate, output="sos"), x)
    envelope = np.convolve(np.abs(x), np.ones(rate // 200) / (rate // 200), mode="same")
    spans = [_source_span(p, envelope, rate, pad) if p else None for p in said.phones]
    levels = _vowel_levels(x, spans)
    previous: _Syllable | None = None
    for syllable, span, f0, level in zip(phrase, spans, said.f0, levels, strict=True):
        if span is not None:
            marks = _pitch_marks(x, low, rate, span[0], span[-1], f0)
            gain = (0.55 + 0.45 * syllable.velocity / 127) * 0.1 / level
            _overlap_add(x, marks, span, syllable, previous, gain, rate, out)
        previous = syllable


def _vowel_levels(x: np.ndarray, spans: list[list[float] | None]) -> list[float]:
    """Each syllable's loudness: the RMS of its vowel or of the whole syllable, whichever is
    louder (a syllabic "l" must not be boosted into a spike), floored at a third of the phrase
    median. Dividing by it evens out the synthesiser's phrase-final fades and quiet words."""
    levels = []
    for span in spans:
        level = 0.0
        if span is not None:
            for a, b in ((span[1], span[2]), (span[0], span[3])):
                piece = x[int(a) : int(b)]
                if piece.size:
                    level = max(level, float(np.sqrt(np.mean(piece**2))))
        levels.append(level)
    known = [v for v in levels if v > 0]
    floor = max(np.median(known) / 3 if known else 1e-3, 1e-4)
    return [max(v, floor) for v in levels]


def _source_span(phones: list[_Phone], envelope: np.ndarray, rate: int, pad: int) -> list[float]:
    """Sample positions [start, vowel start, vowel end, end] of a syllable in the padded audio.

    The start skips leading silence (a plosive's closure) so the sound begins on the note.
    """
    start, end = phones[0].start, phones[-1].end
    vowels = [p for p in phones if p.vowel] or [max(phones, key=lambda p: p.end - p.start)]
    v0, v1 = vowels[0].start, vowels[-1].end
    a, b = pad + round(start * rate), pad + round(end * rate)
    c, d = pad + round(v0 * rate), pad + round(v1 * rate)
    if c > a:
        loud = envelope[a:b].max(initial=0.0) * 0.05
        above = np.flatnonzero(envelope[a:c] > loud)
        a = a + int(above[0]) if above.size else a
    c, d = min(max(c, a), b), min(max(d, a), b)
    return [float(a), float(c), float(max(d, c + 1)), float(max(b, d + 1))]


@dataclass
class _Marks:
    """Analysis grains: centre sample, half-length (one period) and whether voiced."""

    centre: np.ndarray
    period: np.ndarray
    voiced: np.ndarray


def _pitch_marks(
    x: np.ndarray, low: np.ndarray, rate: int, start: float, end: float, f0: float | None
) -> _Marks:
    """Pitch-synchronous marks over [start, end): one per period on low-passed peaks when
    voiced, every 5 ms when not."""
    lo, hi = (f0 / 1.5, f0 * 1.5) if f0 else (70.0, 500.0)
    hop = rate // 200
    periods = _track_periods(x, rate, int(start), int(end), lo, hi, hop)
    centres, lengths, voiced = [], [], []
    position = float(start)
    previous_voiced = False
    unvoiced_hop = round(_UNVOICED_HOP_S * rate)
    while position < end:
        k = min(int((position - start) / hop), len(periods) - 1)
        period = periods[k]
        if period > 0:
            guess = position + (period if previous_voiced else period / 2)
            width = max(1, round(period * (0.15 if previous_voiced else 0.5)))
            lo_i = max(int(guess) - width, 0)
            window = low[lo_i : int(guess) + width + 1]
            mark = lo_i + int(np.argmax(window)) if window.size else int(guess)
            if previous_voiced and mark <= position:
                mark = int(position + period)
            centres.append(mark)
            lengths.append(round(period))
            voiced.append(True)
            position = float(mark)
            previous_voiced = True
        else:
            position += unvoiced_hop
            centres.append(int(position))
            lengths.append(unvoiced_hop)
            voiced.append(False)
            previous_voiced = False
    return _Marks(np.array(centres), np.array(lengths), np.array(voiced, dtype=bool))


def _track_periods(
    x: np.ndarray, rate: int, start: int, end: int, lo_hz: float, hi_hz: float, hop: int
) -> np.ndarray:
    """YIN pitch periods (samples, 0 = unvoiced) every `hop` samples from `start` to `end`."""
    tau_max = min(int(rate / lo_hz) + 2, len(x) // 2)
    tau_min = max(2, int(rate / hi_hz))
    width = tau_max
    count = max(1, (end - start) // hop + 1)
    times = start + hop * np.arange(count)
    padded = np.concatenate([np.zeros(width), x, np.zeros(2 * width + tau_max)])
    index = (times[:, None] + np.arange(width + tau_max)[None, :]).astype(int)
    frames = padded[index + width // 2]  # frames centred on the time stamps
    n = 1 << math.ceil(math.log2(2 * (width + tau_max)))
    spectrum = np.fft.rfft(frames, n)
    head = np.fft.rfft(frames[:, :width], n)
    r = np.fft.irfft(np.conj(head) * spectrum, n)[:, : tau_max + 1]
    energy = np.concatenate([np.zeros((count, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    e_tau = energy[:, lags + width] - energy[:, lags]
    diff = np.maximum(energy[:, width][:, None] + e_tau - 2 * r, 0.0)
    cumulative = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(cumulative, 1e-12)
    cmnd[:, :tau_min] = 2.0
    below = cmnd < 0.2
    first = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(cmnd, axis=1))
    rows = np.arange(count)
    for _ in range(max(1, tau_max // 4)):  # walk down to the local minimum
        step = np.minimum(first + 1, tau_max)
        better = cmnd[rows, step] < cmnd[rows, first]
        if not better.any():
            break
        first = np.where(better, step, first)
    loudness = np.sqrt(energy[:, width] / width)
    voiced = (cmnd[rows, first] < 0.35) & (loudness > 1e-3) & (first < tau_max)
    left = cmnd[rows, np.maximum(first - 1, 0)]
    mid = cmnd[rows, first]
    right = cmnd[rows, np.minimum(first + 1, tau_max)]
    curvature = left - 2 * mid + right
    safe = np.where(np.abs(curvature) > 1e-12, curvature, 1.0)
    shift = np.where(np.abs(curvature) > 1e-12, 0.5 * (left - right) / safe, 0.0)
    return np.where(voiced, first + np.clip(shift, -0.5, 0.5), 0.0)


@functools.cache
def _hann(half: int) -> np.ndarray:
    return np.hanning(2 * half + 3)[1:-1]


def _overlap_add(
    x: np.ndarray,
    marks: _Marks,
    span: list[float],
    syllable: _Syllable,
    previous: _Syllable | None,
    gain: float,
    rate: int,
    out: np.ndarray,
) -> None:
    """TD-PSOLA of one syllable onto [note start, note end) of `out`: output grains every
    sung period, each cut from the source marks nearest the time-mapped source position."""
    begin = syllable.start * rate
    knots_out, knots_src = _time_map(span, syllable.length * rate, begin)
    pitch = _PitchCurve(syllable, previous)
    stop = begin + syllable.length * rate
    centres, periods = marks.centre.tolist(), marks.period.tolist()
    voiced = marks.voiced.tolist()
    limit = _grain_limits(x, marks)
    t = begin
    while t < stop:
        source = float(np.interp(t, knots_out, knots_src))
        picks = _neighbours(bisect_left(centres, source), source, centres, voiced)
        if voiced[picks[0][0]]:
            step = rate / pitch.f0((t - begin) / rate)
        else:
            step = float(periods[picks[0][0]])
        for j, weight in picks:
            power = math.sqrt(step / periods[j]) * limit[j] if voiced[j] else 1.0
            _add_grain(x, centres[j], periods[j], out, round(t), gain * weight * power)
        t += step


def _grain_limits(x: np.ndarray, marks: _Marks) -> list[float]:
    """Per-mark gains that pull voiced grains louder than twice the syllable's median back
    down: diphone joins (Festival's syllabic "l") can carry pulses ten times the vowel's."""
    rms = np.array(
        [
            np.sqrt(np.mean(x[max(c - h, 0) : c + h + 1] ** 2)) if v else 0.0
            for c, h, v in zip(marks.centre, marks.period, marks.voiced, strict=True)
        ]
    )
    voiced = rms[marks.voiced]
    if not voiced.size:
        return [1.0] * len(rms)
    ceiling = 2 * float(np.median(voiced))
    return np.minimum(1.0, ceiling / np.maximum(rms, 1e-12)).tolist()


def _neighbours(
    k: int, source: float, centres: list[int], voiced: list[bool]
) -> list[tuple[int, float]]:
    """The grain(s) to use at `source`: the two voiced marks around it, cross-faded (a held
    vowel then glides instead of stepping from grain to grain), else the nearest mark."""
    last = len(centres) - 1
    if 0 < k <= last and voiced[k - 1] and voiced[k]:
        weight = (source - centres[k - 1]) / max(centres[k] - centres[k - 1], 1)
        weight = min(max(weight, 0.0), 1.0)
        return [(k - 1, 1.0 - weight), (k, weight)]
    k = min(k, last)
    if k > 0 and source - centres[k - 1] < centres[k] - source:
        k -= 1
    return [(k, 1.0)]


def _add_grain(
    x: np.ndarray, centre: int, half: int, out: np.ndarray, at: int, scale: float
) -> None:
    """Add x[centre-half : centre+half] under a Hann window to out around `at`, clipped."""
    lo = max(0, half - at, half - centre)
    hi = min(2 * half + 1, len(out) - at + half, len(x) - centre + half)
    if hi > lo and scale != 0:
        grain = x[centre - half + lo : centre - half + hi] * _hann(half)[lo:hi]
        out[at - half + lo : at - half + hi] += scale * grain


def _time_map(span: list[float], length: float, begin: float) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear output->source sample map: consonants at natural speed (squeezed into
    at most 60% of the note), the vowel's edges natural and its middle stretched to fit."""
    a, c, d, b = span
    onset, vowel, coda = c - a, d - c, b - d
    squeeze = min(1.0, 0.6 * length / max(onset + coda, 1e-9))
    onset_out, coda_out = onset * squeeze, coda * squeeze
    vowel_out = length - onset_out - coda_out
    edge = min(0.2 * vowel, 0.25 * vowel_out)
    if vowel_out <= vowel:  # short note: squeeze the whole vowel evenly
        out = [0, onset_out, onset_out + vowel_out, length]
        src = [a, c, d, b]
    else:
        out = [0, onset_out, onset_out + edge, length - coda_out - edge, length - coda_out, length]
        src = [a, c, c + edge, d - edge, d, b]
    return begin + np.array(out, dtype=float), np.array(src, dtype=float)


class _PitchCurve:
    """The sung pitch within a note: a glide in from the previous note, then vibrato."""

    def __init__(self, syllable: _Syllable, previous: _Syllable | None) -> None:
        self.base = syllable.f0
        self.glide = 0.0
        if previous is not None:
            gap = syllable.start - (previous.start + previous.length)
            if gap < _LEGATO_S:
                self.glide = 1200 * math.log2(previous.f0 / syllable.f0)
        self.vibrato = syllable.length > _VIBRATO[2] + _VIBRATO[3]

    def f0(self, t: float) -> float:
        cents = self.glide * math.exp(-t / _GLIDE_S) if self.glide else 0.0
        rate, depth, onset, ramp = _VIBRATO
        if self.vibrato and t > onset:
            amount = min(1.0, (t - onset) / ramp)
            cents += depth * amount * math.sin(2 * math.pi * rate * (t - onset))
        return self.base * 2 ** (cents / 1200)


# ---------------------------------------------------------------------------------------------
# Output


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    if len(audio) >= frames:
        return audio[:frames].astype(np.float64)
    return np.concatenate([audio, np.zeros(frames - len(audio))])


def _gate(syllables: list[_Syllable], frames: int, rate: int) -> np.ndarray:
    """1 while a note sounds, 0 elsewhere, with short ramps where a note meets silence."""
    gate = np.zeros(frames)
    fade_in, fade_out = round(_FADE_IN_S * rate), round(_FADE_OUT_S * rate)
    for i, s in enumerate(syllables):
        a = round(s.start * rate)
        b = min(round((s.start + s.length) * rate), frames)
        if b <= a:
            continue
        gate[a:b] = 1.0
        joined_before = i > 0 and abs(_end(syllables[i - 1]) - s.start) < 0.005
        joined_after = i + 1 < len(syllables) and abs(syllables[i + 1].start - _end(s)) < 0.005
        if not joined_before:
            n = min(fade_in, b - a)
            gate[a : a + n] *= np.linspace(0, 1, n, endpoint=False)
        if not joined_after:
            n = min(fade_out, b - a)
            gate[b - n : b] *= np.linspace(1, 0, n)
    return gate


def _end(s: _Syllable) -> float:
    return s.start + s.length
