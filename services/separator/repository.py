"""Where separation models come from: bundled with StemDeck, pulled from the web, or imported.

A model is named on the command line by a name (`default`, `hdemucs`, an imported name) or by a
path to a file in any format `checkpoints.load_model` reads. Pulled and imported models are
converted once into StemDeck's own format in the user's model cache, each with its card (a JSON
file beside it, `cards.py`).

What is installed (and the names below it) is `installed.py`, which the API gateway uses
without torch; this module adds resolving, loading, importing and pulling.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stemdeck.common import artefacts
from stemdeck.common.artefacts import ArtefactNotFoundError
from stemdeck.separator.cards import REMOTE, Card, write_card
from stemdeck.separator.installed import (  # re-exported: one import for the CLI and tests
    BUNDLED_DIR,
    DEFAULT_MODEL,
    MEASURED_DIR,
    REMOTE_MODELS,
    SUFFIX,
    InstalledModel,
    ModelEntry,
    cache_dir,
    check_name,
    default_entry,
    installed_models,
    kind,
    list_models,
    measured_speed,
    record_speed,
)

__all__ = [
    "BUNDLED_DIR",
    "DEFAULT_MODEL",
    "MEASURED_DIR",
    "REMOTE_MODELS",
    "SUFFIX",
    "InstalledModel",
    "ModelEntry",
    "ModelNotFoundError",
    "cache_dir",
    "default_entry",
    "import_model",
    "installed_models",
    "list_models",
    "measured_speed",
    "open_model",
    "pull",
    "record_speed",
    "resolve",
]

if TYPE_CHECKING:
    from stemdeck.separator.checkpoints import LoadedModel

#: Unfinished downloads, kept for resuming; not models, so never listed.
PARTIAL_DIR = ".downloads"


class ModelNotFoundError(LookupError):
    """No model by that name or path; the message says how to get one."""


def how_to_get_a_model() -> str:
    return (
        "Get one with `stemdeck models pull hdemucs` (Hybrid Demucs, needs internet), import "
        "a checkpoint you have with `stemdeck models import FILE`, pass a checkpoint path with "
        "--model PATH, or train one (see the README's Models section)."
    )


def resolve(name_or_path: str | Path | None) -> Path:
    """The file behind a model name or path, in the lookup order every model kind shares
    (`common/artefacts.py`: explicit path, user cache, bundled). Until a bundled `default`
    exists, `default` falls back to the first model the user has, since any model is better
    than none."""
    try:
        return artefacts.resolve(kind(), name_or_path)
    except ArtefactNotFoundError as exc:
        wanted = name_or_path or DEFAULT_MODEL
        first = default_entry()
        if wanted == DEFAULT_MODEL and first is not None:
            return first.path
        if wanted == DEFAULT_MODEL:
            raise ModelNotFoundError(
                f"No separation model is installed. {how_to_get_a_model()}"
            ) from None
        raise ModelNotFoundError(f"{exc}. {how_to_get_a_model()}") from None


def open_model(name_or_path: str | None) -> LoadedModel:
    from stemdeck.separator.checkpoints import load_model

    return load_model(resolve(name_or_path))


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
    extra: dict[str, Any] = {k: metadata[k] for k in ("sha256", "size_bytes") if k in metadata}
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
    name = check_name(name or source.name.split(".")[0])
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
    name: str,
    url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    sha256: str | None = None,
) -> Path:
    """Download a named model (or `url`), verify it, and convert it into the cache.

    Verification: the sha256 (or its start) the caller pins, else the prefix where the URL
    carries one (Demucs); for every file, that it
    loads as the model family its name promises, with exactly that family's layout. A download
    that stops early is kept aside (`.downloads/`) and resumed by the next pull; a file that
    fails verification is deleted. No model appears in the cache unless it is complete and
    verified.
    """
    from stemdeck.separator.checkpoints import CheckpointError, load_model
    from stemdeck.separator.download import DownloadIncomplete, discard, fetch

    check_name(name)
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{8,64}", sha256):
        raise ValueError(f"--sha256 {sha256!r} must be 8 to 64 hex digits")
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
        prefix = sha256.lower() if sha256 else expected_sha256_prefix(url)
        if prefix and not fetched.sha256.startswith(prefix):
            raise CheckpointError(
                f"download of '{name}' is corrupt: sha256 {fetched.sha256[:8]}... "
                f"does not start with {prefix}"
            )
        try:
            loaded = load_model(fetched.path)
        except CheckpointError as exc:  # named after the file as published, not our partial
            why = str(exc).replace(f"'{fetched.path.name}'", f"'{Path(url.split('?')[0]).name}'")
            raise CheckpointError(f"downloaded '{name}' is not usable: {why}") from None
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
