"""Reading and writing separator checkpoints: StemDeck's own format and Demucs v2's three.

Every file is read with PyTorch's restricted unpickler (`weights_only=True`). Demucs' packaged
models and training checkpoints pickle a few Python objects besides tensors; only those are let
through, as inert stand-ins, so a hostile file cannot run code or build arbitrary objects.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from stemdeck.common.checkpoints import restricted_load, save_stamped
from stemdeck.common.stamp import NewerFormatError, check_version
from stemdeck.separator import hdemucs
from stemdeck.separator.cards import soft_mask_default
from stemdeck.separator.config import DEFAULT_SOURCES, TasNetConfig
from stemdeck.separator.hdemucs import HDemucsConfig
from stemdeck.separator.model import ConvTasNet

FORMAT_NAME = "stemdeck.separator"
#: Conv-TasNet files are still written as version 1 (older StemDeck reads them); version 2 adds
#: the `family` field, which only other families need.
FORMAT_VERSION = 2
TASNET_VERSION = 1
ModelConfig = TasNetConfig | HDemucsConfig


class CheckpointError(ValueError):
    """A model file that cannot be used, with a message saying why."""


@dataclass
class LoadedModel:
    """A ready model plus what the file said about it.

    `model` maps (batch, channels, frames) to (batch, sources, channels, frames) whatever its
    family; `config` has at least sources, sample_rate, audio_channels and
    default_segment_seconds. `soft_mask` is the model's own post-filter default.
    """

    model: nn.Module
    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    source_format: str = FORMAT_NAME
    soft_mask: bool = False

    @property
    def family(self) -> str:
        return family_of(self.config)


def family_of(config: ModelConfig) -> str:
    return "hdemucs" if isinstance(config, HDemucsConfig) else "tasnet"


class _Inert:
    """Stand-in for a pickled object: keeps its attributes, has no behaviour."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)


class _DemucsSavedState(_Inert):
    """Demucs v2's training checkpoint (`__main__.SavedState` dataclass)."""


class _DemucsModelClass(_Inert):
    """The `klass` entry of a Demucs packaged model; only its name matters."""


class _ArgparseNamespace(_Inert):
    """Demucs stores its training arguments as an argparse.Namespace."""


_ALLOWED_GLOBALS: list[Any] = [
    (_DemucsSavedState, "__main__.SavedState"),
    (_DemucsModelClass, "demucs.tasnet.ConvTasNet"),
    (_ArgparseNamespace, "argparse.Namespace"),
    # Pure paths: a concrete WindowsPath cannot be built on Linux (nor PosixPath on Windows).
    (pathlib.PurePosixPath, "pathlib.PosixPath"),
    (pathlib.PureWindowsPath, "pathlib.WindowsPath"),
]


def _restricted_load(path: Path) -> Any:
    return restricted_load(
        path,
        CheckpointError,
        "only StemDeck checkpoints, Demucs v2 tasnet and torchaudio Hybrid Demucs weights "
        "are accepted",
        _ALLOWED_GLOBALS,
    )


def save_checkpoint(
    path: Path,
    model: nn.Module,
    metadata: dict[str, Any] | None = None,
    config: ModelConfig | None = None,
) -> Path:
    """Write StemDeck's format: configuration, weights and metadata in one weights-only file,
    stamped and written atomically (`common/checkpoints.py`). `config` defaults to the model's
    own (Conv-TasNet carries one; Hybrid Demucs does not)."""
    if config is None:
        own = getattr(model, "config", None)
        if not isinstance(own, TasNetConfig | HDemucsConfig):
            raise ValueError(f"{type(model).__name__} carries no configuration: pass `config`")
        config = own
    body: dict[str, Any] = {
        "config": config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    if family_of(config) == "tasnet":
        return save_stamped(Path(path), FORMAT_NAME, TASNET_VERSION, body)
    return save_stamped(
        Path(path), FORMAT_NAME, FORMAT_VERSION, body | {"family": family_of(config)}
    )


def infer_config(
    state: dict[str, Any], sources: tuple[str, ...] | None = None, **settings: Any
) -> TasNetConfig:
    """Read N, L, B, H, P, X, R and the source count off a Demucs-layout state_dict's shapes.

    `sources` names the stems when the file says so; otherwise Demucs' order is assumed.
    `settings` are further TasNetConfig fields the file states (norm, sample_rate, ...).
    """
    try:
        n, channels, length = state["encoder.conv1d_U.weight"].shape
        b = state["separator.network.1.weight"].shape[0]
        h = state["separator.network.2.0.0.net.0.weight"].shape[0]
        p = state["separator.network.2.0.0.net.3.net.0.weight"].shape[-1]
        mask_rows = state["separator.network.3.weight"].shape[0]
    except (KeyError, AttributeError, ValueError) as exc:
        raise CheckpointError(
            f"not a Conv-TasNet state_dict (missing or odd entry {exc})"
        ) from None
    blocks = {
        tuple(map(int, m.groups()))
        for k in state
        if (m := re.match(r"separator\.network\.2\.(\d+)\.(\d+)\.", k))
    }
    if mask_rows % n:
        raise CheckpointError(f"mask layer has {mask_rows} rows, not a multiple of N={n}")
    count = mask_rows // n
    if sources is None:
        sources = (
            DEFAULT_SOURCES
            if count == len(DEFAULT_SOURCES)
            else tuple(f"source{i}" for i in range(count))
        )
    elif len(sources) != count:
        raise CheckpointError(f"file names {len(sources)} sources but its weights have {count}")
    if any(k.endswith("running_mean") for k in state):
        settings["norm"] = "BN"
    try:
        return TasNetConfig(
            N=n,
            L=length,
            B=b,
            H=h,
            P=p,
            X=1 + max(x for _, x in blocks),
            R=1 + max(r for r, _ in blocks),
            sources=tuple(sources),
            audio_channels=channels,
            **settings,
        )
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def build_model(config: TasNetConfig, state: dict[str, Any], name: str) -> ConvTasNet:
    """Instantiate and fill a model, turning PyTorch's shape errors into one clear message."""
    model = ConvTasNet(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        details = [line.strip() for line in str(exc).splitlines()[1:4] if line.strip()]
        raise CheckpointError(
            f"'{name}' does not fit a Conv-TasNet with {describe(config)}: " + " ".join(details)
        ) from None
    return model.eval()


def describe(config: ModelConfig) -> str:
    if isinstance(config, HDemucsConfig):
        return f"Hybrid Demucs (hdemucs_high), sources {'/'.join(config.sources)}"
    return (
        f"N={config.N} L={config.L} B={config.B} H={config.H} P={config.P} X={config.X} "
        f"R={config.R} {config.norm}, sources {'/'.join(config.sources)}"
    )


def _demucs_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map Demucs v2 constructor keyword arguments onto TasNetConfig fields."""
    if kwargs.get("causal"):
        raise CheckpointError("causal Conv-TasNet models are not supported")
    known: dict[str, Any] = {}
    if "sources" in kwargs:
        known["sources"] = tuple(kwargs["sources"])
    if "norm_type" in kwargs:
        known["norm"] = kwargs["norm_type"]
    if "mask_nonlinear" in kwargs:
        known["mask_nonlinear"] = kwargs["mask_nonlinear"]
    if "samplerate" in kwargs:
        known["sample_rate"] = int(kwargs["samplerate"])
    return known


def _check_kwargs_match(config: TasNetConfig, kwargs: dict[str, Any], name: str) -> None:
    for key in ("N", "L", "B", "H", "P", "X", "R"):
        if key in kwargs and int(kwargs[key]) != getattr(config, key):
            raise CheckpointError(
                f"'{name}' says {key}={kwargs[key]} but its weights have "
                f"{key}={getattr(config, key)}"
            )
    if "C" in kwargs and int(kwargs["C"]) != len(config.sources):
        raise CheckpointError(
            f"'{name}' says C={kwargs['C']} sources but its weights have {len(config.sources)}"
        )


def load_model(path: Path | str) -> LoadedModel:
    """Load any supported file: StemDeck's format, a Demucs v2 state_dict, packaged model
    ({klass, args, kwargs, state, training_args}) or training checkpoint (SavedState), or
    torchaudio's Hybrid Demucs state_dict. The soft-mask default comes from the file's metadata
    or its card (`cards.soft_mask_default`)."""
    path = Path(path)
    loaded = _load(path)
    loaded.soft_mask = soft_mask_default(loaded.metadata, path)
    return loaded


def _load_hdemucs(state: Any, config: HDemucsConfig, name: str) -> nn.Module:
    if not isinstance(state, dict):
        raise CheckpointError(f"'{name}' is a Hybrid Demucs checkpoint without weights")
    try:
        model, problems = hdemucs.load(state, config)
    except hdemucs.HDemucsUnavailable as exc:
        raise CheckpointError(str(exc)) from None
    if model is None:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if problems[3:] else ""
        )
        raise CheckpointError(
            f"'{name}' does not have Hybrid Demucs' (hdemucs_high) layout for "
            f"{len(config.sources)} sources: {shown}"
        )
    return model


def _load(path: Path) -> LoadedModel:
    obj = _restricted_load(path)
    name = path.name
    if isinstance(obj, dict) and obj.get("format") == FORMAT_NAME:
        try:
            check_version(obj, FORMAT_NAME, FORMAT_VERSION, name)
        except NewerFormatError as exc:
            raise CheckpointError(str(exc)) from None
        if not isinstance(obj.get("config"), dict) or not isinstance(obj.get("state_dict"), dict):
            raise CheckpointError(f"'{name}' is a StemDeck checkpoint without config or weights")
        family = obj.get("family", "tasnet")
        if family == "hdemucs":
            try:
                hconfig = HDemucsConfig.from_dict(dict(obj["config"]))
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"'{name}' has an invalid configuration: {exc}") from None
            model = _load_hdemucs(obj["state_dict"], hconfig, name)
            return LoadedModel(model, hconfig, dict(obj.get("metadata", {})), FORMAT_NAME)
        if family != "tasnet":
            raise CheckpointError(
                f"'{name}' holds a model of family {family!r}, which this StemDeck cannot run"
            )
        try:
            config = TasNetConfig.from_dict(dict(obj["config"]))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"'{name}' has an invalid configuration: {exc}") from None
        model = build_model(config, obj["state_dict"], name)
        return LoadedModel(model, config, dict(obj.get("metadata", {})), FORMAT_NAME)
    if isinstance(obj, _DemucsSavedState):
        state = getattr(obj, "best_state", None) or getattr(obj, "last_state", None)
        if not isinstance(state, dict):
            raise CheckpointError(f"'{name}' is a Demucs training checkpoint without weights")
        config = infer_config(state)
        metrics = getattr(obj, "metrics", None) or []
        meta = {"epochs_trained": len(metrics)}
        return LoadedModel(build_model(config, state, name), config, meta, "demucs.checkpoint")
    if isinstance(obj, dict) and {"klass", "state", "kwargs"} <= obj.keys():
        if obj["klass"] is not _DemucsModelClass:  # unpickling a class gives the class itself
            raise CheckpointError(f"'{name}' packages a model that is not Demucs' ConvTasNet")
        kwargs = dict(obj.get("kwargs") or {})
        config = infer_config(obj["state"], **_demucs_kwargs(kwargs))
        _check_kwargs_match(config, kwargs, name)
        return LoadedModel(build_model(config, obj["state"], name), config, {}, "demucs.package")
    if isinstance(obj, dict) and "encoder.conv1d_U.weight" in obj:
        config = infer_config(obj)
        return LoadedModel(build_model(config, obj, name), config, {}, "demucs.state_dict")
    if hdemucs.is_hdemucs_state(obj):
        try:
            count = hdemucs.source_count(obj)
        except ValueError as exc:
            raise CheckpointError(f"'{name}' is not a usable Hybrid Demucs file: {exc}") from None
        sources = DEFAULT_SOURCES if count == 4 else tuple(f"source{i}" for i in range(count))
        hconfig = HDemucsConfig(sources=sources)
        model = _load_hdemucs(obj, hconfig, name)
        return LoadedModel(model, hconfig, {}, "torchaudio.hdemucs")
    raise CheckpointError(
        f"'{name}' is a PyTorch file but not a model StemDeck knows (expected a StemDeck "
        "checkpoint, Demucs v2 tasnet weights or torchaudio's Hybrid Demucs weights)"
    )
