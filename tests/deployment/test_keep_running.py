"""``deploy/e2e.py --keep-running``: SIGTERM ends the wait early, as a normal end (no deployment needed)."""

from __future__ import annotations

import os
import signal
import threading

from deploy.airflow_e2e.deployment import Deployment
from deploy.e2e import keep_running


def test_sigterm_while_kept_running_is_a_normal_end() -> None:
    deployment = Deployment()
    deployment._trap_sigterm()  # what entering the deployment does
    blocked = threading.Event()

    def wait(seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread, inside the wait
        blocked.wait(seconds)

    try:
        assert keep_running(600, wait) == "stopped early (signal 15): tearing down"
    finally:
        deployment._restore_sigterm()


def test_keep_running_until_the_time_is_up() -> None:
    waited: list[float] = []
    assert keep_running(3, waited.append) == "time is up: tearing down"
    assert waited == [3]
