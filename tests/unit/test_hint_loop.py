"""The event loop of a worker's woken waits: its blocking calls never hold up the process's exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from ica_airflow_provider.hooks.hint_sources import hint_loop

PATIENCE = 60.0  # a hang guard only

# A worker whose wait has ended while the consumer's long poll is still in flight (here: a call
# that never returns); its process must end anyway, and accept the consumer's next call quietly.
EXITING_WORKER = textwrap.dedent(
    """
    import asyncio, threading
    from ica_airflow_provider.hooks.hint_sources import hint_loop

    started = threading.Event()

    def long_poll():
        started.set()
        threading.Event().wait()

    async def consumer():
        try:
            await asyncio.to_thread(long_poll)
        finally:
            await asyncio.to_thread(print, "next call accepted")

    asyncio.run_coroutine_threadsafe(consumer(), hint_loop())
    assert started.wait(60)
    print("worker done", flush=True)
    """
)


def test_a_long_poll_in_flight_does_not_hold_up_the_workers_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXITING_WORKER], capture_output=True, text=True, timeout=PATIENCE, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "worker done" in done.stdout
    assert "cannot schedule new futures" not in done.stderr


def test_a_call_returns_or_raises_in_the_awaiting_coroutine() -> None:
    def refused() -> None:
        raise PermissionError("AccessDenied")

    loop = hint_loop()
    assert asyncio.run_coroutine_threadsafe(asyncio.to_thread(lambda: "messages"), loop).result(PATIENCE) == "messages"
    with pytest.raises(PermissionError, match="AccessDenied"):
        asyncio.run_coroutine_threadsafe(asyncio.to_thread(refused), loop).result(PATIENCE)
