"""Conv-TasNet on STFT frames (`encoder: stft`): shapes, sums, checkpoints and EMA training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stemdeck.separator.checkpoints import load_model, save_checkpoint
from stemdeck.separator.config import PRESETS, TasNetConfig
from stemdeck.separator.model import ConvTasNet
from stemdeck.training.separator import TrainSettings, stft_magnitude_loss, train
from tests.test_training_separator import make_musdb_hq

pytestmark = pytest.mark.unit

#: A spectral model small enough to train in a test: 512-point frames, bins up to 4 kHz.
TINY_SPECTRAL = TasNetConfig(
    encoder="stft", L=512, hop=128, max_freq=4000.0, B=16, H=32, X=2, R=1,
    mask_nonlinear="softmax",
)  # fmt: skip


def test_spectral_stems_add_up_to_the_input_at_any_length() -> None:
    torch.manual_seed(0)
    model = ConvTasNet(TINY_SPECTRAL).eval()
    for length in (512, 4001, 22050):
        mix = torch.randn(2, 2, length)
        with torch.no_grad():
            stems = model(mix)
        assert stems.shape == (2, 4, 2, length)
        torch.testing.assert_close(stems.sum(1), mix, atol=1e-5, rtol=0)


def test_the_masker_reads_both_channels_up_to_max_freq() -> None:
    config = PRESETS["spectral"]
    assert config.stft_bins == int(16000 * 4096 / 44100) + 1
    assert 2 * config.stft_bins == config.N
    assert 20 < config.receptive_field_seconds < 30  # X=8, R=2 at hop 1024
    assert config.default_segment_seconds == 12.0
    features, spec = ConvTasNet(config).encoder(torch.randn(1, 2, 44100))
    assert features.shape == (1, config.N, 44100 // 1024 + 1)
    assert spec.shape == (1, 2, 2049, 44100 // 1024 + 1)


def test_encoder_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="needs a hop"):
        TasNetConfig(encoder="stft", L=512)
    with pytest.raises(ValueError, match="max_freq"):
        TasNetConfig(encoder="stft", L=512, hop=128, max_freq=30000.0)
    with pytest.raises(ValueError, match="learned encoder's hop"):
        TasNetConfig(L=20, hop=5)
    with pytest.raises(ValueError, match="unknown encoder"):
        TasNetConfig(encoder="wavelet")  # type: ignore[arg-type]


def test_learned_configs_keep_their_original_keys() -> None:
    """Files of the learned encoder stay readable by StemDeck versions before the STFT one."""
    assert set(PRESETS["compact"].to_dict()).isdisjoint({"encoder", "hop", "max_freq"})
    spectral = PRESETS["spectral"].to_dict()
    assert spectral["encoder"] == "stft" and spectral["hop"] == 1024
    assert TasNetConfig.from_dict(spectral) == PRESETS["spectral"]


def test_a_spectral_checkpoint_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = ConvTasNet(TINY_SPECTRAL).eval()
    path = save_checkpoint(tmp_path / "spectral.pt", model)
    loaded = load_model(path)
    assert loaded.config == TINY_SPECTRAL
    mix = torch.randn(1, 2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(mix), model(mix))


def test_stft_loss_is_zero_for_a_perfect_estimate_and_grows_with_error() -> None:
    target = torch.randn(2, 4, 2, 8192)
    assert float(stft_magnitude_loss(target, target)) == 0.0
    small = stft_magnitude_loss(target + 0.01 * torch.randn_like(target), target)
    large = stft_magnitude_loss(target + 0.1 * torch.randn_like(target), target)
    assert 0 < float(small) < float(large)


def test_spectral_training_with_ema_resumes_exactly(tmp_path: Path) -> None:
    """EMA weights and the STFT loss are part of the exact-resume promise."""
    data = make_musdb_hq(tmp_path / "data", {"A": "train", "B": "train", "C": "valid"})
    settings = TrainSettings(
        steps=4, batch=2, segment=0.5, valid_every=2, bf16=False, ema=0.9, stft_loss=1.0
    )
    train(data, tmp_path / "straight", TINY_SPECTRAL, settings, log=lambda _: None)

    def stop_after_step_three(step: int, total: int, loss: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            data, tmp_path / "resumed", TINY_SPECTRAL, settings, log=lambda _: None,
            progress=stop_after_step_three,
        )  # fmt: skip
    train(data, tmp_path / "resumed", TINY_SPECTRAL, settings, log=lambda _: None)
    straight = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)
    assert resumed["ema"]["updates"] == straight["ema"]["updates"] == 4
    for part in ("model",):
        for key, value in straight[part].items():
            torch.testing.assert_close(resumed[part][key], value, rtol=0, atol=0)
    for key, value in straight["ema"]["model"].items():
        torch.testing.assert_close(resumed["ema"]["model"][key], value, rtol=0, atol=0)
    # The shipped model is the average, not the last raw weights.
    best = load_model(tmp_path / "straight" / "best.pt").model.state_dict()
    raw = straight["model"]
    assert any(not torch.equal(best[k], raw[k]) for k in best)
