"""Which separation models are installed here, what their cards say, and how fast they ran.

Bundled models live in services/separator/weights; pulled and imported ones in the model cache
(STEMDECK_MODEL_DIR, else the user's cache folder), each beside its card. This module needs
neither torch nor torchaudio: the API gateway lists and checks models with it
(`GET /v1/models`, `POST /v1/jobs`) without loading one.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stemdeck.separator.cards import REMOTE, Card, read_card

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "default"
SUFFIX = ".pt"
#: Real-time factors the worker measured here, one small JSON file per model.
MEASURED_DIR = "measured"

#: The download URL of every model `pull` knows (its card is `cards.REMOTE[name].card`).
REMOTE_MODELS: dict[str, str] = {name: entry.url for name, entry in REMOTE.items()}

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    origin: str  # "bundled", "pulled" or "imported"
    path: Path


def cache_dir() -> Path:
    """The user's model cache; STEMDECK_MODEL_DIR overrides it (tests, shared servers)."""
    override = os.environ.get("STEMDECK_MODEL_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stemdeck")) / "models"


def list_models() -> list[ModelEntry]:
    """Bundled models first, then those in the cache, each with where it came from."""
    entries = [ModelEntry(p.stem, "bundled", p) for p in sorted(BUNDLED_DIR.glob(f"*{SUFFIX}"))]
    cache = cache_dir()
    for path in sorted(cache.glob(f"*{SUFFIX}")):
        origin = "pulled" if path.stem in REMOTE_MODELS else "imported"
        entries.append(ModelEntry(path.stem, origin, path))
    return entries


def default_entry(entries: list[ModelEntry] | None = None) -> ModelEntry | None:
    """What `default` runs: the bundled default, else the first model the user has."""
    entries = list_models() if entries is None else entries
    named = [e for e in entries if e.name == DEFAULT_MODEL]
    return (named or entries or [None])[0]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


@dataclass(frozen=True)
class InstalledModel:
    """One installed model with its card, as `GET /v1/models` reports it."""

    name: str
    origin: str
    path: Path
    card: Card | None
    size_bytes: int
    measured: dict[str, Any] | None
    default: bool


def installed_models() -> list[InstalledModel]:
    """Every installed model with its card and the speed measured here (torch-free)."""
    entries = list_models()
    chosen = default_entry(entries)
    out = []
    for entry in entries:
        try:
            size = entry.path.stat().st_size
        except OSError:
            continue
        out.append(
            InstalledModel(
                entry.name,
                entry.origin,
                entry.path,
                read_card(entry.path),
                size,
                measured_speed(entry.name),
                chosen is not None and entry.name == chosen.name,
            )
        )
    return out


def _measured_path(name: str) -> Path:
    return cache_dir() / MEASURED_DIR / f"{check_name(name)}.json"


def record_speed(name: str, rtf: float, device: str, audio_s: float) -> None:
    """Remember the real-time factor a job just measured for an installed model (best effort:
    a read-only cache only loses the figure)."""
    if not NAME.match(name):
        return  # a path, not an installed model's name
    path = _measured_path(name)
    record = {"rtf": round(rtf, 4), "device": device, "audio_s": round(audio_s, 1)}
    record["measured_at"] = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(record))
        partial.replace(path)
    except OSError:
        pass


def measured_speed(name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_measured_path(name).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
