"""The wait arguments of the operator and the sensor, checked when the DAG is parsed.

Cheap to import (a DAG file imports it with every operator): the standard library only.
"""

from __future__ import annotations

from ica_airflow_provider.defaults import WAIT_FOR_CHOICES, WaitFor


def check_wait_args(
    wait_for: str, max_failures: int | str, page_size: int, *, include_outputs: bool = False, **seconds: float
) -> WaitFor:
    """Validate the wait parameters at DAG-parse time; no network.

    ``max_failures`` may be a template (``"{{ params.max_failures }}"``): checked once rendered.
    """
    if not isinstance(include_outputs, bool):
        raise ValueError(f"include_outputs: must be True or False, got {include_outputs!r}")
    if wait_for not in WAIT_FOR_CHOICES:
        raise ValueError(f"wait_for: {wait_for!r} is not one of {', '.join(map(repr, WAIT_FOR_CHOICES))}")
    if not isinstance(max_failures, str):
        rendered_max_failures(max_failures)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size: must be a whole number of 1 or more, got {page_size!r}")
    for name, value in seconds.items():
        if not value >= 0:
            raise ValueError(f"{name}: must be 0 or more seconds, got {value!r}")
    return wait_for  # type: ignore[return-value]


def rendered_max_failures(value: int | str) -> int:
    """``max_failures`` as rendered (a template gives text, e.g. ``"2"``): a whole number of 0 or more."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"max_failures: must be a whole number of 0 or more, got {value!r}")
    return value
