"""Reading and writing PyTorch model files, the same way for every model kind.

Reading goes through PyTorch's restricted unpickler (`weights_only=True`): tensors, plain
containers and numbers load, and only the Python classes a caller lists explicitly (as inert
stand-ins) are let through, so a hostile file can neither run code nor build arbitrary objects.
Every failure becomes the caller's own error class with a message a person can act on.

Writing stamps the file (`stamp.py`: format, version, software versions) and is atomic
(`atomic.py`): a crash never leaves a half-written model where a model is expected.

torch is imported inside the functions: the gateway imports the model layer without it.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stemdeck.common.atomic import atomic_write
from stemdeck.common.stamp import stamp


def restricted_load(
    path: Path,
    error: type[Exception] = ValueError,
    accepted: str = "only model weights are accepted",
    allowed: Sequence[Any] = (),
) -> Any:
    """The object in a PyTorch file, read without running code. `allowed` are extra globals
    for `torch.serialization.safe_globals` (a class, or (stand-in, "module.Name")); `accepted`
    says in the refusal what would have been loaded."""
    import torch

    path = Path(path)
    # torch.__version__ is a TorchVersion (a str subclass, no behaviour): a file whose stamp
    # holds it unconverted must still load.
    allowed = [torch.torch_version.TorchVersion, *allowed]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise error(f"model file '{path}' does not exist") from None
    except IsADirectoryError:
        raise error(f"model path '{path}' is a folder, not a model file") from None
    except pickle.UnpicklingError as exc:
        garbage = re.search(r"Unsupported operand \d+", str(exc))  # not a pickle at all
        if garbage:
            raise error(
                f"'{path.name}' is not a readable PyTorch model file ({garbage.group(0)})"
            ) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"a Python object of type {found.group(1)}" if found else "data"
        raise error(
            f"refusing to load '{path.name}': it contains {what} that StemDeck does not load "
            f"({accepted})"
        ) from None
    except Exception as exc:  # on garbage the unpickler raises KeyError, EOFError, ... anything
        first = (str(exc).splitlines() or [""])[0][:200]
        raise error(
            f"'{path.name}' is not a readable PyTorch model file ({type(exc).__name__}"
            f"{': ' + first if first else ''})"
        ) from None


def save_stamped(path: Path, format_name: str, version: int, body: dict[str, Any]) -> Path:
    """Write {format, version, software, **body} atomically with torch.save; returns `path`."""
    import torch

    payload = stamp(format_name, version, "torch", "torchaudio") | body
    return atomic_write(path, lambda temporary: torch.save(payload, temporary))
