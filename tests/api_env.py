"""Running the API for tests: uvicorn in a thread (any settings, cheap) or in a child process
(its memory can be measured), plus generated songs with tags and small HTTP helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stemdeck.common.audio import write_audio
from stemdeck.common.settings import Settings
from tests.conftest import make_song
from tests.servers import free_port, wait_for_port
from tests.service_env import model_cache_env

if TYPE_CHECKING:
    from tests.service_env import ServiceEnv


@contextlib.contextmanager
def api_thread(settings: Settings, **app_options: Any) -> Iterator[str]:
    """The app for `settings` served by uvicorn in a thread; yields its base URL."""
    from stemdeck.api.app import create_app

    with app_thread(create_app(settings, **app_options)) as url:
        yield url


@contextlib.contextmanager
def app_thread(app: Any) -> Iterator[str]:
    """An app built by the caller (e.g. with wrapped stores) served by uvicorn in a thread."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@contextlib.contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`uvicorn --factory stemdeck.api.app:create_app` as a child process with `env`."""
    port = free_port()
    data = Path(env.get("STEMDECK_DATA_DIR", log.parent))
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--factory", "stemdeck.api.app:create_app"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            env={**os.environ, **model_cache_env(data), **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, 60)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve_process(
    env: dict[str, str], data: Path, log: Path, *options: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`stemdeck serve --data DATA [OPTIONS]` (the API and its three workers) as a child
    process; stopped with Ctrl-C (SIGINT) like a person would, killed only if that fails."""
    port = free_port()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "stemdeck.cli.main", "serve"),
                *("--port", str(port), "--data", str(data), *options),
            ],
            env={**os.environ, **model_cache_env(data), **env},
            cwd=data,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, 90)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def api_alone(service: ServiceEnv) -> Iterator[tuple[str, subprocess.Popen]]:
    """The API of `service` with no workers, as a child process (a crash shows as an exit; the
    stored objects change only through the API): uvicorn, or `stemdeck serve --no-workers`."""
    service.storage()  # creates the bucket or the folder
    log = service.data_dir / "api.log"
    if service.embedded:
        running = serve_process(service.env, service.data_dir, log, "--no-workers")
    else:
        running = api_process(service.env, log)
    with running as answer:
        yield answer


def settings_with(base: Settings, **changes: Any) -> Settings:
    copy = base.model_copy(update=changes)
    copy.__dict__.pop("resolved_broker_url", None)  # a cached_property copied with the rest
    return copy


def poll(
    fetch: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 90, every: float = 0.2
) -> Any:
    """Call `fetch` until `done(value)`; the last value in the assertion message otherwise."""
    deadline = time.monotonic() + seconds
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {seconds} s: {value}")
        time.sleep(every)
        value = fetch()
    return value


def separated(record: dict[str, Any]) -> bool:
    return record["stages"]["separate"]["status"] in ("succeeded", "failed", "cancelled")


def song_file(path: Path, seconds: float = 3.0, seed: int = 0) -> Path:
    write_audio(path, make_song(seconds, seed=seed))
    return path


def tagged_song(path: Path, title: str, track: int, album: str, seed: int = 0) -> Path:
    """A short song with title/track/album tags written by mutagen (ID3 in WAV, Vorbis in
    FLAC)."""
    import mutagen.flac
    import mutagen.wave
    from mutagen.id3 import TALB, TIT2, TPE1, TRCK

    song_file(path, seconds=2.0, seed=seed)
    if path.suffix == ".flac":
        audio = mutagen.flac.FLAC(path)
        audio["title"], audio["tracknumber"], audio["album"] = title, str(track), album
        audio["artist"] = "The Testers"
        audio.save()
    else:
        audio = mutagen.wave.WAVE(path)
        audio.add_tags()
        for frame in (TIT2(text=title), TRCK(text=f"{track}/3"), TALB(text=album)):
            audio.tags.add(frame)
        audio.tags.add(TPE1(text="The Testers"))
        audio.save()
    return path
