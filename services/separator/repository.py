"""Where separation models come from: bundled with StemDeck, pulled from the web, or imported.

A model is named on the command line by a name (`default`, `hdemucs`, an imported name) or by a
path to a file in any format `checkpoints.load_model` reads. Pulled and imported models are
converted once into StemDeck's own format in the user's model cache, each with its card (a JSON
file beside it, `cards.py`).

Listing models needs neither torch nor platformdirs (the API gateway has neither): only
loading, importing and pulling import them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stemdeck.separator.cards import REMOTE, Card, read_card, write_card

if TYPE_CHECKING:
    from stemdeck.separator.checkpoints import LoadedModel

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "default"
SUFFIX = ".pt"
#: Unfinished downloads, kept for resuming; not models, so never listed.
PARTIAL_DIR = ".downloads"
#: Real-time factors the worker measured here, one small JSON file per model.
MEASURED_DIR = "measured"

#: The download URL of every model `pull` knows (its card is `cards.REMOTE[name].card`).
REMOTE_MODELS: dict[str, str] = {name: entry.url for name, entry in REMOTE.items()}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModelNotFoundError(LookupError):
    """No model by that name or path; the message says how to get one."""


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


def how_to_get_a_model() -> str:
    return (
        "Get one with `stemdeck models pull hdemucs` (Hybrid Demucs, needs internet), import "
        "a checkpoint you have with `stemdeck models import FILE`, pass a checkpoint path with "
        "--model PATH, or train one (see the README's Models section)."
    )


def default_entry(entries: list[ModelEntry] | None = None) -> ModelEntry | None:
    """What `default` runs: the bundled default, else the first model the user has."""
    entries = list_models() if entries is None else entries
    named = [e for e in entries if e.name == DEFAULT_MODEL]
    return (named or entries or [None])[0]


def resolve(name_or_path: str | None) -> Path:
    """The file behind a model name or path. Until a bundled `default` exists, `default` falls
    back to the first model the user has, since any model is better than none."""
    wanted = name_or_path or DEFAULT_MODEL
    entries = list_models()
    for entry in entries:  # names first: a stray file called 'default' must not hide the model
        if entry.name == wanted:
            return entry.path
    candidate = Path(wanted).expanduser()
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        raise ModelNotFoundError(f"model path '{wanted}' is a folder, not a model file")
    if wanted == DEFAULT_MODEL and entries:
        return entries[0].path
    if wanted == DEFAULT_MODEL:
        raise ModelNotFoundError(f"No separation model is installed. {how_to_get_a_model()}")
    if candidate.suffix or "/" in wanted:
        raise ModelNotFoundError(f"model file '{wanted}' does not exist. {how_to_get_a_model()}")
    raise ModelNotFoundError(
        f"unknown model '{wanted}' (installed: {installed_text(entries)}). {how_to_get_a_model()}"
    )


def installed_text(entries: list[ModelEntry]) -> str:
    return ", ".join(e.name for e in entries) or "none"


def open_model(name_or_path: str | None) -> LoadedModel:
    from stemdeck.separator.checkpoints import load_model

    return load_model(resolve(name_or_path))


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


def card_of(loaded: LoadedModel, description: str) -> Card:
    """A card for a model StemDeck has no published facts about."""
    from stemdeck.separator.model import parameter_count

    return Card(
        loaded.family,
        description,
        soft_mask=loaded.soft_mask,
        parameters=parameter_count(loaded.model),
        sources=tuple(loaded.config.sources),
    )


def _store(loaded: LoadedModel, name: str, metadata: dict[str, Any], card: Card) -> Path:
    """Card first, then the weights (each written atomically): a listed model has its card."""
    from stemdeck.separator.checkpoints import save_checkpoint

    target = cache_dir() / f"{name}{SUFFIX}"
    target.parent.mkdir(parents=True, exist_ok=True)
    extra = {k: metadata[k] for k in ("sha256", "size_bytes") if k in metadata}
    if metadata.get("url"):
        card = replace(card, origin_url=metadata["url"])
    write_card(target, card, extra)
    metadata = {**metadata, "soft_mask": card.soft_mask}
    return save_checkpoint(target, loaded.model, metadata, config=loaded.config)


def import_model(source: Path, name: str | None = None, origin: dict | None = None) -> Path:
    """Validate a checkpoint in any supported format and store it in StemDeck's format."""
    from stemdeck.separator.checkpoints import load_model

    source = Path(source)
    loaded = load_model(source)
    name = _check_name(name or source.name.split(".")[0])
    metadata = {
        **loaded.metadata,
        "imported_from": source.name,
        "source_format": loaded.source_format,
        **(origin or {}),
    }
    return _store(loaded, name, metadata, card_of(loaded, f"imported from {source.name}"))


def expected_sha256_prefix(url: str) -> str | None:
    """Demucs' file names end in the first 8 hex digits of the file's sha256."""
    found = re.search(r"-([0-9a-f]{8})\.th$", url)
    return found.group(1) if found else None


def pull(
    name: str, url: str | None = None, progress: Callable[[int, int | None], None] | None = None
) -> Path:
    """Download a named model (or `url`), verify it, and convert it into the cache.

    Verification: the sha256 prefix where the URL carries one (Demucs); for every file, that it
    loads as the model family its name promises, with exactly that family's layout. A download
    that stops early is kept aside (`.downloads/`) and resumed by the next pull; a file that
    fails verification is deleted. No model appears in the cache unless it is complete and
    verified.
    """
    from stemdeck.separator.checkpoints import CheckpointError, load_model
    from stemdeck.separator.download import DownloadIncomplete, discard, fetch

    _check_name(name)
    known = REMOTE.get(name)
    url = url or (known.url if known else None)
    if url is None:
        raise ModelNotFoundError(f"no download known for '{name}'; known: {', '.join(REMOTE)}")
    partials = cache_dir() / PARTIAL_DIR
    partial = partials / f"{name}.part"
    try:
        fetched = fetch(url, partial, progress)
    except DownloadIncomplete as exc:
        raise ConnectionError(
            f"{exc}; run `stemdeck models pull {name}` again to resume it"
        ) from None
    finally:
        _remove_if_empty(partials)
    try:
        prefix = expected_sha256_prefix(url)
        if prefix and not fetched.sha256.startswith(prefix):
            raise CheckpointError(
                f"download of '{name}' is corrupt: sha256 {fetched.sha256[:8]}... "
                f"does not start with {prefix}"
            )
        try:
            loaded = load_model(fetched.path)
        except CheckpointError as exc:
            raise CheckpointError(f"downloaded '{name}' is not usable: {exc}") from None
        if known is not None and loaded.family != known.card.family:
            raise CheckpointError(
                f"downloaded '{name}' is not usable: it holds a {loaded.family} model, "
                f"not the {known.card.family} model '{name}' is"
            )
        metadata = {
            **loaded.metadata,
            "imported_from": Path(url.split("?")[0]).name,
            "source_format": loaded.source_format,
            "url": url,
            "sha256": fetched.sha256,
            "size_bytes": fetched.size,
        }
        card = known.card if known is not None else card_of(loaded, f"pulled from {url}")
        return _store(loaded, name, metadata, card)
    finally:
        discard(partial)
        _remove_if_empty(partials)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a partial kept for resuming) or absent
        folder.rmdir()


# --- what the API and `models list` show ------------------------------------------------


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
    return cache_dir() / MEASURED_DIR / f"{_check_name(name)}.json"


def record_speed(name: str, rtf: float, device: str, audio_s: float) -> None:
    """Remember the real-time factor a job just measured for an installed model (best effort:
    a read-only cache only loses the figure)."""
    if not _NAME.match(name):
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
