"""Model files: StemDeck's format and Demucs v2's three load to the very same model, hostile or
broken files are refused with a readable message, and `pull` / `resolve` find models safely."""

from __future__ import annotations

import collections
import math
import os
import pathlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from stemdeck.separator import installed, repository
from stemdeck.separator.cards import REMOTE
from stemdeck.separator.checkpoints import (
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointError,
    LoadedModel,
    load_model,
    save_checkpoint,
)
from stemdeck.separator.config import DEFAULT_SOURCES, TasNetConfig, preset
from stemdeck.separator.model import ConvTasNet, parameter_count
from stemdeck.separator.repository import ModelEntry, ModelNotFoundError
from tests.demucs_formats import (
    adam_state,
    demucs_classes,
    demucs_kwargs,
    fake_class,
    publish,
    registered,
    save_package,
    save_state_dict,
    save_training_checkpoint,
    serve,
    sha256_of,
    state_of,
    training_args,
)

pytestmark = pytest.mark.unit

#: Small models with the real layout: X=3/R=2, and the official files' X=10/R=4.
SMALL = TasNetConfig(N=16, B=16, H=32, X=3, R=2)
OFFICIAL_LAYOUT = TasNetConfig(N=8, B=8, H=16, X=10, R=4)
MIX = torch.randn(1, 2, 4410, generator=torch.Generator().manual_seed(7))
SHAPE_FIELDS = ("N", "L", "B", "H", "P", "X", "R", "sources", "audio_channels")


def demucs_layout(N: int, L: int, B: int, H: int, P: int, X: int, R: int, C: int = 4):
    """Demucs v2's tasnet state_dict, key by key, written out from its source (not our model)."""
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.conv1d_U.weight": (N, 2, L),
        "separator.network.0.gamma": (1, N, 1),
        "separator.network.0.beta": (1, N, 1),
        "separator.network.1.weight": (B, N, 1),
    }
    for r in range(R):
        for x in range(X):
            block = f"separator.network.2.{r}.{x}.net"
            shapes[f"{block}.0.weight"] = (H, B, 1)
            shapes[f"{block}.1.weight"] = (1,)
            shapes[f"{block}.2.gamma"] = (1, H, 1)
            shapes[f"{block}.2.beta"] = (1, H, 1)
            shapes[f"{block}.3.net.0.weight"] = (H, 1, P)
            shapes[f"{block}.3.net.1.weight"] = (1,)
            shapes[f"{block}.3.net.2.gamma"] = (1, H, 1)
            shapes[f"{block}.3.net.2.beta"] = (1, H, 1)
            shapes[f"{block}.3.net.3.weight"] = (B, H, 1)
    shapes["separator.network.3.weight"] = (C * N, B, 1)
    shapes["decoder.basis_signals.weight"] = (2 * L, N)
    return shapes


def separate(loaded: LoadedModel | ConvTasNet) -> torch.Tensor:
    model = loaded.model if isinstance(loaded, LoadedModel) else loaded
    with torch.no_grad():
        return model.eval()(MIX)


def shape_of(config: TasNetConfig) -> tuple:
    return tuple(getattr(config, f) for f in SHAPE_FIELDS)


def random_model(config: TasNetConfig, seed: int) -> ConvTasNet:
    """Random weights everywhere, norms and PReLUs included, so every tensor matters."""
    torch.manual_seed(seed)
    model = ConvTasNet(config)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith(("beta", "bias", "running_mean")):
                tensor.uniform_(-0.1, 0.1)
            elif name.endswith(("gamma", "running_var")) or tensor.dim() == 1:
                tensor.uniform_(0.5, 1.5)
    return model.eval()


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


@dataclass
class Reference:
    model: ConvTasNet
    output: torch.Tensor


@pytest.fixture(autouse=True)
def no_bundled_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bundled weights may come and go in the source tree; these tests bring their own."""
    bundled = tmp_path / "bundled"
    monkeypatch.setattr(installed, "BUNDLED_DIR", bundled)
    return bundled


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STEMDECK_MODEL_DIR", str(folder))
    return folder


@pytest.fixture
def www(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A folder and the URL it is served at on 127.0.0.1."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as url:
        yield root, url


@pytest.fixture(scope="module")
def full_size() -> dict[str, ConvTasNet]:
    """The two real sizes, built once for the whole module (only their shapes are used)."""
    torch.manual_seed(0)
    return {name: ConvTasNet(preset(name)) for name in ("seed", "demucs_tasnet")}


@pytest.fixture(scope="module", params=[SMALL, OFFICIAL_LAYOUT], ids=["X3R2", "X10R4"])
def reference(request: pytest.FixtureRequest) -> Reference:
    model = random_model(request.param, seed=1)
    return Reference(model, separate(model))


# --- sizes and layout ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "count"), [("seed", 8_852_032), ("demucs_tasnet", 10_977_872)])
def test_parameter_counts_match_demucs(full_size: dict[str, ConvTasNet], name: str, count: int):
    assert parameter_count(full_size[name]) == count


@pytest.mark.parametrize(("name", "x"), [("seed", 8), ("demucs_tasnet", 10)])
def test_state_dict_layout_is_demucs_v2(full_size: dict[str, ConvTasNet], name: str, x: int):
    expected = demucs_layout(N=256, L=20, B=256, H=512, P=3, X=x, R=4)
    actual = {k: tuple(v.shape) for k, v in full_size[name].state_dict().items()}
    assert actual == expected
    assert sum(math.prod(s) for s in expected.values()) == parameter_count(full_size[name])


def test_small_layouts_follow_the_same_pattern() -> None:
    for cfg in (SMALL, OFFICIAL_LAYOUT):
        actual = {k: tuple(v.shape) for k, v in ConvTasNet(cfg).state_dict().items()}
        assert actual == demucs_layout(cfg.N, cfg.L, cfg.B, cfg.H, cfg.P, cfg.X, cfg.R)


@pytest.mark.parametrize(("name", "x"), [("seed", 8), ("demucs_tasnet", 10)])
def test_full_size_demucs_files_load_as_their_preset(tmp_path: Path, name: str, x: int) -> None:
    """Weights laid out by hand as Demucs writes them (not taken from our model): the official
    X=10 plain state_dict, and the seed's X=8 training checkpoint."""
    generator = torch.Generator().manual_seed(x)
    layout = demucs_layout(N=256, L=20, B=256, H=512, P=3, X=x, R=4)
    state = {k: torch.randn(shape, generator=generator) * 0.01 for k, shape in layout.items()}
    if name == "demucs_tasnet":
        path = save_state_dict(tmp_path / "tasnet-beb46fac.th", state)
    else:
        path = save_training_checkpoint(tmp_path / "checkpoint.th", state, None)
    loaded = load_model(path)
    assert loaded.config == preset(name)
    assert loaded.source_format == ("demucs.state_dict" if x == 10 else "demucs.checkpoint")
    assert parameter_count(loaded.model) == {8: 8_852_032, 10: 10_977_872}[x]
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())


# --- every route to a model gives the same model ------------------------------------------

ROUTES = ["stemdeck", "state_dict", "package", "checkpoint", "imported", "pulled"]
FORMAT_OF = {
    "stemdeck": FORMAT_NAME,
    "state_dict": "demucs.state_dict",
    "package": "demucs.package",
    "checkpoint": "demucs.checkpoint",
    "imported": FORMAT_NAME,
    "pulled": FORMAT_NAME,
}


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_gives_identical_outputs(
    reference: Reference, route: str, tmp_path: Path, cache: Path, www: tuple[Path, str]
) -> None:
    model = reference.model
    state = state_of(model)
    plain = tmp_path / "tasnet.th"
    if route == "stemdeck":
        path = save_checkpoint(tmp_path / "model.pt", model, {"note": "test"})
    elif route == "state_dict":
        path = save_state_dict(plain, state)
    elif route == "package":
        path = save_package(tmp_path / "package.th", state, demucs_kwargs(model))
    elif route == "checkpoint":
        other = state_of(random_model(model.config, seed=99))
        metrics = [{"train": 0.2, "valid": 0.3, "best": 0.3}, {"train": 0.1, "valid": 0.25}]
        path = save_training_checkpoint(
            tmp_path / "checkpoint.th", state, other, metrics, adam_state(model)
        )
    elif route == "imported":
        path = repository.import_model(save_state_dict(plain, state), "mine")
        assert path == cache / "mine.pt"
    else:
        root, url = www
        name = publish(save_state_dict(plain, state), root)
        path = repository.pull("tasnet", url=f"{url}/{name}")
        assert path == cache / "tasnet.pt"

    loaded = load_model(path)
    assert loaded.source_format == FORMAT_OF[route]
    assert shape_of(loaded.config) == shape_of(model.config)
    assert loaded.config == model.config
    assert loaded.config.sources == DEFAULT_SOURCES
    output = separate(loaded)
    assert output.shape == (1, 4, 2, 4410)
    assert torch.equal(output, reference.output)
    if route in ("imported", "pulled"):
        assert loaded.metadata["source_format"] == "demucs.state_dict"
        assert loaded.metadata["imported_from"] == Path(plain if route == "imported" else name).name
    if route == "stemdeck":
        assert loaded.metadata == {"note": "test"}


def test_training_checkpoint_takes_best_state_not_last_state(tmp_path: Path) -> None:
    best, last = random_model(SMALL, seed=1), random_model(SMALL, seed=2)
    assert not torch.equal(separate(best), separate(last))
    metrics = [{"valid": 0.5}, {"valid": 0.4}, {"valid": 0.45}]
    path = save_training_checkpoint(tmp_path / "c.th", state_of(best), state_of(last), metrics)
    loaded = load_model(path)
    assert torch.equal(separate(loaded), separate(best))
    assert loaded.metadata == {"epochs_trained": 3}


def test_demucs_classes_are_gone_once_written(tmp_path: Path) -> None:
    """The loader cannot be leaning on the classes the writer put in place."""
    import __main__

    save_package(tmp_path / "p.th", state_of(random_model(SMALL, 1)), {})
    save_training_checkpoint(tmp_path / "c.th", {}, {})
    assert "demucs" not in sys.modules
    assert "demucs.tasnet" not in sys.modules
    assert not hasattr(__main__, "SavedState")
    with demucs_classes() as (tasnet, saved_state):
        assert f"{tasnet.__module__}.{tasnet.__qualname__}" == "demucs.tasnet.ConvTasNet"
        assert f"{saved_state.__module__}.{saved_state.__qualname__}" == "__main__.SavedState"


def test_package_settings_carry_over(tmp_path: Path) -> None:
    """norm, mask non-linearity, sample rate and stem names come from the package's kwargs;
    none of them can be read off the weights' shapes."""
    cfg = TasNetConfig(
        N=8, B=8, H=16, X=2, R=1, norm="cLN", mask_nonlinear="sigmoid",
        sources=("voice", "rest"), sample_rate=22050,
    )  # fmt: skip
    model = random_model(cfg, seed=3)
    kwargs = demucs_kwargs(model, sources=["voice", "rest"])
    del kwargs["C"]
    loaded = load_model(save_package(tmp_path / "p.th", state_of(model), kwargs))
    assert loaded.config == cfg
    assert torch.equal(separate(loaded), separate(model))


class _WindowsPath:
    """Pickles exactly like pathlib.WindowsPath("C:/data/musdb"), which Linux cannot build."""

    def __reduce__(self):
        return (pathlib.WindowsPath, ("C:\\", "data", "musdb"))


def test_package_trained_on_windows_loads_on_linux(tmp_path: Path) -> None:
    model = random_model(SMALL, seed=11)
    args = training_args(musdb=_WindowsPath())
    path = save_package(tmp_path / "w.th", state_of(model), demucs_kwargs(model), train_args=args)
    assert b"WindowsPath" in path.read_bytes()
    loaded = load_model(path)
    assert loaded.source_format == "demucs.package"
    assert torch.equal(separate(loaded), separate(model))


def test_plain_state_dict_with_other_source_count_gets_generic_names(tmp_path: Path) -> None:
    model = random_model(TasNetConfig(N=8, B=8, H=16, X=2, R=1, sources=("a", "b")), seed=4)
    loaded = load_model(save_state_dict(tmp_path / "two.th", state_of(model)))
    assert loaded.config.sources == ("source0", "source1")
    assert torch.equal(separate(loaded), separate(model))


def test_batch_norm_is_recognised_from_its_running_statistics(tmp_path: Path) -> None:
    model = random_model(TasNetConfig(N=8, B=8, H=16, X=2, R=1, norm="BN"), seed=5)
    loaded = load_model(save_state_dict(tmp_path / "bn.th", state_of(model)))
    assert loaded.config.norm == "BN"
    assert torch.equal(separate(loaded), separate(model))


# --- refusals -----------------------------------------------------------------------------


def refused(path: Path, pattern: str) -> str:
    """Loading fails with a CheckpointError whose one-line message matches `pattern`."""
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_model(path)
    message = str(info.value)
    assert "Traceback" not in message
    error = info.value  # no chained PyTorch traceback under it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return message


@pytest.fixture(scope="module")
def small_state() -> dict[str, torch.Tensor]:
    return state_of(random_model(SMALL, seed=1))


def test_wrong_shape_is_named(tmp_path: Path, small_state: dict[str, torch.Tensor]) -> None:
    state = dict(small_state)
    state["decoder.basis_signals.weight"] = state["decoder.basis_signals.weight"].t()
    message = refused(
        save_state_dict(tmp_path / "t.th", state),
        r"'t\.th' does not fit a Conv-TasNet with N=16 L=20 B=16 H=32 P=3 X=3 R=2",
    )
    assert re.search(r"size mismatch for decoder\.basis_signals\.weight.*\[16, 40\]", message)
    assert "\n" not in message


def test_missing_weight_is_named(tmp_path: Path, small_state: dict[str, torch.Tensor]) -> None:
    state = dict(small_state)
    del state["separator.network.2.1.2.net.3.net.0.weight"]
    refused(
        save_state_dict(tmp_path / "m.th", state),
        r"does not fit.*Missing key.*separator\.network\.2\.1\.2\.net\.3\.net\.0\.weight",
    )


def test_state_dict_missing_a_core_entry(tmp_path: Path, small_state: dict) -> None:
    state = dict(small_state)
    del state["separator.network.1.weight"]
    refused(save_state_dict(tmp_path / "m.th", state), r"not a Conv-TasNet state_dict")


def test_code_in_a_pickle_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    def reduce(self):
        return (os.system, (f"touch {marker}",))

    payload = fake_class("evil", "Payload", __reduce__=reduce)
    with registered(payload):
        torch.save({"encoder.conv1d_U.weight": torch.zeros(1), "x": payload()}, tmp_path / "e.th")
    refused(tmp_path / "e.th", rf"refusing to load 'e\.th'.*{os.system.__module__}\.system")
    assert not marker.exists()


def test_unknown_class_is_refused_by_name(tmp_path: Path) -> None:
    payload = fake_class("evil", "Payload")
    with registered(payload):
        torch.save({"state": payload()}, tmp_path / "e.th")
    refused(tmp_path / "e.th", r"refusing to load 'e\.th': it contains .*evil\.Payload")


def test_other_python_objects_are_not_models(tmp_path: Path) -> None:
    torch.save(collections.Counter(drums=1), tmp_path / "c.th")
    refused(tmp_path / "c.th", r"not a model StemDeck knows")
    torch.save([torch.zeros(3)], tmp_path / "l.th")
    refused(tmp_path / "l.th", r"not a model StemDeck knows")


def test_package_of_another_demucs_model_is_refused(tmp_path: Path, small_state: dict) -> None:
    demucs = fake_class("demucs.model", "Demucs")
    with registered(demucs):
        path = save_package(tmp_path / "d.th", small_state, {}, klass=demucs)
    refused(path, r"refusing to load 'd\.th'.*demucs\.model\.Demucs")


def test_package_of_a_harmless_class_is_still_not_a_tasnet(tmp_path: Path, small_state) -> None:
    import argparse

    path = save_package(tmp_path / "n.th", small_state, {}, klass=argparse.Namespace)
    refused(path, r"'n\.th' packages a model that is not Demucs' ConvTasNet")


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"X": 9}, r"says X=9 but its weights have X=8"),
        ({"N": 32}, r"says N=32 but its weights have N=8"),
        ({"C": 5}, r"says C=5 sources but its weights have 4"),
        ({"sources": ["a", "b"]}, r"names 2 sources but its weights have 4"),
        ({"causal": True}, r"causal Conv-TasNet models are not supported"),
        ({"norm_type": "weird"}, r"unknown norm 'weird'"),
    ],
)
def test_package_kwargs_must_agree_with_weights(tmp_path: Path, overrides, pattern) -> None:
    model = random_model(TasNetConfig(N=8, B=8, H=16, X=8, R=1), seed=6)
    path = save_package(tmp_path / "k.th", state_of(model), demucs_kwargs(model, **overrides))
    refused(path, pattern)


def test_training_checkpoint_without_weights(tmp_path: Path) -> None:
    refused(save_training_checkpoint(tmp_path / "c.th", None, None), r"without weights")


def test_broken_files(tmp_path: Path, small_state: dict) -> None:
    (tmp_path / "notes.th").write_text("these are not weights\n")
    refused(tmp_path / "notes.th", r"^'notes\.th' is not a readable PyTorch model file")
    (tmp_path / "empty.th").write_bytes(b"")
    refused(tmp_path / "empty.th", r"^'empty\.th' is not a readable PyTorch model file")
    whole = save_state_dict(tmp_path / "whole.th", small_state).read_bytes()
    (tmp_path / "half.th").write_bytes(whole[: len(whole) // 2])
    refused(tmp_path / "half.th", r"^'half\.th' is not a readable PyTorch model file")
    refused(tmp_path / "missing.th", r"model file '.*missing\.th' does not exist")
    (tmp_path / "folder.th").mkdir()
    refused(tmp_path / "folder.th", r"model path '.*folder\.th' is a folder, not a model file")


def stemdeck_file(path: Path, **changes) -> Path:
    model = random_model(TasNetConfig(N=8, B=8, H=16, X=2, R=1), seed=7)
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "metadata": {},
    }
    payload.update(changes)
    torch.save(payload, path)
    return path


def test_stemdeck_file_with_unknown_setting(tmp_path: Path) -> None:
    config = {**TasNetConfig(N=8, B=8, H=16, X=2, R=1).to_dict(), "dropout": 0.1}
    path = stemdeck_file(tmp_path / "s.pt", config=config)
    refused(path, r"'s\.pt' has an invalid configuration: unknown Conv-TasNet settings: dropout")


def test_stemdeck_file_from_the_future_or_incomplete(tmp_path: Path) -> None:
    refused(stemdeck_file(tmp_path / "v.pt", version=FORMAT_VERSION + 1), r"newer StemDeck")
    refused(stemdeck_file(tmp_path / "w.pt", state_dict=None), r"without config or weights")
    refused(stemdeck_file(tmp_path / "c.pt", config=None), r"without config or weights")


def test_stemdeck_file_whose_config_does_not_match_its_weights(tmp_path: Path) -> None:
    config = {**TasNetConfig(N=8, B=8, H=16, X=2, R=1).to_dict(), "X": 3}
    refused(stemdeck_file(tmp_path / "x.pt", config=config), r"'x\.pt' does not fit.*X=3")


# --- pull ---------------------------------------------------------------------------------


def test_pull_verifies_converts_and_lists(
    tmp_path: Path, cache: Path, www: tuple[Path, str]
) -> None:
    root, url = www
    model = random_model(SMALL, seed=8)
    plain = save_state_dict(tmp_path / "tasnet.th", state_of(model))
    name = publish(plain, root)
    assert re.fullmatch(r"tasnet-[0-9a-f]{8}\.th", name)
    seen: list[tuple[int, int | None]] = []
    path = repository.pull("tasnet", url=f"{url}/{name}", progress=lambda *a: seen.append(a))
    assert path == cache / "tasnet.pt"
    assert files_in(cache) == [cache / "tasnet.json", path]  # the card, then the weights
    assert seen[-1] == (plain.stat().st_size, plain.stat().st_size)
    loaded = repository.open_model("tasnet")
    assert torch.equal(separate(loaded), separate(model))
    assert loaded.metadata["url"] == f"{url}/{name}"
    assert loaded.metadata["sha256"] == sha256_of(plain)
    assert repository.list_models() == [ModelEntry("tasnet", "pulled", path)]


def test_pull_of_a_corrupt_download_leaves_nothing(
    tmp_path: Path, cache: Path, www: tuple[Path, str]
) -> None:
    root, url = www
    plain = save_state_dict(tmp_path / "tasnet.th", state_of(random_model(SMALL, seed=8)))
    wrong = "0badf00d" if not sha256_of(plain).startswith("0badf00d") else "f00dbad0"
    name = publish(plain, root, prefix=wrong)
    with pytest.raises(CheckpointError, match=rf"download of 'tasnet' is corrupt.*{wrong}"):
        repository.pull("tasnet", url=f"{url}/{name}")
    assert files_in(cache) == []
    assert repository.list_models() == []


def test_pull_of_a_missing_file_leaves_nothing(cache: Path, www: tuple[Path, str]) -> None:
    _, url = www
    with pytest.raises(ConnectionError, match=r"could not download .*404"):
        repository.pull("tasnet", url=f"{url}/tasnet-12345678.th")
    assert files_in(cache) == []


def test_pull_of_something_that_is_not_a_model_leaves_nothing(
    tmp_path: Path, cache: Path, www: tuple[Path, str]
) -> None:
    root, url = www
    (tmp_path / "page.th").write_text("<html>login required</html>")
    name = publish(tmp_path / "page.th", root)
    with pytest.raises(
        CheckpointError, match=r"downloaded 'tasnet' is not usable: .*not a readable"
    ):
        repository.pull("tasnet", url=f"{url}/{name}")
    assert files_in(cache) == []


def test_pull_without_a_hash_in_the_url_is_not_checked(
    tmp_path: Path, cache: Path, www: tuple[Path, str]
) -> None:
    """Demucs' URLs carry the sha256 prefix; any other URL is taken as it comes."""
    root, url = www
    model = random_model(SMALL, seed=9)
    save_state_dict(root / "weights.th", state_of(model))
    assert repository.expected_sha256_prefix(f"{url}/weights.th") is None
    path = repository.pull("custom", url=f"{url}/weights.th")
    assert path == cache / "custom.pt"
    assert torch.equal(separate(load_model(path)), separate(model))
    assert [e.name for e in repository.list_models()] == ["custom"]


def test_pull_needs_a_known_name_or_a_url(cache: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no download known for 'mystery'.*tasnet"):
        repository.pull("mystery")
    with pytest.raises(ValueError, match=r"model name '\.\./up'"):
        repository.pull("../up", url="http://127.0.0.1:9/x.th")
    assert files_in(cache) == []


def test_known_downloads_carry_their_hash_or_say_why_not() -> None:
    """Demucs' files name their sha256 prefix; torchaudio publishes no hash for Hybrid Demucs,
    and its entries say how the file is verified instead."""
    for name, entry in REMOTE.items():
        prefix = repository.expected_sha256_prefix(entry.url)
        if entry.card.family == "tasnet":
            assert re.fullmatch(r"[0-9a-f]{8}", prefix or ""), name
        else:
            assert prefix is None and "no hash" in entry.verification, name
    assert {n for n, e in REMOTE.items() if e.card.family == "hdemucs"} == {
        "hdemucs",
        "hdemucs_extra",
    }


# --- resolve ------------------------------------------------------------------------------


def small_file(path: Path, seed: int = 0) -> Path:
    return save_checkpoint(path, random_model(TasNetConfig(N=8, B=8, H=16, X=2, R=1), seed))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder, so no stray file can pass for a model name."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_resolve_a_path(tmp_path: Path, cache: Path, elsewhere: Path) -> None:
    path = small_file(tmp_path / "anywhere" / "x.th")
    assert repository.resolve(str(path)) == path
    assert repository.resolve("../anywhere/x.th") == Path("../anywhere/x.th")


def test_resolve_bundled_and_cached_names(
    cache: Path, no_bundled_models: Path, elsewhere: Path
) -> None:
    default = small_file(no_bundled_models / "default.pt", 1)
    compact = small_file(no_bundled_models / "compact.pt", 2)
    mine = small_file(cache / "mine.pt", 3)
    assert repository.resolve("compact") == compact
    assert repository.resolve("mine") == mine
    assert repository.resolve("default") == default
    assert repository.resolve(None) == default
    assert [(e.name, e.origin) for e in repository.list_models()] == [
        ("compact", "bundled"),
        ("default", "bundled"),
        ("mine", "imported"),
    ]


def test_default_falls_back_to_the_first_model_there_is(cache: Path, elsewhere: Path) -> None:
    mine = small_file(cache / "mine.pt")
    small_file(cache / "zzz.pt")
    assert repository.resolve("default") == mine
    assert repository.resolve(None) == mine


def test_nothing_installed(cache: Path, elsewhere: Path) -> None:
    for wanted in (None, "default"):
        with pytest.raises(ModelNotFoundError, match=r"No separation model.*stemdeck models pull"):
            repository.resolve(wanted)


def test_unknown_name_lists_what_there_is(cache: Path, elsewhere: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"unknown model 'nope' \(installed: none"):
        repository.resolve("nope")
    small_file(cache / "mine.pt")
    with pytest.raises(ModelNotFoundError, match=r"unknown model 'nope' \(installed: mine\)"):
        repository.resolve("nope")


def test_missing_path_or_folder(tmp_path: Path, cache: Path, elsewhere: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"model file 'gone\.pt' does not exist.*pull"):
        repository.resolve("gone.pt")
    with pytest.raises(ModelNotFoundError, match=r"does not exist"):
        repository.resolve(str(tmp_path / "gone"))
    with pytest.raises(ModelNotFoundError, match=r"is a folder"):
        repository.resolve(str(tmp_path))


def test_import_names_and_metadata(tmp_path: Path, cache: Path) -> None:
    model = random_model(SMALL, seed=10)
    source = save_package(tmp_path / "my_tasnet.v2.th", state_of(model), demucs_kwargs(model))
    path = repository.import_model(source)
    assert path == cache / "my_tasnet.pt"
    loaded = load_model(path)
    assert loaded.metadata == {
        "imported_from": "my_tasnet.v2.th",
        "source_format": "demucs.package",
        "soft_mask": False,  # Demucs files never had the post-filter measured on them
    }
    assert torch.equal(separate(loaded), separate(model))
    with pytest.raises(ValueError, match=r"model name '\.hidden'"):
        repository.import_model(source, ".hidden")
    (tmp_path / "bad.th").write_text("nope")
    with pytest.raises(CheckpointError):
        repository.import_model(tmp_path / "bad.th", "bad")
    assert files_in(cache) == [cache / "my_tasnet.json", path]
