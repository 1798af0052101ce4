"""Run the fake ICA over real HTTP: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import socket
import sys
import threading
import time
import typing
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from ica_airflow_provider.testing.app import BASE_PATH, create_app
from ica_airflow_provider.testing.backend import FakeIcaBackend
from ica_airflow_provider.testing.config import NON_CLI_FIELDS, FakeIcaConfig
from ica_airflow_provider.testing.drop import ConnectionDropper
from ica_airflow_provider.testing.notification_api import add_notification_routes

STARTUP_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.01


class _PromptServer(uvicorn.Server):
    """uvicorn without its fixed 0.1 s sleeps on shutdown: tests start and stop many servers."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):  # on_tick refreshes the Date header
            for _ in range(10):
                if self.should_exit:
                    return
                await asyncio.sleep(_POLL_SECONDS)
            counter = (counter + 1) % 864_000

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close at once
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 2)
        while self.server_state.connections or self.server_state.tasks:
            if time.monotonic() > deadline:
                for task in self.server_state.tasks:
                    task.cancel()
                break
            await asyncio.sleep(_POLL_SECONDS / 2)
        for server in self.servers:
            await server.wait_closed()


class FakeIcaServer:
    """A fake ICA listening on ``config.host``; ``port=0`` picks a free port.

    Use as a context manager, or call ``start()``/``stop()``. ``url`` is the base URL
    that clients append ``/api/...`` to, e.g. ``http://127.0.0.1:PORT/ica/rest``.
    """

    def __init__(self, config: FakeIcaConfig | None = None, backend: FakeIcaBackend | None = None) -> None:
        self.config = config or (backend.config if backend else FakeIcaConfig())
        self.backend = backend or FakeIcaBackend(self.config)
        self._server: _PromptServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self.config.host

    @property
    def port(self) -> int:
        """The bound port (only known once started)."""
        if self._socket is None:
            raise RuntimeError("FakeIcaServer is not started")
        return int(self._socket.getsockname()[1])

    @property
    def root_url(self) -> str:
        """``http://host:port`` without the ICA base path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The ICA base URL, ``http://host:port/ica/rest``."""
        return self.root_url + BASE_PATH

    @property
    def api_key(self) -> str:
        """The API key the server accepts."""
        return self.config.api_key

    def mint_token(self) -> str:
        """A valid JWT without an HTTP round trip (for tests that are not about auth)."""
        return self.backend.mint_token(self.config.api_key, None)

    def start(self) -> FakeIcaServer:
        """Bind, start serving in a daemon thread, and wait until requests are accepted."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.config.port))
        self._socket = sock
        dropper = ConnectionDropper()
        app = create_app(self.backend, dropper)
        add_notification_routes(app, self.backend)
        uvicorn_config = uvicorn.Config(
            app,
            log_level=self.config.log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            # The dropper finds a request's connection by scope["client"]: keep the real peer.
            proxy_headers=False,
        )
        self._server = _PromptServer(uvicorn_config)
        dropper.attach(self._server.server_state.connections)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-ica-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("FakeIcaServer failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self.backend.emitter.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeIcaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def build_parser() -> argparse.ArgumentParser:
    """CLI flags: one ``--kebab-case`` flag per scalar ``FakeIcaConfig`` field."""
    parser = argparse.ArgumentParser(
        prog="ica-fake-server",
        description="Serve a stateful fake Illumina Connected Analytics API (analysis creation batches).",
    )
    hints = typing.get_type_hints(FakeIcaConfig)
    for config_field in dataclasses.fields(FakeIcaConfig):
        if config_field.name in NON_CLI_FIELDS:
            continue
        kind = _flag_type(hints[config_field.name])
        parser.add_argument(
            "--" + config_field.name.replace("_", "-"),
            dest=config_field.name,
            type=kind,
            default=config_field.default,
            metavar=kind.__name__.upper(),
            help=f"{config_field.metadata.get('help', '')} (default: {config_field.default})",
        )
    return parser


def _flag_type(hint: Any) -> type:
    """The type a flag parses to: ``int | None`` -> ``int`` (None is the flag's absence)."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return args[0] if len(args) == 1 else hint  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``ica-fake-server``: serve in the foreground until interrupted."""
    args = build_parser().parse_args(argv)
    config = FakeIcaConfig(**vars(args))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with FakeIcaServer(config) as server:
        # Scripts wait for this line before sending requests, hence the flush.
        print(f"ICA fake server listening on {server.url}", flush=True)
        if config.fault_rate > 0:  # the seed repeats a failing run; stderr keeps stdout one line
            seed = server.backend.random_faults.seed
            print(f"random faults: rate {config.fault_rate:g}, seed {seed}", file=sys.stderr, flush=True)
        catalogue = server.backend.catalogue
        print(
            f"catalogue: {len(catalogue.pipelines)} pipelines, {len(catalogue.data)} files and folders"
            f" (GET {server.root_url}/_fake/catalogue lists them)",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
