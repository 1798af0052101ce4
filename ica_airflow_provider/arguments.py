"""The wait arguments of the operator and the sensor, checked when the DAG is parsed.

Cheap to import (a DAG file imports it with every operator): the standard library only.
"""

from __future__ import annotations

from ica_airflow_provider.defaults import WAIT_FOR_CHOICES, WaitFor


def check_wait_args(
    wait_for: str, max_failures: int, page_size: int, *, include_outputs: bool = False, **seconds: float
) -> WaitFor:
    """Validate the wait parameters at DAG-parse time; no network."""
    if not isinstance(include_outputs, bool):
        raise ValueError(f"include_outputs: must be True or False, got {include_outputs!r}")
    if wait_for not in WAIT_FOR_CHOICES:
        raise ValueError(f"wait_for: {wait_for!r} is not one of {', '.join(map(repr, WAIT_FOR_CHOICES))}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
        raise ValueError(f"max_failures: must be a whole number of 0 or more, got {max_failures!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size: must be a whole number of 1 or more, got {page_size!r}")
    for name, value in seconds.items():
        if not value >= 0:
            raise ValueError(f"{name}: must be 0 or more seconds, got {value!r}")
    return wait_for  # type: ignore[return-value]
