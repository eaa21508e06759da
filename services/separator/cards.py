"""What StemDeck knows about each separation model besides its weights: its card.

One place for the facts a user chooses a model by (family, size, published quality and where it
was measured, licence, origin) and for the soft-mask post-filter default, which belongs to a
model: on only where the model's own card shows that the filter helps.

This module needs neither torch nor platformdirs, so the API gateway (which has neither) can
list models: cards of pulled and imported models are JSON files beside their weights, cards of
bundled models are in `BUNDLED`, keyed by the weight file's sha256 (a replaced file has no card
until one is written here, rather than a stale one).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stemdeck.common.atomic import atomic_write_text

FOUR_STEMS = ("drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class Quality:
    """A published or measured separation score and where it comes from."""

    sdr_db: float
    measured_on: str
    source: str


@dataclass(frozen=True)
class Card:
    family: str  # "tasnet" (Conv-TasNet) or "hdemucs" (Hybrid Demucs)
    description: str
    soft_mask: bool = False
    parameters: int | None = None
    sources: tuple[str, ...] = ()
    licence: str | None = None
    origin_url: str | None = None
    quality: Quality | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = list(self.sources)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        quality = known.get("quality")
        if isinstance(quality, dict):
            known["quality"] = Quality(**quality)
        known["sources"] = tuple(known.get("sources") or ())
        return cls(**known)


@dataclass(frozen=True)
class Download:
    """A model `stemdeck models pull NAME` can fetch."""

    url: str
    card: Card
    #: How the file is verified: Demucs' file names carry the start of their sha256.
    verification: str = "sha256 prefix in the file name"


_HDEMUCS = "Hybrid Demucs (Défossez 2021), torchaudio's hdemucs_high"
_TORCHAUDIO_LICENCE = (
    "not stated for these files: torchaudio's README says its pretrained models may carry "
    "terms from their training data, and MUSDB18-HQ is licensed for non-commercial research "
    "only; treat as research / non-commercial"
)
_DEMUCS_V2_LICENCE = "CC BY-NC 4.0 (Demucs v2 README)"
_DEMUCS_V2_README = "facebookresearch/demucs v2 README, 'Comparison of accuracy'"
_NO_HASH = (
    "torchaudio publishes no hash or size for this file: the download must be complete "
    "(HTTP Content-Length) and its state_dict must have exactly hdemucs_high's layout; its "
    "sha256 is recorded in the card"
)

#: Parameters of torchaudio's hdemucs_high with four sources.
HDEMUCS_HIGH_PARAMETERS = 83_639_368

REMOTE: dict[str, Download] = {
    "tasnet": Download(
        "https://dl.fbaipublicfiles.com/demucs/v3.0/tasnet-beb46fac.th",
        Card(
            "tasnet",
            "Demucs v2's Conv-TasNet, trained on MUSDB18 only",
            parameters=10_977_872,
            sources=FOUR_STEMS,
            licence=_DEMUCS_V2_LICENCE,
            quality=Quality(5.7, "MUSDB18 test, no extra training data", _DEMUCS_V2_README),
        ),
    ),
    "tasnet_extra": Download(
        "https://dl.fbaipublicfiles.com/demucs/v3.0/tasnet_extra-df3777b2.th",
        Card(
            "tasnet",
            "Demucs v2's Conv-TasNet, MUSDB18 plus 150 extra songs",
            parameters=10_977_872,
            sources=FOUR_STEMS,
            licence=_DEMUCS_V2_LICENCE,
            quality=Quality(6.3, "MUSDB18 test, 150 extra training songs", _DEMUCS_V2_README),
        ),
    ),
    "hdemucs": Download(
        "https://download.pytorch.org/torchaudio/models/hdemucs_high_musdbhq_only.pt",
        Card(
            "hdemucs",
            f"{_HDEMUCS}, trained on MUSDB18-HQ train only: best quality, slow on a CPU",
            parameters=HDEMUCS_HIGH_PARAMETERS,
            sources=FOUR_STEMS,
            licence=_TORCHAUDIO_LICENCE,
            quality=Quality(
                7.7,
                "MUSDB18-HQ test, no extra training data (the architecture's published figure; "
                "torchaudio gives none for this file)",
                "facebookresearch/demucs README, 'Comparison of accuracy', Hybrid Demucs (v3); "
                "Défossez 2021, arXiv:2111.03600",
            ),
        ),
        verification=_NO_HASH,
    ),
    "hdemucs_extra": Download(
        "https://download.pytorch.org/torchaudio/models/hdemucs_high_trained.pt",
        Card(
            "hdemucs",
            f"{_HDEMUCS}, trained on MUSDB18-HQ train and test plus 150 extra songs",
            parameters=HDEMUCS_HIGH_PARAMETERS,
            sources=FOUR_STEMS,
            licence=_TORCHAUDIO_LICENCE,
            note=(
                "trained on MUSDB18-HQ's test songs too, so no MUSDB18 score of it is a fair "
                "test figure"
            ),
        ),
        verification=_NO_HASH,
    ),
}

#: Cards of the models shipped in services/separator/weights, by the file's sha256.
BUNDLED: dict[str, Card] = {
    "8798703c4458978356be65df20aefb1882353a8fc49422c8f53fbf64ac75b0f5": Card(
        "tasnet",
        "StemDeck's own spectral Conv-TasNet, trained here on a CPU: fast, modest quality",
        soft_mask=True,  # +0.08 dB on the real previews, "other" 2.56 against 2.47 (default.md)
        parameters=2_986_588,
        sources=FOUR_STEMS,
        licence="trained on MUSDB18 previews (academic, non-commercial): treat the same way",
        quality=Quality(
            4.05,
            "14 real MUSDB18 validation previews, BSSEval v4",
            "services/separator/weights/default.md",
        ),
    ),
}


def sidecar(weights: Path) -> Path:
    """Where the card of a model file in the cache lives."""
    return weights.with_suffix(".json")


def write_card(weights: Path, card: Card, extra: dict[str, Any] | None = None) -> Path:
    """Write `card` beside `weights`, atomically (a reader never sees half a card)."""
    text = json.dumps(card.to_dict() | (extra or {}), indent=2) + "\n"
    return atomic_write_text(sidecar(weights), text)


def read_card(weights: Path) -> Card | None:
    """The card of a model file: its sidecar, else the bundled table; None if unknown."""
    path = sidecar(weights)
    try:
        return Card.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        pass
    except (ValueError, TypeError, OSError):
        return None
    return BUNDLED.get(file_sha256(weights))


def file_sha256(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return ""
    return _sha256(os.fspath(path), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Keyed by size and mtime too, so a replaced file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def soft_mask_default(metadata: dict[str, Any], weights: Path | None) -> bool:
    """Whether a model runs with the soft-mask post-filter unless told otherwise: what its
    checkpoint says, else its card, else off (never measured on it)."""
    flag = metadata.get("soft_mask")
    if isinstance(flag, bool):
        return flag
    card = read_card(weights) if weights is not None else None
    return card.soft_mask if card is not None else False
