"""Print the pinned requirements of one StemDeck image role, read from pyproject.toml.

pyproject.toml is the one source of truth for versions: the images never name a version
themselves, they install what this prints. A role is the project's base dependencies plus some
extras, minus the packages the role never imports (the API and the genre worker do not import
torch, so their images do not carry it). A role may add extras installed with `pip install
--no-deps`: packages whose own metadata pins clash with the role's (musicnn, whose weights the
genre worker reads, pins numpy<1.17); the role's other requirements carry what they need.

    python deploy/requirements.py ROLE                 the requirements pip resolves, one a line
    python deploy/requirements.py ROLE --only torch    just those (empty when ROLE has none)
    python deploy/requirements.py ROLE --skip torch    all but those
    python deploy/requirements.py ROLE --no-deps       those to install with pip install --no-deps
    python deploy/requirements.py --roles              the roles and what they install

Standard library only (it runs in the image's build stage before anything is installed).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@dataclass(frozen=True)
class Role:
    """What one image installs: base dependencies + `extras`, minus `without`; then the
    packages of the `no_deps` extras, each without its own dependencies."""

    extras: tuple[str, ...]
    without: tuple[str, ...] = ()
    why: str = ""
    no_deps: tuple[str, ...] = ()


#: Packages only the API imports (the workers never load the web stack).
API_ONLY = ("fastapi", "uvicorn", "python-multipart", "mutagen", "prometheus-client")
#: The SQLite broker of the embedded `stemdeck serve`; containers use Redis.
EMBEDDED_ONLY = ("sqlalchemy",)
#: The base dependencies for models and audio, which the coordinator never imports.
NO_AUDIO = ("torch", "numpy", "soundfile", "soxr")

#: Image role -> requirements. Keys are the Dockerfile's deps stages (`deps-<role>`). What is
#: left out is checked by tests/test_deploy.py against the imports of each role's code (and a
#: left-out package must not come back unpinned as another one's dependency).
ROLES: dict[str, Role] = {
    "api": Role(
        ("service",),
        ("torch", "typer", "rich", "pyloudnorm", *EMBEDDED_ONLY),
        "the gateway: FastAPI, Celery client, boto3, audio probing, the models' cards "
        "(platformdirs finds the model cache); no model runs here",
    ),
    "separate": Role(
        ("service", "hdemucs"),
        (*API_ONLY, *EMBEDDED_ONLY),
        "stemdeck worker separate: Conv-TasNet and Hybrid Demucs on torch + torchaudio "
        "(the CPU build unless -gpu)",
    ),
    "eq": Role(
        ("service", "eq"),
        ("pyloudnorm", "scipy", *API_ONLY, *EMBEDDED_ONLY),
        "stemdeck worker eq: the Auto-EQ CNN on torch + torchaudio (platformdirs finds the "
        "model cache, where pulled or imported Auto-EQ models sit)",
    ),
    "genre": Role(
        ("service", "genre"),
        ("torch", "matplotlib", *API_ONLY, *EMBEDDED_ONLY),
        "stemdeck worker genre: the musicnn tagger (the default model; the weights come from "
        "the musicnn wheel, installed --no-deps) and GenreNet on TensorFlow (Keras 3) + librosa "
        "analysis",
        no_deps=("tagger",),
    ),
    "coordinator": Role(
        ("service",),
        (*NO_AUDIO, "platformdirs", "pyloudnorm", "scipy", *API_ONLY, *EMBEDDED_ONLY),
        "stemdeck worker coordinator: finalize, webhooks, expiry and the reaper; no model, "
        "no audio",
    ),
}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split(requirement: str) -> tuple[str, list[str], str]:
    """(canonical name, extras, rest) of one PEP 508 requirement string."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"cannot read requirement {requirement!r}")
    name, extras, rest = match.groups()
    return canonical(name), [e.strip() for e in (extras or "").split(",") if e.strip()], rest


def load(pyproject: Path = PYPROJECT) -> dict:
    with pyproject.open("rb") as handle:
        return tomllib.load(handle)["project"]


def requirements(
    project: dict, extras: tuple[str, ...] | list[str], without: tuple[str, ...] = ()
) -> list[str]:
    """Base dependencies plus `extras` (self-references like `stemdeck[analysis]` expanded),
    minus the projects named in `without`; each project once, in first-seen order."""
    own = canonical(project["name"])
    optional = project.get("optional-dependencies", {})
    skip = {canonical(name) for name in without}
    seen: dict[str, str] = {}

    def add(requirement: str) -> None:
        name, inner, _ = split(requirement)
        if name == own:
            for extra in inner:
                expand(extra)
            return
        if name in skip:
            return
        if name in seen and seen[name] != requirement.strip():
            raise ValueError(f"{name} is pinned twice: {seen[name]!r} and {requirement!r}")
        seen.setdefault(name, requirement.strip())

    expanded: set[str] = set()

    def expand(extra: str) -> None:
        if extra in expanded:
            return
        if extra not in optional:
            raise KeyError(f"pyproject.toml has no extra {extra!r}")
        expanded.add(extra)
        for requirement in optional[extra]:
            add(requirement)

    for requirement in project.get("dependencies", []):
        add(requirement)
    for extra in extras:
        expand(extra)
    return list(seen.values())


def _role(role: str) -> Role:
    if role not in ROLES:
        raise KeyError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return ROLES[role]


def role_requirements(role: str, pyproject: Path = PYPROJECT) -> list[str]:
    """The requirements of one image role that pip resolves together."""
    spec = _role(role)
    return requirements(load(pyproject), spec.extras, spec.without)


def role_no_deps(role: str, pyproject: Path = PYPROJECT) -> list[str]:
    """What the role's `no_deps` extras add to its requirements: installed after them with
    `pip install --no-deps` (pinned in the same pyproject.toml, checked against the rest)."""
    spec = _role(role)
    if not spec.no_deps:
        return []
    project = load(pyproject)
    resolved = set(requirements(project, spec.extras, spec.without))
    everything = requirements(project, spec.extras + spec.no_deps, spec.without)
    return [r for r in everything if r not in resolved]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", choices=sorted(ROLES))
    parser.add_argument("--only", action="append", default=[], help="print only these projects")
    parser.add_argument("--skip", action="append", default=[], help="leave these projects out")
    parser.add_argument(
        "--no-deps", action="store_true", help="print what to install with pip install --no-deps"
    )
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    parser.add_argument("--roles", action="store_true", help="list the roles and exit")
    args = parser.parse_args(argv)
    if args.roles:
        for name, spec in ROLES.items():
            without = f" without {', '.join(spec.without)}" if spec.without else ""
            no_deps = f" + {', '.join(spec.no_deps)} (--no-deps)" if spec.no_deps else ""
            print(f"{name}: base + {', '.join(spec.extras)}{without}{no_deps} ({spec.why})")
        return 0
    if args.role is None:
        parser.error("name a role (or --roles)")
    only = {canonical(n) for n in args.only}
    skip = {canonical(n) for n in args.skip}
    listing = role_no_deps if args.no_deps else role_requirements
    for requirement in listing(args.role, args.pyproject):
        name = split(requirement)[0]
        if (only and name not in only) or name in skip:
            continue
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
