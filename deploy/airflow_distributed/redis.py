"""Redis, the Celery broker, from the machine's Debian packages: a child process of this run.

``apt-get install redis-server`` when ``redis-server`` is missing (on a machine with systemd
the package also starts a system-wide Redis on 6379: not used, not touched). This run starts
its own ``redis-server`` on a free loopback port, with no persistence and a throw-away
directory, as a ``Component``: it stops with the deployment and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from deploy.airflow_e2e.procs import Component, apt_install

READY_TIMEOUT_SECONDS = 30.0


def is_installed() -> bool:
    return bool(shutil.which("redis-server"))


def install() -> None:
    apt_install("redis-server")


def ping(port: int, timeout: float = 1.0) -> bool:
    """Whether a Redis answers ``PING`` on 127.0.0.1:``port`` (the inline protocol, no client)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on ``port`` (loopback only), logging to ``log_dir/redis.log``."""

    def __init__(self, port: int, log_dir: Path, cwd: Path, env: Mapping[str, str]) -> None:
        self.port = port
        self.data_dir = Path(tempfile.mkdtemp(prefix="ica-e2e-redis-"))
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        self.component = Component("redis", argv, env, log_dir, cwd)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.component.start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ping(self.port):
            if not self.component.alive:
                raise RuntimeError(
                    f"redis-server exited {self.component.returncode}:\n{self.component.tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server not answering PING after {READY_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        try:
            self.component.stop()
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def up(port: int, log_dir: Path, cwd: Path, env: Mapping[str, str]) -> tuple[RedisServer, dict[str, float]]:
    """Install if needed and start a private Redis; the timings of each step."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    if not is_installed():
        install()
        timings["apt-get install redis-server"] = time.monotonic() - started
    step = time.monotonic()
    server = RedisServer(port, log_dir, cwd, env)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    timings["start Redis"] = time.monotonic() - step
    return server, timings
