"""Defaults shared by the hook, the operator and the sensor (a module cheap to import)."""

from typing import Literal

WaitFor = Literal["analyses", "creation"]  # what a wait waits for: each item's analysis, or its creation only
WAIT_FOR_CHOICES: tuple[str, ...] = ("analyses", "creation")

DEFAULT_CONN_ID = "ica_default"
DEFAULT_PAGE_SIZE = 1000  # items per page when listing a batch
IDEMPOTENCY_KEY_MAX = 255  # characters, the spec's limit
