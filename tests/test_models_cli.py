"""`stemdeck models list | import | pull` as a person uses them, against a local download server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from stemdeck.cli import models as models_cli
from stemdeck.cli.main import app
from stemdeck.separator import installed, repository
from stemdeck.separator.checkpoints import load_model, save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet
from tests.demucs_formats import (
    demucs_kwargs,
    publish,
    save_package,
    save_state_dict,
    serve,
    state_of,
)

pytestmark = pytest.mark.service

TINY = TasNetConfig(N=8, B=8, H=16, X=2, R=1)
runner = CliRunner()


def tiny_model(seed: int = 0) -> ConvTasNet:
    torch.manual_seed(seed)
    return ConvTasNet(TINY).eval()


def stemdeck(*args: str | Path):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def rows(output: str) -> dict[str, str]:
    """The table's rows by model name (first cell)."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells:
            found.setdefault(cells[0], line)
    return found


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own model cache, no bundled models, a wide 'terminal', no proxy for 127.0.0.1."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("STEMDECK_MODEL_DIR", str(cache))
    monkeypatch.setattr(installed, "BUNDLED_DIR", tmp_path / "bundled")
    monkeypatch.setenv("COLUMNS", "400")
    # The CLI's console was made at import, when a pytest-xdist worker's COLUMNS was still 80.
    monkeypatch.setattr(models_cli, "out", Console(width=400))
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    return cache


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as url:
        yield root, url


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*")) if cache.exists() else []


def test_list_with_nothing_installed_offers_the_downloads(environment: Path) -> None:
    result = stemdeck("models", "list")
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    for name, url in repository.REMOTE_MODELS.items():
        assert "available to pull" in table[name]
        assert url in table[name]
    assert f"model cache: {environment}" in result.stdout


def test_list_shows_bundled_imported_and_pulled(
    tmp_path: Path, environment: Path, www: tuple[Path, str]
) -> None:
    save_checkpoint(tmp_path / "bundled" / "default.pt", tiny_model(1))
    repository.import_model(save_state_dict(tmp_path / "x.th", state_of(tiny_model(2))), "mine")
    root, url = www
    name = publish(save_state_dict(tmp_path / "t.th", state_of(tiny_model(3))), root)
    repository.pull("tasnet", url=f"{url}/{name}")
    (environment / "broken.pt").write_text("not a model")

    result = stemdeck("models", "list")
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert re.search(r"default\s*│\s*bundled\s*│\s*0\.\d\d M\s*│\s*N=8 L=20 B=8", table["default"])
    assert re.search(r"mine\s*│\s*imported\s*│", table["mine"])
    assert re.search(r"tasnet\s*│\s*pulled\s*│", table["tasnet"])
    assert "available to pull" in table["tasnet_extra"]
    assert "available to pull" not in table["tasnet"]
    assert re.search(r"broken\s*│\s*imported\s*│\s*-\s*│\s*unusable: 'broken\.pt'", table["broken"])
    assert "drums/bass/other/vocals" in table["mine"]


def test_import_then_list(tmp_path: Path, environment: Path) -> None:
    model = tiny_model(4)
    source = save_package(tmp_path / "trained.th", state_of(model), demucs_kwargs(model))
    result = stemdeck("models", "import", source, "--name", "mine")
    assert result.exit_code == 0, result.output
    assert f"→ {environment / 'mine.pt'}" in result.stdout
    loaded = load_model(environment / "mine.pt")
    assert loaded.metadata["source_format"] == "demucs.package"
    assert re.search(r"mine\s*│\s*imported", rows(stemdeck("models", "list").stdout)["mine"])


def test_import_names_the_model_after_the_file(tmp_path: Path, environment: Path) -> None:
    source = save_state_dict(tmp_path / "my_tasnet.th", state_of(tiny_model(5)))
    assert stemdeck("models", "import", source).exit_code == 0
    assert (environment / "my_tasnet.pt").is_file()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"hello, not weights\n", "notes.th", r"'notes\.th' is not a readable PyTorch model file"),
        (b"", "empty.th", r"'empty\.th' is not a readable PyTorch model file"),
        (b"junk", "mix [final].th", r"'mix \[final\]\.th' is not a readable PyTorch model file"),
        (None, "missing.th", r"model file '.*missing\.th' does not exist"),
    ],
)
def test_import_of_a_bad_file_fails_clearly(
    tmp_path: Path, environment: Path, content: bytes | None, name: str, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    result = stemdeck("models", "import", tmp_path / name, "--name", "bad")
    assert result.exit_code == 1
    assert re.search(r"error: " + message, " ".join(result.stderr.split()))
    assert "Traceback" not in result.output
    assert cache_files(environment) == []


def test_import_refuses_a_bad_name(tmp_path: Path, environment: Path) -> None:
    source = save_state_dict(tmp_path / "x.th", state_of(tiny_model(6)))
    result = stemdeck("models", "import", source, "--name", "../escape")
    assert result.exit_code == 1
    assert "model name '../escape' must be letters" in result.stderr
    assert cache_files(environment) == []


def test_pull_from_a_server(tmp_path: Path, environment: Path, www: tuple[Path, str]) -> None:
    root, url = www
    model = tiny_model(7)
    name = publish(save_state_dict(tmp_path / "tasnet.th", state_of(model)), root)
    result = stemdeck("models", "pull", "tasnet", "--url", f"{url}/{name}")
    assert result.exit_code == 0, result.output
    assert f"tasnet → {environment / 'tasnet.pt'}" in result.stdout
    assert cache_files(environment) == [environment / "tasnet.json", environment / "tasnet.pt"]
    loaded = repository.open_model("tasnet")
    mix = torch.randn(1, 2, 4410)
    with torch.no_grad():
        assert torch.equal(loaded.model(mix), model(mix))
    assert re.search(r"tasnet\s*│\s*pulled", rows(stemdeck("models", "list").stdout)["tasnet"])


def test_pull_with_a_bad_hash_fails_and_leaves_nothing(
    tmp_path: Path, environment: Path, www: tuple[Path, str]
) -> None:
    root, url = www
    plain = save_state_dict(tmp_path / "t.th", state_of(tiny_model(8)))
    name = publish(plain, root, prefix="0" * 8)
    result = stemdeck("models", "pull", "tasnet", "--url", f"{url}/{name}")
    assert result.exit_code == 1
    assert re.search(
        r"error: download of 'tasnet' is corrupt: sha256 [0-9a-f]{8}\.\.\. does not start with "
        r"00000000",
        " ".join(result.stderr.split()),
    )
    assert cache_files(environment) == []


def test_pull_of_a_missing_file_fails(environment: Path, www: tuple[Path, str]) -> None:
    _, url = www
    result = stemdeck("models", "pull", "tasnet", "--url", f"{url}/tasnet-12345678.th")
    assert result.exit_code == 1
    assert re.search(r"error: could not download .*404", " ".join(result.stderr.split()))
    assert cache_files(environment) == []


def test_pull_of_an_unknown_name(environment: Path) -> None:
    result = stemdeck("models", "pull", "mystery")
    assert result.exit_code == 1
    assert "no download known for 'mystery'" in result.stderr


@pytest.mark.slow
def test_the_installed_command_lists_models(tmp_path: Path, environment: Path) -> None:
    """The real entry point, in its own process (no bundled models are patched away here,
    so only the downloadable rows are checked)."""
    result = subprocess.run(
        [sys.executable, "-m", "stemdeck.cli.main", "models", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "available to pull" in rows(result.stdout)["tasnet"]


def tables(output: str) -> dict[str, str]:
    """The listing cut into its tables, by the first word of each title."""
    found: dict[str, str] = {}
    current = ""
    for line in output.splitlines():
        title = re.match(r"\s*(Separation|Auto-EQ|Genre) models", line)
        if title:
            current = title.group(1)
        found[current] = found.get(current, "") + line + "\n"
    return found


def test_list_shows_all_three_kinds(tmp_path: Path, environment: Path, monkeypatch) -> None:
    from stemdeck.eq import checkpoints as eq_checkpoints
    from stemdeck.eq.model import EqConfig, EqNet

    monkeypatch.setattr(eq_checkpoints, "WEIGHTS_DIR", tmp_path / "eq-bundled")
    save_checkpoint(tmp_path / "bundled" / "default.pt", tiny_model(1))
    eq_checkpoints.save_checkpoint(tmp_path / "eq-bundled" / "default.pt", EqNet(EqConfig()))
    eq_file = eq_checkpoints.save_checkpoint(tmp_path / "bright.pt", EqNet(EqConfig()))
    result = stemdeck("models", "import", eq_file, "--kind", "eq", "--name", "default")
    assert result.exit_code == 0, result.output
    assert (environment / "eq" / "default.pt").is_file()

    listing = tables(stemdeck("models", "list").stdout)
    assert re.search(r"default\s*│\s*bundled\s*│\s*0\.\d\d M\s*│\s*N=8", listing["Separation"])
    eq_rows = rows(listing["Auto-EQ"])
    assert "hidden by the cached one" in eq_rows["default"]  # the bundled row comes first
    assert re.search(r"default\s*│\s*cache\s*│.*│\s*yes\s*│", listing["Auto-EQ"])
    genre = rows(listing["Genre"])
    assert re.search(r"musicnn\s*│\s*bundled\s*│\s*tagger.*│\s*10\s*│\s*yes", genre["musicnn"])
    assert re.search(r"gtzan\s*│\s*bundled\s*│\s*GenreNet", genre["gtzan"])

    only = stemdeck("models", "list", "--kind", "genre")
    assert only.exit_code == 0 and set(tables(only.stdout)) == {"Genre"}
    assert stemdeck("models", "list", "--kind", "nope").exit_code == 2


def test_import_a_genre_folder_and_use_it_by_name(tmp_path: Path, environment: Path) -> None:
    from stemdeck.genre import model as genre_model

    source = genre_model.WEIGHTS_DIR / "gtzan"
    result = stemdeck("models", "import", source, "--kind", "genre", "--name", "mine")
    assert result.exit_code == 0, result.output
    assert genre_model.resolve("mine") == environment / "genre" / "mine"
    assert genre_model.load_artefact("mine").labels == genre_model.load_artefact("gtzan").labels
    assert "mine" in rows(tables(stemdeck("models", "list").stdout)["Genre"])
    bad = stemdeck("models", "import", tmp_path, "--kind", "genre")
    assert bad.exit_code == 1 and "GenreNet artefact" in bad.stderr
