"""Where separation models come from: bundled with StemDeck, pulled from the web, or imported.

A model is named on the command line by a name (`default`, `tasnet`, an imported name) or by a
path to a file in any format `checkpoints.load_model` reads. Pulled and imported models are
converted once into StemDeck's own format in the user's model cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from stemdeck.separator.checkpoints import CheckpointError, LoadedModel, load_model, save_checkpoint

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "default"
SUFFIX = ".pt"

#: Demucs v2's official pretrained Conv-TasNet weights. The 8 hex digits in each file name are
#: the start of the file's sha256, which `pull` verifies.
REMOTE_MODELS: dict[str, str] = {
    "tasnet": "https://dl.fbaipublicfiles.com/demucs/v3.0/tasnet-beb46fac.th",
    "tasnet_extra": "https://dl.fbaipublicfiles.com/demucs/v3.0/tasnet_extra-df3777b2.th",
}

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
    return Path(override) if override else Path(platformdirs.user_cache_dir("stemdeck")) / "models"


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
        "Get one with `stemdeck models pull tasnet` (Demucs' pretrained Conv-TasNet, needs "
        "internet), import a checkpoint you have with `stemdeck models import FILE`, pass a "
        "checkpoint path with --model PATH, or train one (see the README's Models section)."
    )


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
    known = ", ".join(e.name for e in entries) or "none installed"
    raise ModelNotFoundError(
        f"unknown model '{wanted}' (available: {known}). {how_to_get_a_model()}"
    )


def open_model(name_or_path: str | None) -> LoadedModel:
    return load_model(resolve(name_or_path))


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


def import_model(source: Path, name: str | None = None, origin: dict | None = None) -> Path:
    """Validate a checkpoint in any supported format and store it in StemDeck's format."""
    source = Path(source)
    loaded = load_model(source)
    name = _check_name(name or source.name.split(".")[0])
    metadata = {
        **loaded.metadata,
        "imported_from": source.name,
        "source_format": loaded.source_format,
        **(origin or {}),
    }
    return save_checkpoint(cache_dir() / f"{name}{SUFFIX}", loaded.model, metadata)


def expected_sha256_prefix(url: str) -> str | None:
    found = re.search(r"-([0-9a-f]{8})\.th$", url)
    return found.group(1) if found else None


def pull(
    name: str, url: str | None = None, progress: Callable[[int, int | None], None] | None = None
) -> Path:
    """Download a named model (or `url`), verify its sha256 prefix, and convert it into the
    cache. Nothing is left in the cache unless the download is complete and verified."""
    _check_name(name)
    url = url or REMOTE_MODELS.get(name)
    if url is None:
        raise ModelNotFoundError(
            f"no download known for '{name}'; known: {', '.join(REMOTE_MODELS)}"
        )
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        download = Path(tmp) / Path(url.split("?")[0]).name
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(download, "wb") as out:
                total = response.length
                done = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except OSError as exc:
            raise ConnectionError(f"could not download {url}: {exc}") from None
        prefix = expected_sha256_prefix(url)
        if prefix and not digest.hexdigest().startswith(prefix):
            raise CheckpointError(
                f"download of '{name}' is corrupt: sha256 {digest.hexdigest()[:8]}... "
                f"does not start with {prefix}"
            )
        try:
            return import_model(download, name, {"url": url, "sha256": digest.hexdigest()})
        except CheckpointError as exc:
            raise CheckpointError(f"downloaded '{name}' is not usable: {exc}") from None
