"""The shared model-artefact layer (services/common): one lookup order for the separator, Auto-EQ
and genre models (explicit path > user cache > bundled, a stray `./default` hides nothing),
atomic saving, the stamp in every new file (old unstamped files still load), and restricted
loading that refuses pickled objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from stemdeck.common import artefacts
from stemdeck.common.atomic import TEMP_PREFIX, atomic_write_files
from stemdeck.common.checkpoints import restricted_load, save_stamped
from stemdeck.eq import checkpoints as eq_checkpoints
from stemdeck.eq.checkpoints import EqCheckpointError
from stemdeck.eq.model import EqConfig, EqNet
from stemdeck.genre import model as genre_model
from stemdeck.genre.classifier import read_tagger_config, save_tagger_config
from stemdeck.genre.model import GenreModelError
from stemdeck.separator import installed, repository
from stemdeck.separator.checkpoints import CheckpointError, load_model, save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet

pytestmark = pytest.mark.unit

TINY = TasNetConfig(N=8, B=8, H=16, X=2, R=1)
GENRE_BUNDLED = genre_model.WEIGHTS_DIR


def tasnet_file(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return save_checkpoint(path, ConvTasNet(TINY).eval(), {"seed": seed})


def eq_file(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return eq_checkpoints.save_checkpoint(path, EqNet(EqConfig(variant="stem-aware")))


def genre_folder(path: Path, source: str = "gtzan") -> Path:
    """A copy of a bundled genre artefact (real files, so they also load)."""
    shutil.copytree(GENRE_BUNDLED / source, path)
    return path


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Own bundled folders for the separator and Auto-EQ, an own cache, an empty cwd."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("STEMDECK_MODEL_DIR", str(cache))
    monkeypatch.setattr(installed, "BUNDLED_DIR", tmp_path / "bundled-separator")
    monkeypatch.setattr(eq_checkpoints, "WEIGHTS_DIR", tmp_path / "bundled-eq")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return {
        "cache": cache,
        "separator": tmp_path / "bundled-separator",
        "eq": tmp_path / "bundled-eq",
        "cwd": cwd,
    }


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# --- one lookup order -----------------------------------------------------------------------


def test_separator_order_is_explicit_path_then_cache_then_bundled(places) -> None:
    bundled = tasnet_file(places["separator"] / "default.pt", 1)
    assert repository.resolve("default") == bundled
    cached = tasnet_file(places["cache"] / "default.pt", 2)
    assert repository.resolve("default") == repository.resolve(None) == cached
    explicit = tasnet_file(places["cwd"] / "elsewhere" / "default.pt", 3)
    assert repository.resolve("elsewhere/default.pt") == Path("elsewhere/default.pt")
    assert repository.resolve(explicit) == explicit
    entries = {(e.name, e.origin): e.shadowed for e in installed.list_models()}
    assert entries == {("default", "bundled"): True, ("default", "imported"): False}
    # GET /v1/models lists the model a job naming 'default' runs, once.
    listed = [(m.name, m.origin, m.default) for m in installed.installed_models()]
    assert listed == [("default", "imported", True)]


def test_eq_order_is_explicit_path_then_cache_then_bundled(places) -> None:
    bundled = eq_file(places["eq"] / "default.pt", 1)
    assert eq_checkpoints.resolve(None) == bundled
    cached = eq_file(places["cache"] / "eq" / "default.pt", 2)
    assert eq_checkpoints.resolve("default") == cached
    explicit = eq_file(places["cwd"] / "mine" / "default.pt", 3)
    assert eq_checkpoints.resolve(str(explicit)) == explicit
    assert eq_checkpoints.resolve("mine/default.pt") == Path("mine/default.pt")


def test_genre_order_is_explicit_path_then_cache_then_bundled(places) -> None:
    assert genre_model.resolve("default") == GENRE_BUNDLED / genre_model.DEFAULT_MODEL
    assert genre_model.resolve("gtzan") == GENRE_BUNDLED / "gtzan"
    cached = genre_folder(places["cache"] / "genre" / "gtzan")
    assert genre_model.resolve("gtzan") == cached
    explicit = genre_folder(places["cwd"] / "models" / "gtzan")
    assert genre_model.resolve("models/gtzan") == Path("models/gtzan")
    assert genre_model.resolve(explicit) == explicit


def test_a_default_folder_or_file_in_the_working_directory_hides_nothing(places) -> None:
    """The genre resolver used to take any folder called like the name it was given."""
    genre_folder(places["cwd"] / "default")
    genre_folder(places["cwd"] / "musicnn")
    assert genre_model.resolve("default") == GENRE_BUNDLED / genre_model.DEFAULT_MODEL
    assert genre_model.resolve("musicnn") == GENRE_BUNDLED / "musicnn"
    bundled = tasnet_file(places["separator"] / "default.pt")
    eq_bundled = eq_file(places["eq"] / "default.pt")
    (places["cwd"] / "default.pt").write_text("a stray file")
    assert repository.resolve("default") == bundled
    assert eq_checkpoints.resolve("default") == eq_bundled
    # Only with ./ is it a path: then exactly that, even when it is not a model.
    with pytest.raises(CheckpointError):
        load_model(repository.resolve("./default.pt"))


def test_a_bare_file_name_is_a_path_only_when_no_model_has_that_name(places) -> None:
    local = tasnet_file(places["cwd"] / "mine.th")
    assert repository.resolve("mine.th") == Path("mine.th")
    named = tasnet_file(places["cache"] / "mine.th.pt")
    assert repository.resolve("mine.th") == named
    assert local.is_file()


def test_what_is_not_found_is_said_for_every_kind(places) -> None:
    with pytest.raises(repository.ModelNotFoundError, match=r"unknown model 'nope'"):
        repository.resolve("nope")
    with pytest.raises(EqCheckpointError, match=r"no Auto-EQ model 'nope': unknown model"):
        eq_checkpoints.resolve("nope")
    with pytest.raises(GenreModelError, match=r"no genre model 'nope'.*installed: gtzan, musicnn"):
        genre_model.resolve("nope")
    with pytest.raises(GenreModelError, match=r"is a file, not a model folder"):
        (places["cwd"] / "x").write_text("")
        genre_model.resolve("./x")
    with pytest.raises(EqCheckpointError, match=r"model file 'gone/x\.pt' does not exist"):
        eq_checkpoints.resolve("gone/x.pt")


def test_listing_names_every_kind_with_the_cache_shadowing_the_bundled(places) -> None:
    eq_file(places["eq"] / "default.pt")
    eq_file(places["cache"] / "eq" / "default.pt")
    eq_file(places["cache"] / "eq" / "bright.pt")
    (places["cache"] / "eq" / f"{TEMP_PREFIX}x-half.pt").write_text("an unfinished write")
    entries = artefacts.list_artefacts(eq_checkpoints.kind())
    assert [(e.name, e.origin, e.shadowed) for e in entries] == [
        ("default", "bundled", True),
        ("bright", "cache", False),
        ("default", "cache", False),
    ]
    chosen = artefacts.default_of(eq_checkpoints.kind(), entries)
    assert chosen is not None and chosen.origin == "cache"
    genre = artefacts.list_artefacts(genre_model.kind())
    assert {e.name for e in genre} >= {"gtzan", "musicnn", "synthetic"}


# --- atomic saving ------------------------------------------------------------------------


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("the disk filled up half-way")


def test_a_failed_save_leaves_no_partial_file_and_the_old_one_intact(tmp_path: Path) -> None:
    target = tasnet_file(tmp_path / "model.pt", 1)
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="half-way"):
        save_stamped(target, "stemdeck.separator", 1, {"state_dict": {"x": Unpicklable()}})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    with pytest.raises(RuntimeError):
        save_stamped(tmp_path / "new.pt", "stemdeck.eq", 1, {"bad": Unpicklable()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_a_folder_artefact_changes_only_when_every_file_was_written(tmp_path: Path) -> None:
    folder = tmp_path / "artefact"
    atomic_write_files(folder, {"a.json": lambda p: p.write_text("old a")})
    (folder / "notes.txt").write_text("not ours")

    def fail(path: Path) -> None:
        path.write_text("half")
        raise OSError("no space left")

    with pytest.raises(OSError, match="no space"):
        atomic_write_files(folder, {"a.json": lambda p: p.write_text("new a"), "b.keras": fail})
    assert (folder / "a.json").read_text() == "old a"
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "notes.txt"]
    atomic_write_files(folder, {"a.json": lambda p: p.write_text("new a")})
    assert (folder / "a.json").read_text() == "new a" and no_temporaries(tmp_path)


# --- stamping -----------------------------------------------------------------------------


def check_software(software: dict[str, str], *packages: str) -> None:
    assert software["stemdeck"] and software["python"].count(".") == 2
    for name in packages:
        assert software[name], name


def test_every_new_torch_file_is_stamped(tmp_path: Path) -> None:
    separator = torch.load(tasnet_file(tmp_path / "s.pt"), weights_only=True)
    assert (separator["format"], separator["version"]) == ("stemdeck.separator", 1)
    check_software(separator["software"], "torch")
    assert separator["software"]["torch"] == torch.__version__
    eq = torch.load(eq_file(tmp_path / "e.pt"), weights_only=True)
    assert (eq["format"], eq["version"]) == ("stemdeck.eq", 1)
    check_software(eq["software"], "torch")
    assert load_model(tmp_path / "s.pt").metadata == {"seed": 0}  # the stamp is not metadata
    # A stamp holding torch.__version__ itself (a TorchVersion, not a str) still loads.
    torch.save(separator | {"software": {"torch": torch.__version__}}, tmp_path / "v.pt")
    assert load_model(tmp_path / "v.pt").family == "tasnet"


@pytest.mark.slow
def test_genre_folders_are_stamped(tmp_path: Path) -> None:
    artefact = genre_model.load_artefact("gtzan")
    folder = genre_model.save_artefact(
        tmp_path / "g", artefact.model, artefact.scaler, artefact.labels, {"note": "copy"}
    )
    meta = json.loads((folder / genre_model.METADATA_FILE).read_text())
    assert (meta["format"], meta["version"], meta["note"]) == ("stemdeck.genre", 1, "copy")
    check_software(meta["software"], "keras")
    assert genre_model.load_artefact(folder).labels == artefact.labels
    config = read_tagger_config(GENRE_BUNDLED / "musicnn")  # unstamped: loads
    assert "software" not in config
    save_tagger_config(tmp_path / "t", {**config, "mapping": dict(config["mapping"])})
    stamped = json.loads((tmp_path / "t" / "tagger.json").read_text())
    assert stamped["format"] == "stemdeck.genre.tagger" and "stemdeck" in stamped["software"]
    assert read_tagger_config(tmp_path / "t")["mapping"] == config["mapping"]
    assert no_temporaries(tmp_path)


def test_unstamped_files_load_and_newer_formats_are_refused(tmp_path: Path) -> None:
    model = ConvTasNet(TINY).eval()
    old = {"format": "stemdeck.separator", "version": 1, "config": TINY.to_dict(),
           "state_dict": model.state_dict(), "metadata": {}}  # fmt: skip
    torch.save(old, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt").family == "tasnet"
    torch.save(old | {"version": 3}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=r"newer StemDeck \(format v3\)"):
        load_model(tmp_path / "future.pt")
    saved = torch.load(eq_file(tmp_path / "e.pt"), weights_only=True)
    torch.save({k: v for k, v in saved.items() if k != "software"}, tmp_path / "e-old.pt")
    assert eq_checkpoints.load_model(tmp_path / "e-old.pt").config.variant == "stem-aware"
    torch.save(saved | {"version": 2}, tmp_path / "e-future.pt")
    with pytest.raises(EqCheckpointError, match="newer StemDeck"):
        eq_checkpoints.load_model(tmp_path / "e-future.pt")
    folder = genre_folder(tmp_path / "g")
    meta = json.loads((folder / "metadata.json").read_text())
    assert "software" not in meta  # the bundled artefact predates the stamp, and loads
    genre_model.read_sidecars(folder)
    meta |= {"format": "stemdeck.genre", "version": 2}
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(GenreModelError, match="newer StemDeck"):
        genre_model.read_sidecars(folder)


# --- restricted loading -------------------------------------------------------------------


class Payload:
    """What a hostile file would run when unpickled: it leaves a mark if it ever runs."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self):
        return (Path.write_text, (self.mark, "ran"))


class Harmless:
    """An arbitrary object with no behaviour: still not something a model file may hold."""

    def __init__(self) -> None:
        self.value = 1


@pytest.mark.parametrize("payload", ["code", "object"])
def test_restricted_loading_refuses_arbitrary_objects_for_every_kind(
    tmp_path: Path, payload: str
) -> None:
    mark = tmp_path / "mark"
    thing = Payload(mark) if payload == "code" else Harmless()
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": thing}, tmp_path / "evil.pt")
    loaders = [
        (lambda p: restricted_load(p, ValueError), ValueError),
        (load_model, CheckpointError),
        (eq_checkpoints.load_model, EqCheckpointError),
    ]
    for load, error in loaders:
        with pytest.raises(error, match=r"refusing to load 'evil\.pt': it contains a Python obj"):
            load(tmp_path / "evil.pt")
    assert not mark.exists()
    # Plain tensors and containers still load.
    torch.save({"w": torch.ones(2), "n": 3}, tmp_path / "plain.pt")
    assert restricted_load(tmp_path / "plain.pt")["n"] == 3
