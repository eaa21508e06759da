"""Hybrid Demucs end to end without the internet: a file with exactly the layout torchaudio's
`hdemucs_high` writes (random weights) is published on a local download server, pulled with
`stemdeck models pull hdemucs`, and separates a real song excerpt through `stemdeck separate`
and through `stemdeck serve`. A wrong hash, a dropped connection and foreign files are refused
with a clear message and leave no model behind; a dropped download resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch

from stemdeck.common.audio import read_audio, write_audio
from stemdeck.separator import repository
from stemdeck.separator.cards import HDEMUCS_HIGH_PARAMETERS, REMOTE
from stemdeck.separator.checkpoints import load_model, save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet
from tests.api_env import poll, separated, serve_process
from tests.conftest import SHARED_AUDIO
from tests.download_server import RangeServer, range_server

pytestmark = [pytest.mark.service, pytest.mark.slow]
STEMS = ["bass", "drums", "other", "vocals"]
FILE = Path(REMOTE["hdemucs"].url).name  # hdemucs_high_musdbhq_only.pt
EXCERPT_SOURCE = SHARED_AUDIO / "real" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def env_for(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    return env | {
        "STEMDECK_MODEL_DIR": str(cache),
        "STEMDECK_DEVICE": "cpu",
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
        "COLUMNS": "400",
    }


def stemdeck(cache: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed command line in its own process, with `cache` as the model cache."""
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env_for(cache),
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def models_in(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*.pt")) if cache.exists() else []


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    """torchaudio's file name on a local server, holding random weights in `hdemucs_high`'s
    exact state_dict layout (built by torchaudio itself, not written out by us)."""
    from torchaudio.models import hdemucs_high

    root = tmp_path_factory.mktemp("www")
    torch.manual_seed(0)
    torch.save(hdemucs_high(sources=["drums", "bass", "other", "vocals"]).state_dict(), root / FILE)
    with range_server(root) as server:
        yield server


@pytest.fixture(scope="module")
def pulled(www: RangeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache into which `stemdeck models pull hdemucs` downloaded the file."""
    cache = tmp_path_factory.mktemp("pulled")
    result = stemdeck(cache, "models", "pull", "hdemucs", "--url", f"{www.url}/{FILE}")
    assert result.returncode == 0, result.stderr
    assert f"hdemucs → {cache / 'hdemucs.pt'}" in result.stdout
    assert "licence: not stated for these files" in flat(result.stdout)
    return cache


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 s of a real song (the first 5 s of the shared vocal excerpt)."""
    if not EXCERPT_SOURCE.is_file():
        pytest.skip(f"needs the shared real recordings ({EXCERPT_SOURCE} is absent)")
    audio = read_audio(EXCERPT_SOURCE, 44100, 2)[:, : 5 * 44100]
    path = tmp_path_factory.mktemp("songs") / "Slow Motion Dream (excerpt).wav"
    write_audio(path, audio)
    return path


def test_pull_converts_verifies_and_describes_the_model(pulled: Path, www: RangeServer) -> None:
    original = www.root / FILE
    assert sorted(p.name for p in pulled.iterdir()) == ["hdemucs.json", "hdemucs.pt"]
    card = json.loads((pulled / "hdemucs.json").read_text())
    assert card["family"] == "hdemucs" and card["soft_mask"] is False
    assert card["parameters"] == HDEMUCS_HIGH_PARAMETERS
    assert card["sha256"] == sha256_of(original)
    assert card["size_bytes"] == original.stat().st_size
    assert card["origin_url"] == f"{www.url}/{FILE}"
    assert card["quality"]["sdr_db"] == 7.7 and "MUSDB18-HQ test" in card["quality"]["measured_on"]
    loaded = load_model(pulled / "hdemucs.pt")
    assert (loaded.family, loaded.soft_mask, loaded.config.default_segment_seconds) == (
        "hdemucs",
        False,
        7.8,
    )
    assert sum(p.numel() for p in loaded.model.parameters()) == HDEMUCS_HIGH_PARAMETERS
    state = torch.load(original, weights_only=True)
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())


def test_models_list_shows_the_pulled_model(pulled: Path) -> None:
    result = stemdeck(pulled, "models", "list")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "hdemucs " in line)
    assert re.search(r"hdemucs\s*│\s*pulled\s*│\s*83\.64 M\s*│\s*Hybrid Demucs", row)
    assert re.search(r"│\s*off\s*│\s*7\.7 dB SDR", row)
    extra = next(line for line in result.stdout.splitlines() if "hdemucs_extra" in line)
    assert "available to pull" in extra


def test_separate_a_real_song_excerpt_with_hdemucs(
    pulled: Path, excerpt: Path, tmp_path: Path
) -> None:
    """The CLI runs the pulled model by name; by default without the soft mask (never
    measured on Demucs), and `--soft-mask` overrides that for the call."""
    mixture = sf.read(excerpt, dtype="float64")[0]
    sums = {}
    for flag in ("", "--soft-mask"):
        out = tmp_path / (flag or "default")
        args = ["separate", excerpt, "-o", out, "--model", "hdemucs", "--bit-depth", "32"]
        result = stemdeck(pulled, *args, *([flag] if flag else []))
        assert result.returncode == 0, result.stderr
        folder = out / excerpt.stem
        assert sorted(p.stem for p in folder.iterdir()) == STEMS
        stems = {s: sf.read(folder / f"{s}.wav", dtype="float64")[0] for s in STEMS}
        for audio in stems.values():
            assert audio.shape == mixture.shape
            assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4
        sums[flag] = sum(stems.values())
    np.testing.assert_allclose(sums["--soft-mask"], mixture, atol=1e-4)
    assert np.abs(sums[""] - mixture).max() > 1e-3  # random weights do not add up by themselves


def test_a_wrong_hash_is_refused_and_leaves_nothing(www: RangeServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = stemdeck(
        cache, "models", "pull", "hdemucs", "--url", f"{www.url}/{FILE}", "--sha256", "00000000"
    )
    assert result.returncode == 1
    assert re.search(
        r"error: download of 'hdemucs' is corrupt: sha256 [0-9a-f]{8}\.\.\. does not start with "
        r"00000000",
        flat(result.stderr),
    )
    assert "Traceback" not in result.stderr
    assert sorted(cache.rglob("*")) == []


def test_a_dropped_download_is_refused_then_resumed(www: RangeServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    size = (www.root / FILE).stat().st_size
    www.cut[f"/{FILE}"] = 50_000_000
    first = stemdeck(cache, "models", "pull", "hdemucs", "--url", f"{www.url}/{FILE}")
    assert first.returncode == 1
    assert re.search(
        rf"error: download of .*{FILE} stopped after 50\.0 MB of {size / 1e6:.1f} MB .*run "
        r"`stemdeck models pull hdemucs` again to resume it",
        flat(first.stderr),
    )
    assert models_in(cache) == [] and not (cache / "hdemucs.json").exists()
    second = stemdeck(cache, "models", "pull", "hdemucs", "--url", f"{www.url}/{FILE}")
    assert second.returncode == 0, second.stderr
    path, wanted, if_range = www.seen[-1]
    assert (path, wanted) == (f"/{FILE}", "bytes=50000000-") and if_range
    assert json.loads((cache / "hdemucs.json").read_text())["sha256"] == sha256_of(www.root / FILE)
    assert sorted(p.name for p in cache.iterdir()) == ["hdemucs.json", "hdemucs.pt"]


def _tasnet_state() -> dict[str, torch.Tensor]:
    model = ConvTasNet(TasNetConfig(N=8, B=8, H=16, X=2, R=1))
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tasnet", r"downloaded 'hdemucs' is not usable: it holds a tasnet model, not the hdemucs"),
        (
            "misshapen",
            r"downloaded 'hdemucs' is not usable: 'foreign-misshapen\.pt' does not have Hybrid "
            r"Demucs' \(hdemucs_high\) layout for 4 sources: ",
        ),
        (
            "html",
            r"downloaded 'hdemucs' is not usable: 'foreign-html\.pt' is not a readable PyTorch "
            r"model file",
        ),
    ],
)
def test_a_foreign_file_is_refused_and_leaves_nothing(
    www: RangeServer, tmp_path: Path, content: str, message: str
) -> None:
    name = f"foreign-{content}.pt"
    if content == "tasnet":
        torch.save(_tasnet_state(), www.root / name)
    elif content == "misshapen":  # Hybrid Demucs' marker keys, little else, one odd shape
        torch.save(
            {
                "freq_encoder.0.conv.weight": torch.zeros(48, 2, 8, 1),
                "time_encoder.0.conv.weight": torch.zeros(48, 2, 8),
                "time_decoder.4.conv_tr.weight": torch.zeros(48, 8, 8),
            },
            www.root / name,
        )
    else:
        (www.root / name).write_text("<html>please log in</html>")
    cache = tmp_path / "cache"
    result = stemdeck(cache, "models", "pull", "hdemucs", "--url", f"{www.url}/{name}")
    (www.root / name).unlink()
    assert result.returncode == 1
    assert re.search(r"error: " + message, flat(result.stderr)), result.stderr
    assert "Traceback" not in result.stderr
    if content == "misshapen":
        shown = r"missing freq_encoder\.0\.conv\.bias; .*; and \d+ more"
        assert re.search(shown, flat(result.stderr))
    assert sorted(cache.rglob("*")) == []


def test_serve_lists_and_runs_the_pulled_model(pulled: Path, excerpt: Path, tmp_path: Path) -> None:
    """`stemdeck serve` with the pulled model: GET /v1/models describes it, an unknown name is
    refused before anything is stored, and a job run with it records which model made it."""
    cache = tmp_path / "cache"
    shutil.copytree(pulled, cache)
    data = tmp_path / "data"
    data.mkdir()
    log = tmp_path / "serve.log"
    with (
        serve_process(env_for(cache), data, log) as (url, _),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        listing = client.get("/v1/models")
        assert listing.status_code == 200, listing.text
        models = {m["name"]: m for m in listing.json()["models"]}
        assert {"default", "hdemucs"} <= set(models)
        assert listing.json()["default"] == "default" and models["default"]["default"]
        hd = models["hdemucs"]
        assert (hd["family"], hd["origin"], hd["soft_mask"], hd["default"]) == (
            "hdemucs", "pulled", False, False,
        )  # fmt: skip
        assert hd["parameters"] == HDEMUCS_HIGH_PARAMETERS and hd["quality"]["sdr_db"] == 7.7
        assert models["default"]["soft_mask"] is True  # the bundled spectral model's card

        with excerpt.open("rb") as handle:
            refused = client.post(
                "/v1/jobs", files={"file": (excerpt.name, handle)}, data={"model": "nope"}
            )
        assert refused.status_code == 422
        assert re.search(r"unknown model 'nope'; installed: .*default.*hdemucs", refused.text)
        assert client.get("/v1/jobs").json()["total"] == 0

        with excerpt.open("rb") as handle:
            answer = client.post(
                "/v1/jobs", files={"file": (excerpt.name, handle)}, data={"model": "hdemucs"}
            )
        assert answer.status_code == 201, answer.text
        job_id = answer.json()["id"]
        record = poll(lambda: client.get(f"/v1/jobs/{job_id}").json(), separated, 300)
        assert record["stages"]["separate"]["status"] == "succeeded", (
            record,
            log.read_text()[-3000:],
        )
        done = record["results"]["separation"]
        assert (done["model"], done["family"], done["soft_mask"]) == (
            "hdemucs",
            "hdemucs",
            False,
        )
        stem = client.get(f"/v1/jobs/{job_id}/stems/vocals")
        assert stem.status_code == 200
        (tmp_path / "vocals.wav").write_bytes(stem.content)
        assert sf.info(tmp_path / "vocals.wav").frames == sf.info(excerpt).frames
        speed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}["hdemucs"]
        assert speed["speed"]["real_time_factor"] > 0 and speed["speed"]["device"] == "cpu"


def test_a_checkpoint_can_pin_its_soft_mask(tmp_path: Path) -> None:
    """The post-filter default is the model's: its metadata, else its card, else off."""
    torch.manual_seed(0)
    model = ConvTasNet(TasNetConfig(N=8, B=8, H=16, X=2, R=1))
    assert load_model(save_checkpoint(tmp_path / "plain.pt", model)).soft_mask is False
    pinned = save_checkpoint(tmp_path / "on.pt", model, {"soft_mask": True})
    assert load_model(pinned).soft_mask is True
    bundled = repository.BUNDLED_DIR / "default.pt"
    if bundled.is_file():
        assert load_model(bundled).soft_mask is True  # its card: it raised BSSEval there
