"""Auto-EQ model files: StemDeck's own format, and the seed's bare state_dict.

StemDeck's format is one weights-only file holding {format, version, config, state_dict,
metadata}. The seed's checkpoint (`model2_mastering.pth`) is a plain state_dict with the layout
of the "seed" variant; it loads into that variant with level normalisation off, as the seed ran.
Every file is read with `torch.load(weights_only=True)`, so a hostile file cannot run code, and
written stamped and atomically; names resolve like every model kind's (`common/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemdeck.common import artefacts
from stemdeck.common.artefacts import ArtefactKind, ArtefactNotFoundError
from stemdeck.common.checkpoints import restricted_load, save_stamped
from stemdeck.common.stamp import NewerFormatError, check_version
from stemdeck.eq.model import EqConfig, EqNet
from stemdeck.eq.restraint import Restraint

FORMAT_NAME = "stemdeck.eq"
FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "default"
#: Keys by which a bare state_dict is recognised as the seed's Auto-EQ network.
_SEED_KEYS = ("cnn.0.weight", "cnn.8.weight", "head.1.weight", "head.3.weight")


class EqCheckpointError(ValueError):
    """A model file that cannot be used, with a message saying why."""


@dataclass
class LoadedEqModel:
    """A ready model (in eval mode) plus what its file said about it."""

    model: EqNet
    config: EqConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    source_format: str = FORMAT_NAME


def save_checkpoint(path: Path, model: EqNet, metadata: dict[str, Any] | None = None) -> Path:
    """Write StemDeck's format, stamped and atomic (`common/checkpoints.py`), the model's
    restraint (if any) in the metadata."""
    metadata = dict(metadata or {})
    if model.restraint.active:
        metadata["restraint"] = model.restraint.to_dict()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    body = {"config": model.config.to_dict(), "state_dict": state, "metadata": metadata}
    return save_stamped(Path(path), FORMAT_NAME, FORMAT_VERSION, body)


def _load(path: Path) -> Any:
    return restricted_load(path, EqCheckpointError, "only Auto-EQ weights are accepted")


def build_model(config: EqConfig, state: dict[str, Any], name: str) -> EqNet:
    """Instantiate and fill a model; a layout mismatch becomes one clear EqCheckpointError."""
    model = EqNet(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        details = [line.strip() for line in str(exc).splitlines()[1:4] if line.strip()]
        raise EqCheckpointError(
            f"'{name}' does not fit the {config.variant!r} Auto-EQ network: " + " ".join(details)
        ) from None
    return model.eval()


def _seed_state(obj: Any) -> dict[str, Any] | None:
    """The state_dict inside a bare seed checkpoint (or a {"state_dict": ...} wrapper)."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict) and "format" not in obj:
                obj = obj[key]
                break
        if all(key in obj for key in _SEED_KEYS):
            return obj
    return None


def load_model(path: Path | str) -> LoadedEqModel:
    """Load a StemDeck Auto-EQ checkpoint or the seed's plain state_dict."""
    path = Path(path)
    obj = _load(path)
    name = path.name
    if isinstance(obj, dict) and obj.get("format") == FORMAT_NAME:
        try:
            check_version(obj, FORMAT_NAME, FORMAT_VERSION, name)
        except NewerFormatError as exc:
            raise EqCheckpointError(str(exc)) from None
        if not isinstance(obj.get("config"), dict) or not isinstance(obj.get("state_dict"), dict):
            raise EqCheckpointError(f"'{name}' is a StemDeck checkpoint without config or weights")
        try:
            config = EqConfig.from_dict(obj["config"])
        except (TypeError, ValueError) as exc:
            raise EqCheckpointError(f"'{name}' has an invalid configuration: {exc}") from None
        metadata = dict(obj.get("metadata") or {})
        model = build_model(config, obj["state_dict"], name)
        try:
            model.restraint = Restraint.from_dict(metadata.get("restraint"))
        except (TypeError, ValueError) as exc:
            raise EqCheckpointError(f"'{name}' has an invalid restraint: {exc}") from None
        return LoadedEqModel(model, config, metadata, FORMAT_NAME)
    state = _seed_state(obj)
    if state is not None:
        config = EqConfig(variant="seed", level_norm=False)
        return LoadedEqModel(build_model(config, state, name), config, {}, "seed.state_dict")
    raise EqCheckpointError(
        f"'{name}' is a PyTorch file but not an Auto-EQ model StemDeck knows "
        "(expected a StemDeck Auto-EQ checkpoint or the seed's state_dict)"
    )


def kind() -> ArtefactKind:
    """Auto-EQ as a model kind of the shared artefact layer: bundled files in WEIGHTS_DIR (read
    on each call), the user's in the cache's `eq/` folder."""
    return ArtefactKind("eq", "Auto-EQ", WEIGHTS_DIR, "eq", DEFAULT_MODEL, ".pt")


def resolve(name_or_path: str | Path | None) -> Path:
    """The file behind a model name (`default`, a cached or bundled name) or path, in the
    lookup order every model kind shares (`common/artefacts.py`)."""
    try:
        return artefacts.resolve(kind(), name_or_path)
    except ArtefactNotFoundError as exc:
        wanted = str(name_or_path or DEFAULT_MODEL)
        raise EqCheckpointError(f"no Auto-EQ model {wanted!r}: {exc}") from None


def open_model(name_or_path: str | Path | None = None) -> LoadedEqModel:
    return load_model(resolve(name_or_path))


def import_model(source: Path | str, name: str | None = None) -> Path:
    """Check an Auto-EQ checkpoint (StemDeck's or the seed's) and store it, stamped, in the
    user cache under `name` (default: the file's name), where `--model NAME` finds it."""
    source = Path(source)
    loaded = load_model(source)
    name = artefacts.check_name(name or source.name.split(".")[0])
    metadata = {
        **loaded.metadata,
        "imported_from": source.name,
        "source_format": loaded.source_format,
    }
    return save_checkpoint(kind().cache_dir() / f"{name}.pt", loaded.model, metadata)
