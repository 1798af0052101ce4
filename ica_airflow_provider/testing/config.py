"""Configuration of the fake ICA server: credentials, timings and server options."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Fields that are not plain scalars and therefore cannot be set from the command line.
NON_CLI_FIELDS = frozenset({"clock", "wall_clock"})


@dataclass(frozen=True)
class FakeIcaConfig:
    """Everything that shapes the fake's behaviour.

    Durations are seconds on ``clock``; the defaults make a whole batch lifecycle
    (create, items created, analyses SUCCEEDED) finish in about 1.5 s.
    """

    # Server and credentials.
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    api_key: str = "fake-api-key"
    token_lifetime: int = 3600  # seconds, becomes the JWT's exp - iat
    token_status_code: int = 200  # the spec says 200; some real servers answer 201
    log_level: str = "warning"  # uvicorn log level

    # Batch and item progression.
    batch_start_seconds: float = 0.1  # job INITIALIZED -> RUNNING
    item_waiting_seconds: float = 0.0  # item WAITING_RESOURCES phase after the batch starts
    item_creation_seconds: float = 0.2  # item RUNNING -> SUCCEEDED/FAILED
    item_stagger_seconds: float = 0.0  # item i starts i * stagger after the batch starts
    create_delay_seconds: float = 0.0  # time the POST batch handler takes (to test 409)

    # Analysis progression.
    analysis_step_seconds: float = 0.2  # length of each non-terminal analysis phase
    awaiting_input_seconds: float = 0.5  # AWAITING_INPUT phase for the awaiting-input marker
    long_run_seconds: float = 3600.0  # IN_PROGRESS phase for the run-long marker
    abort_seconds: float = 0.2  # ABORTING -> ABORTED

    # Paging and idempotency.
    default_page_size: int = 100
    max_page_size: int = 1000  # larger pageSize values get a 400 problem
    idempotency_ttl_seconds: float = 7 * 24 * 3600.0  # the spec's 7 days

    # Clocks: ``clock`` drives all progression (inject a ManualClock in tests);
    # ``wall_clock`` drives JWT iat/exp only, as clients compare exp with their own time.time().
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, compare=False)
