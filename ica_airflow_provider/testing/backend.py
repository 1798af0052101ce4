"""The state of the fake ICA: batches, items, analyses, tokens and idempotency records.

No HTTP here (``app`` translates). Statuses are computed lazily from the injectable clock
(``FakeIcaConfig.clock``), so tests move time with a ``ManualClock`` instead of sleeping.

Lifecycle with the default config, from the POST (all durations configurable):

- job: INITIALIZED for ``batch_start_seconds``, then RUNNING (WAITING_FOR_RESOURCES first
  if ``item_waiting_seconds`` > 0) until the last item is processed, then SUCCEEDED,
  PARTIALLY_SUCCEEDED (some items FAILED) or FAILED (all items FAILED); STOPPED from a stop
  (the ``stop-job`` marker or ``stop_batch_job``) for good.
- item ``processing.status``: WAITING_RESOURCES until it starts (batch start +
  ``item_waiting_seconds`` + index * ``item_stagger_seconds``), RUNNING for
  ``item_creation_seconds``, then SUCCEEDED with a ``createdAnalysis`` (or FAILED).
- analysis: REQUESTED, QUEUED, INITIALIZING, PREPARING_INPUTS, IN_PROGRESS,
  GENERATING_OUTPUTS (``analysis_step_seconds`` each), then SUCCEEDED. ``startDate`` is set
  on INITIALIZING, ``endDate`` on the final status.
- abort: ABORTING from the abort call for ``abort_seconds``, then ABORTED. Aborting an
  analysis that is already final (or already aborting) is a 204 no-op, like a repeated
  DELETE; every call is still recorded in ``abort_calls``.

Deterministic failure markers (``lifecycle.MARKERS``): an item's ``userReference`` containing
``fail-analysis`` (or the technical tag ``ica-fake:fail-analysis``), etc. What each does is
in one table, docs/fake-server.md ("Markers"); ``stop_batch_job`` (HTTP: ``POST
/_fake/...:stopJob``, see ``app``) stops a batch's job on demand.

Pipelines and data are records of the ``catalogue`` (seeded by ``seed``): an item naming an
unknown pipeline or data ID, data of another project, or no value for a required input
parameter fails its creation with ICA's kind of reason, whatever its markers.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

from ica_airflow_provider.testing.catalogue import Catalogue
from ica_airflow_provider.testing.config import FakeIcaConfig
from ica_airflow_provider.testing.emitter import NotificationEmitter
from ica_airflow_provider.testing.entities import SUCCEEDED, AnalysisPlan, Batch, Identity, Item
from ica_airflow_provider.testing.faults import (
    RETRY_AFTER_STATUSES,
    STATUS_KINDS,
    Fault,
    InjectedFault,
    RandomFaults,
    explicit_status,
)
from ica_airflow_provider.testing.idempotency import IdempotencyStore
from ica_airflow_provider.testing.latch import Latch
from ica_airflow_provider.testing.lifecycle import (
    AnalysisState,
    analysis_exists,
    analysis_state,
    build_plan,
    is_terminal,
    item_status,
    job_state,
    job_stop_time,
    markers_of,
    stop_job,
)
from ica_airflow_provider.testing.notifications import NotificationStore
from ica_airflow_provider.testing.outputs import OutputData, analysis_outputs, walk
from ica_airflow_provider.testing.paging import (
    decode_cursor,
    encode_cursor,
    parse_page_offset,
    parse_page_size,
    parse_statuses,
)
from ica_airflow_provider.testing.problems import (
    JOB_FINISHED,
    IcaProblem,
    bad_request,
    not_found,
    unauthorized,
)
from ica_airflow_provider.testing.ratelimit import Counters, RateLimiter
from ica_airflow_provider.testing.seed import seeded_catalogue
from ica_airflow_provider.testing.tokens import TokenIssuer
from ica_airflow_provider.testing.validation import ItemRequest


class LoggedRequest(NamedTuple):
    """One HTTP request as received (path includes ``/ica/rest``; query is raw)."""

    method: str
    path: str
    query: str


@dataclass(frozen=True)
class ItemPage:
    """One page of a batch's items plus the paging fields of the response."""

    items: list[Item]
    next_page_token: str | None
    remaining_records: int | None = None
    total_item_count: int | None = None


class FakeIcaBackend:
    """In-memory ICA for one tenant and one user (the owner of the configured API key)."""

    def __init__(self, config: FakeIcaConfig | None = None) -> None:
        self.config = config or FakeIcaConfig()
        self._clock = self.config.clock
        # Times stay on the clock's axis (exact arithmetic with a ManualClock) and are
        # mapped onto the wall clock only when rendered.
        self._clock_origin = self._clock()
        self._wall_origin = self.config.wall_clock()
        self._lock = threading.RLock()
        self.identity = Identity(
            user_id=str(uuid.uuid4()),
            tenant_id=str(uuid.uuid4()),
            tenant_name="fake-tenant",
            username="fake-user",
            email="fake-user@example.com",
            storage_id=str(uuid.uuid4()),
            created_at=self._wall_origin - 86_400,
        )
        self.tokens = TokenIssuer(self.identity.tenant_id, self.identity.tenant_name)
        self._plans: dict[tuple[frozenset[str], str | None], AnalysisPlan] = {}
        # What exists: kept by reset(), as ICA's pipelines and data outlive any batch.
        self.catalogue: Catalogue = seeded_catalogue()
        if self.config.catalogue_file:
            self.catalogue.load_file(self.config.catalogue_file)
        self.idempotency = IdempotencyStore(self.config.idempotency_ttl_seconds, self.now)
        self.faults: list[Fault] = []  # explicit faults, applied before random ones
        self.random_faults = RandomFaults(
            self.config.fault_rate, self.config.fault_kinds, self.config.fault_paths, self.config.fault_seed
        )
        self.fault_counts: Counter[str] = Counter()  # kind -> faults applied
        self.fault_log: list[InjectedFault] = []
        self.request_count = 0  # requests since start; unlike request_log, never reset
        self.rate_limiter = RateLimiter(self.config.rate_limit)
        self.counters = Counters()  # requests, token mints, 429s by cause; never reset
        self.batches: dict[str, Batch] = {}
        self.analyses: dict[str, Item] = {}  # analysis id -> the item that created it
        self.request_log: list[LoggedRequest] = []
        self.abort_calls: list[str] = []  # analysis ids, in call order, no-ops included
        # Latches tests wait on instead of sleeping (see ``latch``).
        self.slow_latch = Latch()  # slow faults park here for up to slow_seconds
        self.create_latch: Latch | None = None  # set by hold_creates()
        # Notification channels and subscriptions, and the sender of their events (idle until subscribed).
        self.notifications = NotificationStore(self.now)
        self.emitter = NotificationEmitter(self.config, self.notifications, self.now, self.to_wall)

    # --- time -----------------------------------------------------------------------------

    def now(self) -> float:
        """Current time on ``config.clock``; all record times are on this axis."""
        return self._clock()

    def to_wall(self, t: float) -> float:
        """Epoch seconds for a backend time, for ISO dates in responses."""
        return self._wall_origin + (t - self._clock_origin)

    # --- introspection for tests ----------------------------------------------------------

    def reset(self) -> None:
        """Forget all batches, logs, idempotency records, faults and fault counts.

        Tokens stay valid, the catalogue stays as it is and the random fault draws go on
        where they were.
        """
        with self._lock:
            self.batches = {}
            self.analyses = {}
            self.request_log = []
            self.abort_calls = []
            self.idempotency.clear()
            self.faults.clear()
            self.fault_counts.clear()
            self.fault_log = []
            self.slow_latch = Latch()
            self.create_latch = None
            self.emitter.clear()

    def log_request(self, method: str, path: str, query: str) -> None:
        """Record a received request (called by the HTTP layer for every request)."""
        self.request_log.append(LoggedRequest(method, path, query))

    def reset_request_log(self) -> None:
        """Start counting requests afresh."""
        with self._lock:
            self.request_log = []

    def count_requests(self, method: str | None = None, path_contains: str | None = None) -> int:
        """Number of logged requests matching the method and path fragment."""
        return sum(
            1
            for entry in list(self.request_log)
            if (method is None or entry.method == method)
            and (path_contains is None or path_contains in entry.path)
        )

    def count_batches(self, project_id: str | None = None) -> int:
        """Number of batches created (in ``project_id``, if given)."""
        batches = list(self.batches.values())
        return sum(1 for batch in batches if project_id is None or batch.project_id == project_id)

    def abort_count(self, analysis_id: str) -> int:
        """How many times abort was called for ``analysis_id``."""
        return self.abort_calls.count(analysis_id)

    # --- fault injection ------------------------------------------------------------------

    def inject_fault(
        self,
        status: int | str = 429,
        *,
        count: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: float | None = None,
        detail: str = "Injected fault",
    ) -> Fault:
        """Answer the next ``count`` matching requests with a ``status`` problem.

        ``status`` may also be ``"drop"``, ``"slow"`` (delayed by ``config.slow_seconds``) or
        ``"lost-create"`` (see ``faults``). Counted in ``fault_counts`` under ``str(status)``.
        """
        fault = Fault(explicit_status(status), count, method, path_contains, retry_after, detail)
        with self._lock:
            self.faults.append(fault)
        return fault

    def release_slow(self) -> None:
        """End the delay of every slow fault now, and of later ones until ``reset()``."""
        self.slow_latch.release()

    def hold_creates(self) -> Latch:
        """Park batch creations (after their Idempotency-Key is taken) until the latch is released.

        ``latch.wait_arrived()`` returns once a POST is parked: a duplicate sent then gets 409.
        """
        with self._lock:
            self.create_latch = Latch()
            return self.create_latch

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The explicit fault to apply to this request, if any (consumes one use of it)."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def on_request(self, method: str, path: str, query: str) -> Fault | None:
        """Log an API request and pick its fault.

        The rate limiter comes first (its 429 is not a fault: counted in
        ``counters.rate_limited`` only, explicit faults stay for later requests), then an
        explicit fault, else a random draw.
        """
        with self._lock:  # one lock: the draws follow the order requests arrive in
            index = self.request_count
            self.request_count += 1
            self.counters.bump("requests")
            self.log_request(method, path, query)
            kind = self.random_faults.draw(method, path)  # drawn even if unused, see faults
            if not self.rate_limiter.allow(self.now()):
                self.counters.bump("rate_limited")
                return Fault(429, 0, detail=self._rate_limit_detail())
            fault = self.take_fault(method, path)
            if fault is None and kind is not None:
                fault = self._random_fault(kind, index)
            if fault is not None:
                self.fault_counts[fault.kind] += 1
                self.fault_log.append(InjectedFault(index, method, path, fault.kind))
                if fault.kind == "429":
                    self.counters.bump("fault_429s")
            return fault

    def _rate_limit_detail(self) -> str:
        # No Retry-After, as ICA documents its limiter: clients must back off on their own.
        return f"Too many requests: the tenant's rate limit of {self.config.rate_limit:g} requests per second"

    def set_fault_rate(self, rate: float) -> None:
        """Change the random fault rate from now on (e.g. 0 to let a soak test drain)."""
        with self._lock:
            self.random_faults.rate = rate

    def stats(self) -> dict[str, Any]:
        """Counts for a test report: ``counters``, faults by kind, seed, batches."""
        with self._lock:
            return {
                **self.counters.snapshot(),
                "requests": self.request_count,
                "faults": sum(self.fault_counts.values()),
                "fault_counts": dict(sorted(self.fault_counts.items())),
                "fault_seed": self.random_faults.seed,
                "batches": len(self.batches),
            }

    def _random_fault(self, kind: str, index: int) -> Fault:
        status: int | str = int(kind) if kind in STATUS_KINDS else kind
        retry_after = self.config.retry_after_seconds if status in RETRY_AFTER_STATUSES else None
        detail = f"Injected random fault (seed {self.random_faults.seed}, request {index})"
        return Fault(status, 0, retry_after=retry_after, detail=detail)

    # --- authentication -------------------------------------------------------------------

    def mint_token(self, api_key: str | None, authorization: str | None) -> str:
        """``POST /api/tokens``: a JWT for a valid API key (the only supported method)."""
        if api_key is None:
            if authorization and authorization.lower().startswith("basic "):
                raise unauthorized("Basic authentication is not supported by the fake ICA; use X-API-Key")
            raise unauthorized("Missing credentials: provide the X-API-Key header")
        if api_key != self.config.api_key:
            raise unauthorized("Invalid API key")
        self.counters.bump("token_mints")
        return self.tokens.mint(self.identity.user_id, self.config.wall_clock(), self.config.token_lifetime)

    def refresh_token(self, authorization: str | None) -> str:
        """``POST /api/tokens:refresh``: refused, as every fake JWT comes from an API key."""
        claims = self.tokens.verify(_bearer(authorization), self.config.wall_clock())
        if claims.from_api_key:
            raise unauthorized("Refreshing the JWT is not possible if it has been created using an API-key")
        return self.tokens.mint(claims.subject, self.config.wall_clock(), self.config.token_lifetime)

    def authenticate(self, authorization: str | None, api_key: str | None) -> str:
        """The user id behind a request's Bearer JWT or X-API-Key; 401 problem otherwise."""
        if authorization and authorization.lower().startswith("bearer "):
            return self.tokens.verify(_bearer(authorization), self.config.wall_clock()).subject
        if api_key is not None:
            if api_key != self.config.api_key:
                raise unauthorized("Invalid API key")
            return self.identity.user_id
        if authorization:
            raise unauthorized("Unsupported authorization scheme; use a Bearer JWT or X-API-Key")
        raise unauthorized("Missing credentials: provide a Bearer JWT or the X-API-Key header")

    # --- batches --------------------------------------------------------------------------

    def create_batch(self, project_id: str, requests: list[ItemRequest]) -> Batch:
        """Schedule the creation of one analysis per request; statuses progress from now."""
        cfg = self.config
        now = self.now()
        starts_at = now + cfg.batch_start_seconds
        running_at = starts_at + cfg.item_waiting_seconds
        batch = Batch(
            id=str(uuid.uuid4()),
            project_id=project_id,
            job_id=str(uuid.uuid4()),
            owner=self.identity,
            created_at=now,
            starts_at=starts_at,
            running_at=running_at,
            finishes_at=running_at,
        )
        for index, request in enumerate(requests):
            item_running_at = running_at + index * cfg.item_stagger_seconds
            error = self.catalogue.creation_error(project_id, request)
            plan = self._plan(markers_of(request.user_reference, request.tags["technicalTags"]), error)
            analysis_id = str(uuid.uuid4())
            pipeline = self.catalogue.pipelines.get(request.pipeline_id)
            code = pipeline.code if pipeline is not None else "unknown"
            item = Item(
                id=str(uuid.uuid4()),
                batch=batch,
                index=index,
                language=request.language,
                user_reference=request.user_reference,
                pipeline_id=request.pipeline_id,
                tags=request.tags,
                plan=plan,
                analysis_id=analysis_id,
                reference=f"{request.user_reference}-{code}-{analysis_id}"[:255],
                running_at=item_running_at,
                created_at=item_running_at + cfg.item_creation_seconds,
                pipeline=pipeline,
            )
            batch.items.append(item)
            batch.items_by_id[item.id] = item
            batch.finishes_at = max(batch.finishes_at, item.created_at)
            if plan.creation_error is not None:
                batch.failed_creations += 1
        stop_at = job_stop_time(batch, cfg)
        if stop_at is not None:  # the stop-job marker: stopped later, decided now
            stop_job(batch, stop_at)
        with self._lock:
            self.batches[batch.id] = batch
            for item in batch.items:
                if item.plan.creation_error is None:
                    self.analyses[item.analysis_id] = item
        self.emitter.watch(batch)
        return batch

    def get_batch(self, project_id: str, batch_id: str) -> Batch:
        """A batch of ``project_id``; 404 problem if unknown there."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.project_id != project_id:
            raise not_found("Analysis creation batch", batch_id)
        return batch

    def get_item(self, project_id: str, batch_id: str, item_id: str) -> Item:
        """One item of a batch; 404 problem if unknown."""
        item = self.get_batch(project_id, batch_id).items_by_id.get(item_id)
        if item is None:
            raise not_found("Analysis creation batch item", item_id)
        return item

    def list_items(
        self,
        project_id: str,
        batch_id: str,
        t: float,
        statuses: list[str],
        page_size: str | None = None,
        page_token: str | None = None,
        page_offset: str | None = None,
    ) -> ItemPage:
        """A page of items as of ``t``: cursor paging by default, offset paging on request.

        The status filter applies to ``processing.status`` at ``t``.
        """
        batch = self.get_batch(project_id, batch_id)
        wanted = parse_statuses(statuses)
        size = parse_page_size(page_size, self.config.default_page_size, self.config.max_page_size)
        items = batch.items

        def matches(item: Item) -> bool:
            return not wanted or item_status(item, t) in wanted

        if page_offset is not None and page_offset != "":
            if page_token:
                raise bad_request(
                    "Use either pageOffset or pageToken, not both",
                    {"pageToken": "must not be combined with pageOffset"},
                )
            offset = parse_page_offset(page_offset, size)
            selected = items if not wanted else [item for item in items if matches(item)]
            return ItemPage(selected[offset : offset + size], "", None, len(selected))

        index = decode_cursor(page_token, batch.id, wanted, len(items)) if page_token else 0
        page: list[Item] = []
        while index < len(items) and len(page) < size:
            if matches(items[index]):
                page.append(items[index])
            index += 1
        if wanted:
            remaining = sum(1 for item in itertools.islice(items, index, None) if matches(item))
        else:
            remaining = len(items) - index
        next_token = encode_cursor(batch.id, wanted, index) if remaining else None
        return ItemPage(page, next_token, remaining, None)

    def stop_batch_job(self, project_id: str, batch_id: str) -> Batch:
        """Stop a batch's job now, as a user can in ICA: items still being created never finish.

        Stopping a stopped job again is a no-op; a job that has finished gets a 409 problem.
        """
        with self._lock:
            batch = self.get_batch(project_id, batch_id)
            now = self.now()
            if batch.stopped_at is None and not stop_job(batch, now):
                status = job_state(batch, now).status
                raise IcaProblem(409, JOB_FINISHED, f"The job of batch '{batch_id}' has finished ({status})")
            self.emitter.changed(batch)
            return batch

    # --- analyses -------------------------------------------------------------------------

    def get_analysis(self, project_id: str, analysis_id: str, t: float) -> tuple[Item, AnalysisState]:
        """The item owning an analysis and the analysis state at ``t``; 404 if not created."""
        item = self.analyses.get(analysis_id)
        if item is None or item.batch.project_id != project_id or not analysis_exists(item, t):
            raise not_found("Analysis", analysis_id)
        return item, analysis_state(item, t)

    def get_analysis_outputs(
        self, project_id: str, analysis_id: str, t: float
    ) -> tuple[Item, tuple[tuple[str, tuple[OutputData, ...]], ...]]:
        """The analysis's outputs at ``t`` (none before it SUCCEEDED); 404 if not created."""
        item, state = self.get_analysis(project_id, analysis_id, t)
        return item, analysis_outputs(item) if state.status == SUCCEEDED else ()

    def project_analyses(self, project_id: str, t: float) -> list[Item]:
        """The items whose analyses exist in ``project_id`` at ``t``: newest first, then batch order."""
        items = [item for item in list(self.analyses.values()) if item.batch.project_id == project_id]
        created = [item for item in items if analysis_exists(item, t)]
        return sorted(created, key=lambda item: (-item.created_at, -item.batch.created_at, item.index))

    def has_project(self, project_id: str) -> bool:
        """Whether any batch was created in ``project_id`` (the fake's projects exist by use)."""
        return any(batch.project_id == project_id for batch in list(self.batches.values()))

    def find_data(self, project_id: str, data_id: str, t: float) -> tuple[Item, OutputData]:
        """An output file or folder of a succeeded analysis of the project; 404 if none has it.

        A scan of the project's analyses: for the web pages only, never on a polling path.
        """
        for item in self.project_analyses(project_id, t):
            _, outputs = self.get_analysis_outputs(project_id, item.analysis_id, t)
            for _, data in outputs:
                for element in walk(data):
                    if element.data_id == data_id:
                        return item, element
        raise not_found("Data", data_id)

    def abort_analysis(self, project_id: str, analysis_id: str) -> None:
        """Request an abort: ABORTING from now, ABORTED ``abort_seconds`` later."""
        with self._lock:
            now = self.now()
            item, state = self.get_analysis(project_id, analysis_id, now)
            self.abort_calls.append(analysis_id)
            if item.abort_requested_at is not None or is_terminal(state.status):
                return
            item.abort_requested_at = now
            item.aborted_at = now + self.config.abort_seconds
            self.emitter.changed(item)

    # --- helpers --------------------------------------------------------------------------

    def _plan(self, markers: frozenset[str], creation_error: str | None) -> AnalysisPlan:
        # One plan per marker combination (and refusal) keeps 10,000-item batches small in memory.
        key = (markers, creation_error)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = build_plan(markers, self.config, creation_error)
        return plan


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthorized("Missing credentials: provide a Bearer JWT")
    return authorization[len("bearer ") :].strip()
