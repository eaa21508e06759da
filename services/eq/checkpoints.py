"""Auto-EQ model files: StemDeck's own format, and the seed's bare state_dict.

StemDeck's format is one weights-only file holding {format, version, config, state_dict,
metadata}. The seed's checkpoint (`model2_mastering.pth`) is a plain state_dict with the layout
of the "seed" variant; it loads into that variant with level normalisation off, as the seed ran.
Every file is read with `torch.load(weights_only=True)`, so a hostile file cannot run code.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

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
    """Write StemDeck's format atomically (a `.part` file renamed into place), the model's
    restraint (if any) in the metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = dict(metadata or {})
    if model.restraint.active:
        metadata["restraint"] = model.restraint.to_dict()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "metadata": metadata,
    }
    partial = path.with_name(path.name + ".part")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise EqCheckpointError(f"model file '{path}' does not exist") from None
    except IsADirectoryError:
        raise EqCheckpointError(f"model path '{path}' is a folder, not a model file") from None
    except pickle.UnpicklingError as exc:
        garbage = re.search(r"Unsupported operand \d+", str(exc))  # not a pickle at all
        if garbage:
            raise EqCheckpointError(
                f"'{path.name}' is not a readable PyTorch model file ({garbage.group(0)})"
            ) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"a Python object of type {found.group(1)}" if found else "data"
        raise EqCheckpointError(
            f"refusing to load '{path.name}': it contains {what} that StemDeck does not load "
            "(only Auto-EQ weights are accepted)"
        ) from None
    except Exception as exc:  # garbage makes the unpickler raise almost anything
        first = (str(exc).splitlines() or [""])[0][:200]
        raise EqCheckpointError(
            f"'{path.name}' is not a readable PyTorch model file ({type(exc).__name__}: {first})"
        ) from None


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
        if obj.get("version", 0) > FORMAT_VERSION:
            raise EqCheckpointError(
                f"'{name}' was written by a newer StemDeck (format v{obj['version']}); "
                "upgrade to read it"
            )
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


def resolve(name_or_path: str | Path | None) -> Path:
    """A bundled model's name (`default`) or a file path -> the file."""
    wanted = str(name_or_path or DEFAULT_MODEL)
    bundled = WEIGHTS_DIR / f"{wanted}.pt"
    if "/" not in wanted and bundled.is_file():
        return bundled
    path = Path(wanted).expanduser()
    if path.is_file():
        return path
    names = ", ".join(sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))) or "none"
    raise EqCheckpointError(
        f"no Auto-EQ model {wanted!r}: not a bundled model ({names}) nor an existing file"
    )


def open_model(name_or_path: str | Path | None = None) -> LoadedEqModel:
    return load_model(resolve(name_or_path))
