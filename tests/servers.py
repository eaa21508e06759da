"""Real servers for the service tests: `redis-server` and `moto_server` on free loopback ports.

Each is a child process the tests own, so a test may stop or restart it; it is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Ports handed out by free_port() start here; each pytest-xdist worker gets its own block of
#: PORT_BLOCK below the kernel's ephemeral range, so no other worker and no bind(0)/connect()
#: can take a port between free_port() and the server binding it.
PORT_BASE = 10000
PORT_BLOCK = 2000
_next_port: dict[int, int] = {}


def _ephemeral_low() -> int:
    """The first port the kernel hands out by itself (bind to 0, outgoing connections)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_block() -> tuple[int, int] | None:
    """This process's [low, high) port block, or None when the machine leaves no room for one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    blocks = (_ephemeral_low() - PORT_BASE) // PORT_BLOCK
    if blocks < 1:
        return None
    low = PORT_BASE + (index % blocks) * PORT_BLOCK
    return low, low + PORT_BLOCK


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on, for a server the caller starts next (or for a URL that
    must refuse connections). Under pytest-xdist two workers start servers at the same time:
    a port from the kernel (bind to 0, then close) could go to the other worker before this
    one's server binds it, and the server would fail or, worse, this test would talk to the
    other worker's server. So ports come from this worker's own block, in turn from a random
    start (two separate pytest runs on one machine rarely meet), skipping those in use."""
    block = _worker_block()
    if block is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]
    low, high = block
    candidate = _next_port.get(low, low + random.SystemRandom().randrange(PORT_BLOCK))
    for _ in range(PORT_BLOCK):
        port = low + (candidate - low) % PORT_BLOCK
        candidate = port + 1
        if _is_free(port):
            _next_port[low] = candidate
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high - 1}")


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    url: str
    argv: list[str] | None = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server, stay down for `down_seconds`, start it again on the same port."""
        assert self.argv is not None, "this server cannot be restarted"
        self.stop()
        time.sleep(down_seconds)
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def redis_server(folder: Path, append_only: bool = False) -> Iterator[Server]:
    """A throwaway Redis on its own port; with `append_only`, persisted as production runs it
    (so a restart keeps the queues and records)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if append_only else "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(process, port, f"redis://127.0.0.1:{port}/0", list(process.args))
    try:
        wait_for_port(port, process)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def moto_server() -> Iterator[Server]:
    """moto's S3 API server: the real HTTP protocol boto3 speaks to MinIO, on loopback."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(process, port, f"http://127.0.0.1:{port}", list(process.args))
    try:
        wait_for_port(port, process)
        yield server
    finally:
        server.stop()


class TcpProxy:
    """A loopback port forwarded to another. `down()` makes the endpoint vanish as a stopped
    server does (new connections refused, open ones cut) while the server behind it keeps its
    state — moto keeps its objects only in memory, so stopping it would lose them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            doomed, self._sockets = self._sockets, []
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port)
    proxy.up()
    try:
        yield proxy
    finally:
        proxy.down()
