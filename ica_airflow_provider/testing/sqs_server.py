"""A real SQS endpoint on loopback: moto's server mode in its own process.

Clients talk to it over HTTP exactly as to AWS (only the endpoint URL differs), so nothing
in the process under test is patched. Needs ``moto`` with ``flask`` and ``flask-cors`` (the
``test`` extra). Any access key is accepted; ``region`` only shapes the queue URLs.

    with MotoSqsServer() as sqs:
        client = boto3.client("sqs", **sqs.client_kwargs())
        queue_url = client.create_queue(QueueName="ica-events")["QueueUrl"]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import IO, Any

STARTUP_TIMEOUT_SECONDS = 60.0  # moto imports a lot; a busy CI machine is slow to start it
_FIRST_POLL_SECONDS = 0.02
_LAST_POLL_SECONDS = 0.5


class MotoSqsServer:
    """``python -m moto.server`` on ``host`` and a free port; ``start()`` returns once it answers."""

    def __init__(self, host: str = "127.0.0.1", region: str = "us-east-1") -> None:
        self.host = host
        self.region = region
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The endpoint URL, ``http://host:port``."""
        if self.port is None:
            raise RuntimeError("MotoSqsServer is not started")
        return f"http://{self.host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``boto3.client("sqs", ...)`` (or a session's) to use this server."""
        return {
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def airflow_connection(self) -> str:
        """An Airflow AWS connection to this server, as an ``AIRFLOW_CONN_...`` value (JSON)."""
        kwargs = self.client_kwargs()
        return json.dumps({
            "conn_type": "aws", "login": kwargs["aws_access_key_id"], "password": kwargs["aws_secret_access_key"],
            "extra": {"endpoint_url": kwargs["endpoint_url"], "region_name": kwargs["region_name"]},
        })

    def start(self) -> MotoSqsServer:
        """Start the process and wait until it answers HTTP; RuntimeError if it does not."""
        if self._process is not None:
            return self
        self.port = _free_port(self.host)
        env = {**os.environ, "AWS_DEFAULT_REGION": self.region, "MOTO_PORT": str(self.port)}
        # moto logs every request to stderr: a file, not a pipe nobody reads, which fills after
        # some 1,100 requests and then blocks every thread of the server on the logging lock.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (open while the server runs; stop() closes it)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End the process (its queues and messages are gone)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def reset(self) -> None:
        """Delete every queue and message (moto's reset API), for a clean slate between uses."""
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        pause = _FIRST_POLL_SECONDS
        while True:
            if self._process.poll() is not None:
                error = ""
                if self._stderr is not None:
                    self._stderr.seek(0)
                    error = self._stderr.read().decode(errors="replace")
                raise RuntimeError(f"moto server exited with {self._process.returncode}: {error[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not answer on {self.url} within {STARTUP_TIMEOUT_SECONDS:g} s")
            time.sleep(pause)  # polling its readiness, not guessing it: the next check comes soon
            pause = min(pause * 2, _LAST_POLL_SECONDS)

    def __enter__(self) -> MotoSqsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
