"""A stateful in-memory fake of the ICA API, for tests and local development (like moto).

Standalone: runtime code never imports this package and it imports nothing else from the
project. ``FakeIcaServer`` (FastAPI + uvicorn) is imported lazily, so importing this
package, e.g. through the pytest plugin, stays cheap.

    clock = ManualClock()
    with FakeIcaServer(FakeIcaConfig(clock=clock)) as server:
        ...  # point a client at server.url with X-API-Key "fake-api-key"
        clock.advance(10)  # every default lifecycle has finished
        assert server.backend.count_batches() == 1

Markers (``fail-creation``, ``fail-analysis``, ``fail-final``, ``run-long``, ``stop-job``,
``awaiting-input``) are documented in docs/fake-server.md; fault injection (``fault_rate``,
``fault_seed``, ``inject_fault("drop")``, ...) in ``faults``. Pipelines and data exist only
if they are in the catalogue (``catalogue``; seeded by ``seed``, whose ``nextflow_item(ref)``
builds an item it accepts): anything else fails the item's creation, as in ICA.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.config import FakeIcaConfig
from ica_airflow_provider.testing.lifecycle import MARKER_TAG_PREFIX, MARKERS

if TYPE_CHECKING:
    from ica_airflow_provider.testing.backend import FakeIcaBackend
    from ica_airflow_provider.testing.server import FakeIcaServer

__all__ = [
    "MARKERS",
    "MARKER_TAG_PREFIX",
    "FakeIcaBackend",
    "FakeIcaConfig",
    "FakeIcaServer",
    "ManualClock",
]

_LAZY = {
    "FakeIcaBackend": "ica_airflow_provider.testing.backend",
    "FakeIcaServer": "ica_airflow_provider.testing.server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
