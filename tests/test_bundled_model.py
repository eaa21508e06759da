"""The model StemDeck ships: it loads, matches its model card, and is what `default` means."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from stemdeck.separator.checkpoints import load_model
from stemdeck.separator.config import PRESETS
from stemdeck.separator.repository import BUNDLED_DIR, list_models, resolve

pytestmark = pytest.mark.unit

WEIGHTS = BUNDLED_DIR / "default.pt"
CARD = BUNDLED_DIR / "default.md"


def test_default_is_the_bundled_spectral_model() -> None:
    loaded = load_model(WEIGHTS)
    assert loaded.config == PRESETS["spectral"]
    assert loaded.metadata["training"]["step"] > 0
    assert resolve(None) == WEIGHTS
    assert ("default", "bundled") in {(e.name, e.origin) for e in list_models()}
    assert WEIGHTS.stat().st_size < 25 * 1024 * 1024


def test_model_card_names_these_weights() -> None:
    digest = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    card = CARD.read_text()
    assert digest in card, "update the sha256 in default.md when the weights change"
    step = load_model(WEIGHTS).metadata["training"]["step"]
    assert re.search(rf"\b{step}\b", card), "the card must say how many steps were trained"


@pytest.mark.slow
def test_separate_without_model_option_uses_it(tmp_path: Path, song_wav: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stemdeck.cli.main", "separate", str(song_wav), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "song" / "vocals.wav").frames == sf.info(song_wav).frames
