"""What the workers write into `Job.results`: the API's result contract, in one place.

Each part of a job's results is a dict in the stored record and in the JSON the API returns;
these TypedDicts say which keys each one has (a key marked `NotRequired` may be absent, a
`| None` value may be null), so the OpenAPI document, and the web app's types generated from
it (`frontend/src/api-schema.ts`), describe every field. Workers write through `put`, which
validates the value first: a result with a field missing, mistyped or not declared here fails
where it is written (and so in the tests), instead of reaching clients undocumented. The value
is stored exactly as the worker built it, so the JSON keeps its shape.
"""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict

#: Every result model refuses undeclared keys and documents its fields from their docstrings.
_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)


@with_config(_STRICT)
class StemFile(TypedDict):
    """One separated stem as stored (download it from `links.stems[name]`)."""

    key: str
    """Its object key in storage."""
    format: str
    """Audio format: wav, flac or mp3 (the job's `options.format`)."""
    bytes: int
    """File size."""
    loudness_lufs: float | None
    """Integrated loudness (ITU-R BS.1770, LUFS); null when silent."""
    peak_dbfs: float | None
    """Sample peak in dBFS; null when silent."""


@with_config(_STRICT)
class Separation(TypedDict):
    """How the stems were made."""

    seconds: float
    """Time the separation took."""
    real_time_factor: float
    """Separation seconds per second of audio."""
    device: str
    """Where the model ran (cpu, cuda, ...)."""
    model: str
    """The separator model (GET /v1/models)."""
    family: str | None
    """tasnet (Conv-TasNet) or hdemucs (Hybrid Demucs)."""
    soft_mask: bool
    """Whether the soft-mask post-filter was applied."""


@with_config(_STRICT)
class EqRecommendation(TypedDict):
    """The Auto-EQ's recommended correction for one stem (bands as in `eq_bands`)."""

    stem: NotRequired[str]
    """The stem the model was told (absent when the stem was left flat without judging it)."""
    gains_db: dict[str, float]
    """Gain per band name (low, mid, high) in dB, within +-gain_limit_db."""
    spread_db: dict[str, float | None] | None
    """Per band, how much the judged windows disagree (a robust standard deviation, dB); null
    when nothing was judged, a band's value null with a single window."""
    windows: int
    """How many non-silent 3 s windows were judged (0: left flat)."""
    note: NotRequired[str]
    """Why the stem was left flat."""


@with_config(_STRICT)
class EqBand(TypedDict):
    """One band of the 3-band EQ in Web Audio BiquadFilterNode terms."""

    name: str
    """The key of this band's gain in `gains_db`."""
    type: str
    """BiquadFilterType: lowshelf, peaking or highshelf."""
    frequency: float
    """Shelf midpoint or peak centre, Hz."""
    Q: NotRequired[float]
    """Q of a peaking band."""
    S: NotRequired[float]
    """Slope of a shelf."""


@with_config(_STRICT)
class EqBands(TypedDict):
    """The EQ the recommendations are for (the same as `services/eq/bands.json`)."""

    version: int
    gain_unit: str
    gain_limit_db: float
    formulas: str
    order: str
    bands: list[EqBand]


@with_config(_STRICT)
class GenreGuess(TypedDict):
    label: str
    probability: float


@with_config(_STRICT)
class GenreTag(TypedDict):
    """One of the music tagger's tags (mood, voice, era, instrument, style)."""

    tag: str
    probability: float
    source: str
    """The tagger that gave it."""


@with_config(_STRICT)
class GenreWindow(TypedDict):
    """The most likely genre of one judged stretch of the song."""

    start_s: float
    end_s: float
    label: str


@with_config(_STRICT)
class Genre(TypedDict):
    """The genre of the mix; only `label` (null) and `note` when it could not be judged."""

    label: str | None
    """The most likely genre."""
    confidence: NotRequired[float]
    """Its calibrated probability."""
    uncertain: NotRequired[bool]
    """True when no genre is more likely than all the others together (calibrated)."""
    model: NotRequired[str]
    """The genre model that judged it."""
    top3: NotRequired[list[GenreGuess]]
    probabilities: NotRequired[dict[str, float]]
    """Every genre the model knows, with its probability."""
    windows: NotRequired[list[GenreWindow]]
    tags: NotRequired[list[GenreTag]]
    """The tagger's most likely tags, best first (empty without a tagger)."""
    note: NotRequired[str]
    """Why there is no genre."""


@with_config(_STRICT)
class Energy(TypedDict):
    unit: str
    hop_s: float
    values: list[float]
    """One level per hop, from the start of the song."""


@with_config(_STRICT)
class StemShare(TypedDict):
    loudness_lufs: float
    share: float
    """This stem's share (0-1) of the stems' summed loudness power."""


@with_config(_STRICT)
class Analysis(TypedDict, total=False):
    """Tempo, key, loudness, energy and spectral features of the mix; only `note` when the
    audio was too short or silent to analyse."""

    duration_s: float
    sample_rate: int
    channels: int
    tempo_bpm: float
    tempo_source: str
    """Where the beats were tracked: drums (the stem) or mix."""
    beats_s: list[float]
    key: str
    """E.g. "A minor"."""
    key_tonic: str
    key_mode: str
    key_correlation: float
    """Pearson r of the chroma with the winning key profile."""
    key_runner_up: str
    loudness_lufs: float
    true_peak_dbtp: float
    energy: Energy
    spectral_centroid_hz: float
    spectral_rolloff_hz: float
    zero_crossings_per_s: float
    stems: dict[str, StemShare]
    note: str


@with_config(_STRICT)
class FileTags(TypedDict, total=False):
    """The uploaded file's own tags (only those it had)."""

    title: str
    artist: str
    album: str
    track_number: int


@with_config(_STRICT)
class Results(TypedDict, total=False):
    """Everything the pipeline produced so far; each part appears once its stage wrote it."""

    tags: FileTags
    stems: dict[str, StemFile]
    separation: Separation
    eq: dict[str, EqRecommendation]
    """Per stem name."""
    eq_bands: EqBands
    genre: Genre
    analysis: Analysis
    manifest: str
    """Object key of manifest.json (the final record, stored beside the stems)."""


_RESULTS = TypeAdapter(Results)


def put(results: dict[str, Any], key: str, value: Any) -> None:
    """Store `value` as `results[key]` once it matches its model (pydantic ValidationError,
    naming the field, if not)."""
    _RESULTS.validate_python({key: value})
    results[key] = value
