"""What the dataset loaders share: one error type for a wrong or incomplete layout, and a CSV
reader that takes dataset tables as they are shipped.

A dataset folder is set up by hand (downloads, unpacking, a generator run), so a wrong layout is
a user error, not a bug: the message names the missing file, folder or column and says what
layout was expected, and the CLI prints it without a traceback.
"""

from __future__ import annotations

import csv
from pathlib import Path


class DatasetError(ValueError):
    """A dataset folder that is not in the expected layout; the message names what is missing."""


def read_table(
    path: Path, columns: tuple[str, ...], spill: str | None = None
) -> list[dict[str, str]]:
    """The rows of a CSV file that must have `columns` (other columns are kept), as stripped
    strings ("" where a row is short).

    A row with more fields than the header had an unquoted comma in its free-text column
    `spill` (MUSDB18-7's tracks.csv writes "Jokers, Jacks & Kings - ..." unquoted): the surplus
    fields are joined back into that column, so such a table reads as-is.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    header = [name.strip() for name in rows[0]] if rows else []
    missing = [c for c in columns if c not in header]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise DatasetError(f"{path} lacks the column(s) {names} (its header: {', '.join(header)})")
    table = []
    for fields in rows[1:]:
        surplus = len(fields) - len(header)
        if surplus > 0 and spill in header:
            at = header.index(spill)
            fields = [
                *fields[:at],
                ",".join(fields[at : at + surplus + 1]),
                *fields[at + surplus + 1 :],
            ]
        fields += [""] * (len(header) - len(fields))
        table.append({k: v.strip() for k, v in zip(header, fields, strict=False)})
    return table
