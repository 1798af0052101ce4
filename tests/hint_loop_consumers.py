"""Stop the consumers a worker's woken waits left on the process's hint loop (they stop when idle, a minute later)."""

from __future__ import annotations

import asyncio

from ica_airflow_provider.hooks import hint_sources
from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS


def stop_hint_loop_consumers(patience: float = 60.0) -> None:
    """Close them now (else they go on reading a deleted queue, logging into the next test) and forget them."""
    loop = hint_sources._LOOP
    for (_, _, consumer_loop), consumer in list(CONSUMERS._consumers.items()):
        if consumer_loop is loop and loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(consumer.aclose(), loop).result(patience)
