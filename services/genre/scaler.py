"""A standard scaler stored as JSON (no pickles), fitted on training rows only.

The seed fitted scikit-learn's StandardScaler on every row before splitting, so the test rows
leaked into the normalisation; `fit` takes the rows it is given and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """(x - mean) / scale per feature; a constant feature gets scale 1 (as scikit-learn does)."""

    mean: np.ndarray
    scale: np.ndarray
    names: tuple[str, ...] = ()
    rows: int = 0

    @classmethod
    def fit(cls, rows: np.ndarray, names: tuple[str, ...] = ()) -> Scaler:
        """Mean and population standard deviation of `rows` (n, features)."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or len(rows) < 2:
            raise ValueError("fit the scaler on at least two rows of features")
        scale = rows.std(axis=0)
        scale[scale < 1e-12] = 1.0
        return cls(rows.mean(axis=0), scale, tuple(names), len(rows))

    def transform(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape[-1] != self.mean.size:
            raise ValueError(f"expected {self.mean.size} features, got {rows.shape[-1]}")
        return ((rows - self.mean) / self.scale).astype(np.float32)

    def to_json(self) -> dict:
        return {
            "kind": "standard",
            "features": list(self.names),
            "fitted_rows": self.rows,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Scaler:
        if data.get("kind") != "standard":
            raise ValueError(f"not a standard scaler: kind {data.get('kind')!r}")
        mean = np.asarray(data["mean"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        if mean.shape != scale.shape or mean.ndim != 1 or not np.all(scale > 0):
            raise ValueError("scaler mean and scale must be equal-length, scale positive")
        return cls(mean, scale, tuple(data.get("features", ())), int(data.get("fitted_rows", 0)))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Scaler:
        return cls.from_json(json.loads(Path(path).read_text()))
