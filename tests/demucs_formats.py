"""Model files written the way Demucs v2 writes them, without Demucs installed, and a local
download server that hands them out like dl.fbaipublicfiles.com.

Demucs v2 saves three kinds of file with `torch.save`:

1. the plain state_dict (the official `tasnet` / `tasnet_extra` weights);
2. a packaged model `{"klass": demucs.tasnet.ConvTasNet, "args", "kwargs", "state",
   "training_args": argparse.Namespace}`;
3. a training checkpoint, the dataclass `SavedState(metrics, last_state, best_state,
   optimizer)`, pickled as `__main__.SavedState` because Demucs runs as `python -m demucs`.

The classes those pickles name (`demucs.tasnet.ConvTasNet`, `__main__.SavedState`) only exist
while a file is being written: `demucs_classes()` puts them in place with pytest's MonkeyPatch
and takes them away again, so a loader under test cannot lean on them.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PosixPath
from typing import Any

import pytest
import torch

from stemdeck.separator.model import ConvTasNet


@dataclass
class _SavedState:
    """Demucs v2's `SavedState`, field for field (demucs/__main__.py)."""

    metrics: list = field(default_factory=list)
    last_state: dict | None = None
    best_state: dict | None = None
    optimizer: dict | None = None


_SavedState.__module__ = "__main__"
_SavedState.__name__ = _SavedState.__qualname__ = "SavedState"


def fake_class(module: str, qualname: str, **namespace: Any) -> type:
    """A class that pickles as `module.qualname`, as a stand-in for Demucs' own."""
    cls = type(qualname, (), dict(namespace))
    cls.__module__ = module
    cls.__qualname__ = qualname
    return cls


@contextmanager
def registered(*classes: type) -> Iterator[None]:
    """Make each class importable by its module and name (pickle checks that) for a while."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in classes:
            parts = cls.__module__.split(".")
            parent = None
            for depth in range(1, len(parts) + 1):
                name = ".".join(parts[:depth])
                module = sys.modules.get(name)
                if module is None:
                    module = types.ModuleType(name)
                    mp.setitem(sys.modules, name, module)
                if parent is not None:
                    mp.setattr(parent, parts[depth - 1], module, raising=False)
                parent = module
            mp.setattr(parent, cls.__qualname__, cls, raising=False)
        yield


@contextmanager
def demucs_classes() -> Iterator[tuple[type, type]]:
    """`demucs.tasnet.ConvTasNet` and `__main__.SavedState`, present only inside the block."""
    tasnet = fake_class("demucs.tasnet", "ConvTasNet")
    with registered(tasnet, _SavedState):
        yield tasnet, _SavedState


def demucs_kwargs(model: ConvTasNet, **overrides: Any) -> dict[str, Any]:
    """The constructor keyword arguments Demucs v2 records for a tasnet model."""
    cfg = model.config
    kwargs: dict[str, Any] = {
        "N": cfg.N,
        "L": cfg.L,
        "B": cfg.B,
        "H": cfg.H,
        "P": cfg.P,
        "X": cfg.X,
        "R": cfg.R,
        "C": len(cfg.sources),
        "audio_channels": cfg.audio_channels,
        "norm_type": cfg.norm,
        "causal": False,
        "mask_nonlinear": cfg.mask_nonlinear,
        "samplerate": cfg.sample_rate,
    }
    kwargs.update(overrides)
    return kwargs


def training_args(**overrides: Any) -> argparse.Namespace:
    """Demucs v2's parsed command line, Paths included, as stored in a packaged model."""
    values: dict[str, Any] = {
        "musdb": PosixPath("/data/musdb"),
        "wav": None,
        "metadata": PosixPath("metadata"),
        "evals": PosixPath("evals"),
        "logs": PosixPath("logs"),
        "models": PosixPath("models"),
        "checkpoints": PosixPath("checkpoints"),
        "tasnet": True,
        "split_valid": False,
        "X": 8,
        "samples": 80000,
        "epochs": 180,
        "lr": 3e-4,
        "batch_size": 4,
        "seed": 42,
        "restart": False,
        "world_size": 1,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def state_of(model: ConvTasNet) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the weights, the way Demucs copies a state for saving."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def save_state_dict(path: Path, state: dict[str, Any]) -> Path:
    """Format 1: the plain state_dict (the official pretrained files)."""
    torch.save(dict(state), path)
    return path


def save_package(
    path: Path,
    state: dict[str, Any],
    kwargs: dict[str, Any],
    klass: type | None = None,
    args: tuple = (),
    train_args: argparse.Namespace | None = None,
) -> Path:
    """Format 2: a packaged model. `klass` defaults to `demucs.tasnet.ConvTasNet`; pass a
    class made with `fake_class` (and `registered`) to package something else."""
    with demucs_classes() as (tasnet, _):
        package = {
            "klass": klass or tasnet,
            "args": args,
            "kwargs": kwargs,
            "state": dict(state),
            "training_args": train_args if train_args is not None else training_args(),
        }
        torch.save(package, path)
    return path


def adam_state(model: ConvTasNet, lr: float = 3e-4) -> dict[str, Any]:
    """An optimizer state shaped like `torch.optim.Adam(...).state_dict()` after some steps,
    as Demucs stores it (built by hand: a real first Adam step costs seconds of set-up)."""
    params = list(model.parameters())
    return {
        "state": {
            i: {
                "step": torch.tensor(100.0),
                "exp_avg": torch.full_like(p, 1e-3),
                "exp_avg_sq": torch.full_like(p, 1e-6),
            }
            for i, p in enumerate(params)
        },
        "param_groups": [
            {
                "lr": lr,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "capturable": False,
                "differentiable": False,
                "fused": None,
                "params": list(range(len(params))),
            }
        ],
    }


def save_training_checkpoint(
    path: Path,
    best_state: dict[str, Any] | None,
    last_state: dict[str, Any] | None,
    metrics: list[dict[str, float]] | None = None,
    optimizer: dict[str, Any] | None = None,
) -> Path:
    """Format 3: Demucs v2's `__main__.SavedState` training checkpoint."""
    with demucs_classes() as (_, saved_state):
        checkpoint = saved_state(
            metrics=list(metrics or []),
            last_state=last_state,
            best_state=best_state,
            optimizer=optimizer or {},
        )
        torch.save(checkpoint, path)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(path: Path, root: Path, stem: str = "tasnet", prefix: str | None = None) -> str:
    """Copy a file into the served folder as `<stem>-<8 hex>.th`, Demucs' naming, where the
    8 hex digits are the start of its sha256 (or `prefix`, to publish a wrong one)."""
    name = f"{stem}-{prefix or sha256_of(path)[:8]}.th"
    (root / name).write_bytes(path.read_bytes())
    return name


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 (a free port) for the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
