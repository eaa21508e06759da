"""Writing files so that a reader sees the old file or the whole new one, never a part.

Each file is written under a temporary name in its own folder (so the final rename stays on one
file system), flushed to disk, then renamed over the target. If writing fails - a full disk, an
exception in the writer, Ctrl-C - the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

#: What temporary files start with; never listed as models, never left behind.
TEMP_PREFIX = ".partial-"


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A fresh name beside `path` that keeps its suffix (Keras insists on `.keras`); the writer
    creates the file, so it gets the usual permissions (a shared model cache stays readable)."""
    temporary = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _flush(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Call `write(temporary_path)`, then rename the result onto `path` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path) as temporary:
        write(temporary)
        _flush(temporary)
        temporary.replace(path)
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write(path, lambda temporary: temporary.write_text(text))


def atomic_write_files(folder: Path | str, writers: dict[str, Callable[[Path], object]]) -> Path:
    """Write several files of one folder: all are written to temporary files first, and only
    when every writer has succeeded are they renamed into place, in the order given (put the
    file that marks the folder complete last). Other files in the folder are left alone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        ready = []
        for name, write in writers.items():
            temporary = stack.enter_context(_temporary_beside(folder / name))
            write(temporary)
            _flush(temporary)
            ready.append((temporary, folder / name))
        for temporary, target in ready:
            temporary.replace(target)
    return folder
