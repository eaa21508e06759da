"""The Auto-EQ network: the seed's exact layout, its checkpoint, and StemDeck's own format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stemdeck.eq.checkpoints import (
    EqCheckpointError,
    load_model,
    open_model,
    save_checkpoint,
)
from stemdeck.eq.features import MODEL_RATE, WINDOW_FRAMES
from stemdeck.eq.filters import apply_eq
from stemdeck.eq.model import EqConfig, EqNet, parameter_count

pytestmark = pytest.mark.unit

#: DESIGN.md §3.2: the state_dict of the seed's model2_mastering.pth, key by key.
SEED_LAYOUT: dict[str, tuple[int, ...]] = {
    "to_spec.spectrogram.window": (400,),
    "to_spec.mel_scale.fb": (201, 64),
    **{
        f"cnn.{conv}.{name}": shape
        for conv, (cin, cout) in {0: (1, 16), 4: (16, 32), 8: (32, 64)}.items()
        for name, shape in (("weight", (cout, cin, 3, 3)), ("bias", (cout,)))
    },
    **{
        f"cnn.{bn}.{name}": shape
        for bn, channels in {1: 16, 5: 32, 9: 64}.items()
        for name, shape in (
            ("weight", (channels,)),
            ("bias", (channels,)),
            ("running_mean", (channels,)),
            ("running_var", (channels,)),
            ("num_batches_tracked", ()),
        )
    },
    "head.1.weight": (128, 1024),
    "head.1.bias": (128,),
    "head.3.weight": (3, 128),
    "head.3.bias": (3,),
}


def seed_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict laid out like the seed's file, with random values (a stand-in for it)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in SEED_LAYOUT.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.1
    return state


def test_seed_variant_has_the_seed_layout_and_size() -> None:
    model = EqNet(EqConfig(variant="seed"))
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == SEED_LAYOUT
    assert parameter_count(model) == 155_107


@pytest.mark.parametrize("variant", ["stem-aware", "full-band-stems"])
def test_stem_aware_variants_add_only_a_stem_offset(variant: str) -> None:
    model = EqNet(EqConfig(variant=variant))  # type: ignore[arg-type]
    assert model.config.front_end == ("full-band" if variant == "full-band-stems" else "seed")
    assert parameter_count(model) == 155_107 + 4 * 128
    extra = set(model.state_dict()) - set(SEED_LAYOUT)
    assert extra - {"to_spec.spectrogram.window", "to_spec.mel_scale.fb"} == {
        "stem_embedding.weight"
    }
    windows = torch.randn(2, WINDOW_FRAMES) * 0.1
    with pytest.raises(ValueError, match="stem id"):
        model(windows)
    model.eval()
    with torch.no_grad():
        model.stem_embedding.weight[3] = 1.0
        same, other = model(windows, torch.tensor([0, 0])), model(windows, torch.tensor([3, 3]))
    assert same.shape == (2, 3)
    assert not torch.allclose(same, other)


def test_full_band_variant_changes_only_the_front_end() -> None:
    model = EqNet(EqConfig(variant="full-band")).eval()
    layout = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    front = {"to_spec.spectrogram.window": (4096,), "to_spec.mel_scale.fb": (2049, 64)}
    assert layout == {**SEED_LAYOUT, **front}
    assert parameter_count(model) == 155_107
    with torch.no_grad():
        assert model(torch.randn(2, WINDOW_FRAMES) * 0.1).shape == (2, 3)


def test_only_the_full_band_front_end_sees_the_high_shelf() -> None:
    """Why the full-band variant exists: +10 dB on the 10 kHz shelf lifts its top mel bands
    by nearly the full gain, while the seed's 22.05 kHz front end (ending at 11 kHz) sees
    about half of it."""
    noise = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, WINDOW_FRAMES + 8820))
    boosted = apply_eq(noise, MODEL_RATE, [0.0, 0.0, 10.0])
    lifts = {}
    for variant in ("seed", "full-band"):
        model = EqNet(EqConfig(variant=variant, level_norm=False))
        clean = model.features(noise[None, -WINDOW_FRAMES:].float())
        damaged = model.features(boosted[None, -WINDOW_FRAMES:].float())
        lifts[variant] = float((damaged - clean)[..., -4:, :].mean())
    assert lifts["full-band"] > 8.0
    assert lifts["seed"] < 6.0


def test_the_full_band_front_end_ignores_how_a_file_was_delivered() -> None:
    """Content above 16 kHz (where codecs cut) and hiss 90 dB under the signal (a 16-bit
    file's quantisation) leave the full-band log-mel as it is; the 10 kHz shelf still shows."""
    rng = np.random.default_rng(0)
    t = np.arange(WINDOW_FRAMES) / MODEL_RATE
    spectrum = np.fft.rfft(np.sin(2 * np.pi * 440 * t) + 0.1 * rng.normal(size=t.shape))
    spectrum[np.fft.rfftfreq(t.size, 1 / MODEL_RATE) > 12000] = 0  # nothing above 12 kHz
    tone = np.fft.irfft(spectrum, n=t.size)
    window = torch.from_numpy(0.1 * tone).float()[None]
    above = window + 0.005 * torch.from_numpy(np.sin(2 * np.pi * 18000 * t)).float()
    hiss = window + torch.from_numpy(rng.normal(0, 0.1 * 10 ** (-90 / 20), t.shape)).float()
    model = EqNet(EqConfig(variant="full-band"))
    inner = slice(2, -2)  # the first and last two frames also see the STFT's edge padding
    base = model.features(window)[..., inner]
    assert (model.features(above)[..., inner] - base).abs().max() < 0.5
    assert (model.features(hiss)[..., inner] - base).abs().max() < 0.5
    assert base.max() - base.min() <= 80.0 + 1e-3


def test_the_seed_checkpoint_loads_into_the_seed_variant(tmp_path: Path) -> None:
    state = seed_state_dict()
    path = tmp_path / "model2_mastering.pth"
    torch.save(state, path)
    loaded = load_model(path)
    assert loaded.source_format == "seed.state_dict"
    assert loaded.config.variant == "seed"
    assert loaded.config.level_norm is False  # the seed fed the mel of the raw level
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not loaded.model.training
    with torch.no_grad():
        out = loaded.model(torch.randn(3, WINDOW_FRAMES) * 0.1)
    assert out.shape == (3, 3) and torch.isfinite(out).all()


def test_a_seed_layout_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    state = seed_state_dict()
    state["head.1.weight"] = torch.zeros(128, 512)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(EqCheckpointError, match="does not fit the 'seed' Auto-EQ network"):
        load_model(tmp_path / "bad.pth")


def test_stemdeck_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = EqNet(EqConfig(variant="stem-aware"))
    path = save_checkpoint(tmp_path / "m.pt", model, {"note": "test"})
    loaded = load_model(path)
    assert loaded.config == model.config
    assert loaded.metadata == {"note": "test"}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    # The file holds only tensors and plain data: the restricted unpickler reads it.
    assert torch.load(path, weights_only=True)["format"] == "stemdeck.eq"


class Payload:
    def __reduce__(self):  # what a hostile file would run on load
        return (print, ("pwned",))


def test_unreadable_and_hostile_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"not a model at all")
    with pytest.raises(EqCheckpointError, match="not a readable PyTorch model file"):
        load_model(tmp_path / "garbage.pt")
    torch.save({"state_dict": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(EqCheckpointError, match="a Python object of type"):
        load_model(tmp_path / "evil.pt")
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(EqCheckpointError, match="not an Auto-EQ model"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(EqCheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(EqCheckpointError, match="no Auto-EQ model 'nonesuch'"):
        open_model("nonesuch")


def test_the_bundled_model_loads() -> None:
    loaded = open_model("default")
    assert loaded.config.variant == "full-band"
    assert loaded.metadata["training"]["steps"] > 0
    size = (Path(__file__).parents[1] / "services/eq/weights/default.pt").stat().st_size
    assert size < 25 * 1024 * 1024
