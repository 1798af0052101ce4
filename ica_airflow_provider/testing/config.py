"""Configuration of the fake ICA server: credentials, timings and server options."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ica_airflow_provider.testing.faults import parse_fault_kinds

T = TypeVar("T")

# Fields that are not plain scalars and therefore cannot be set from the command line.
NON_CLI_FIELDS = frozenset({"clock", "wall_clock"})


def _option(default: T, description: str) -> T:
    """A config field with a default and the ``--help`` text of its CLI flag."""
    return field(default=default, metadata={"help": description})


@dataclass(frozen=True)
class FakeIcaConfig:
    """Everything that shapes the fake's behaviour.

    Durations are seconds on ``clock``; the defaults make a whole batch lifecycle
    (create, items created, analyses SUCCEEDED) finish in about 1.5 s (the ``awaiting-input``
    marker adds 10 s, ``run-long`` an hour).
    """

    # Server and credentials.
    host: str = _option("127.0.0.1", "address to listen on")
    port: int = _option(0, "port to listen on; 0 picks a free port")
    api_key: str = _option("fake-api-key", "the X-API-Key the server accepts")
    token_lifetime: int = _option(3600, "JWT lifetime in seconds (exp - iat)")
    token_status_code: int = _option(
        200, "status of POST /api/tokens: 200 per the spec, some servers send 201"
    )
    log_level: str = _option("warning", "uvicorn log level")

    # What exists besides the seeded catalogue (see ``catalogue``).
    catalogue_file: str = _option(
        "", "JSON or YAML file of pipelines and data added to the seeded catalogue (see testing/catalogue.py)"
    )

    # Batch and item progression.
    batch_start_seconds: float = _option(0.1, "job INITIALIZED before it starts")
    item_waiting_seconds: float = _option(0.0, "items WAITING_RESOURCES once the job started")
    item_creation_seconds: float = _option(0.2, "item RUNNING before SUCCEEDED/FAILED")
    item_stagger_seconds: float = _option(0.0, "item i starts i * this later than item 0")
    create_delay_seconds: float = _option(0.0, "time POST batch takes (a duplicate meanwhile gets 409)")

    # Analysis progression.
    analysis_step_seconds: float = _option(0.2, "length of each non-final analysis phase")
    # Longer than the other phases on purpose: a wait polling every second or two (the demo,
    # the e2e deployment) must see it, or the marker shows nothing.
    awaiting_input_seconds: float = _option(10.0, "AWAITING_INPUT phase of the awaiting-input marker")
    long_run_seconds: float = _option(3600.0, "IN_PROGRESS phase of the run-long marker")
    abort_seconds: float = _option(0.2, "ABORTING before ABORTED")

    # Paging and idempotency.
    default_page_size: int = _option(100, "items per page without pageSize")
    max_page_size: int = _option(1000, "largest pageSize; larger values get a 400 problem")
    idempotency_ttl_seconds: float = _option(7 * 24 * 3600.0, "how long Idempotency-Key responses are kept")

    # Tenant-wide rate limit (see ``ratelimit``), applied before any fault.
    rate_limit: float = _option(
        0.0,
        "requests per second across the tenant (all callers); excess gets 429 without Retry-After; 0 = off",
    )

    # Random faults (see ``faults``); explicit ones come from ``FakeIcaBackend.inject_fault``.
    fault_rate: float = _option(0.0, "probability that a request gets a random fault")
    fault_kinds: str = _option(
        "429,500,502,503,504,drop,slow,lost-create",
        "comma-separated fault kinds drawn from, optionally weighted as in 429:3,503:1",
    )
    fault_seed: int | None = _option(None, "seed of the fault draws; unset picks one (see backend.stats())")
    fault_paths: str = _option("", "comma-separated path fragments; if set, only matching paths get faults")
    retry_after_seconds: float = _option(1.0, "Retry-After of random 429 and 503 faults")
    slow_seconds: float = _option(1.0, "how late a slow fault delivers the normal answer")

    # Notifications to SQS (see ``emitter``): faults drawn from their own seeded generator.
    notify_seed: int | None = _option(None, "seed of the notification faults; unset picks one")
    notify_drop_rate: float = _option(0.0, "probability that a notification is never sent")
    notify_duplicate_rate: float = _option(0.0, "probability that a notification is sent twice")
    notify_delay_seconds: float = _option(0.0, "every notification is sent this long after its transition")
    notify_reorder_seconds: float = _option(0.0, "each notification up to this much later again (reorders)")
    notify_v3_rate: float = _option(0.0, "probability of a V3 payload whatever the subscription asked")
    notify_outage_start_seconds: float = _option(0.0, "start of the SQS outage, after the server started")
    notify_outage_seconds: float = _option(0.0, "length of the SQS outage: notifications due then fail")
    notify_queue_size: int = _option(10_000, "notifications waiting for the sender; more are dropped")
    notify_tick_seconds: float = _option(0.05, "how often the sender looks for due notifications")
    sqs_endpoint_url: str | None = _option(None, "SQS endpoint for every queue; unset: the queue URL's host")

    # ``clock`` drives all progression (inject a ManualClock in tests); ``wall_clock``
    # drives JWT iat/exp only, as clients compare exp with their own time.time().
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        # Fail at startup (or on the command line), not on the first faulty request.
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {self.fault_rate}")
        if not self.rate_limit >= 0:  # also refuses NaN
            raise ValueError(f"rate_limit must not be negative, got {self.rate_limit}")
        if self.slow_seconds < 0 or self.retry_after_seconds < 0:
            raise ValueError("slow_seconds and retry_after_seconds must not be negative")
        parse_fault_kinds(self.fault_kinds)
