"""ICA operations as generators of :class:`Send` / :class:`Sleep` actions.

Each method returns a generator (a :data:`Call`) that a driver runs (:func:`~.drive.drive`
in the hook, :func:`~.drive.adrive` in the async client): it yields actions, receives
each ``Send``'s outcome, and returns the parsed result. Retries, token minting, cursor
paging and error mapping happen here, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ica_airflow_provider.core import operations as ops
from ica_airflow_provider.core.auth import Grant, TokenCache
from ica_airflow_provider.core.budget import RequestBudget, pace
from ica_airflow_provider.core.errors import IcaApiError, IcaResponseError
from ica_airflow_provider.core.flight import authorized
from ica_airflow_provider.core.messages import (
    Action,
    Refresh,
    Request,
    Response,
    Resumed,
    Send,
    Sleep,
    TransportFailure,
)
from ica_airflow_provider.core.responses import api_error, connection_error, not_json
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.models.outputs import AnalysisOutputList
from ica_airflow_provider.models.response import (
    Analysis,
    AnalysisCreationBatch,
    AnalysisCreationBatchItem,
    AnalysisCreationBatchItemPage,
    Token,
)
from ica_airflow_provider.models.status_views import ItemStatusPage

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Call = Generator[Action, Resumed, T]
_MINT_PATH = ops.create_token("").path  # a 401 there refuses the API key itself


class Page(Protocol):
    """A page of a cursor-paged listing."""

    @property
    def next_page_token(self) -> str | None: ...


P = TypeVar("P", bound=Page)


class IcaProtocol:
    """One caller's view of an ICA connection: API key, JWT cache, request budget, retry policy; free of I/O.

    The JWT cache and the request budget are meant to be shared by every caller of one
    connection in a process (see ``hooks/clients.py``); :meth:`use` points this
    protocol at another connection's (a re-read connection), even mid-call.
    """

    def __init__(
        self,
        api_key: str,
        policy: RetryPolicy | None = None,
        tokens: TokenCache | None = None,
        on_token: Callable[[str], None] | None = None,
        budget: RequestBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_key = api_key
        self._on_token = on_token  # e.g. registers the JWT with Airflow's secrets masker
        self.policy = policy or RetryPolicy()
        self.tokens = tokens or TokenCache()
        self.budget = budget or RequestBudget(0)
        self.clock = clock  # the budget's clock: monotonic seconds

    def __repr__(self) -> str:
        return f"IcaProtocol(policy={self.policy!r}, tokens={self.tokens!r}, budget={self.budget!r})"

    def use(
        self, api_key: str, tokens: TokenCache, budget: RequestBudget, on_token: Callable[[str], None] | None
    ) -> None:
        """From the next attempt on, send with this key, token cache and budget (a re-read connection)."""
        self._api_key, self.tokens, self.budget, self._on_token = api_key, tokens, budget, on_token

    # -- the building blocks -------------------------------------------------------

    def send(self, request: Request, prepare: Callable[[Request], Call[Request]] | None = None) -> Call[Response]:
        """Send ``request`` until it succeeds, retrying as the policy says.

        Every attempt, retries included, is first readied by ``prepare`` (a fresh JWT)
        and then waits for its slot in the connection's request budget.
        """
        attempt = 0
        while True:
            if prepare is not None:
                # Readied before queueing (the first caller mints, the others wait for its
                # token, then queue spread out), and again after the queue: a slot can be
                # far off when a 429 slowed the connection, and the token must be fresh.
                yield from prepare(request)
            yield from pace(self.budget, self.clock)
            ready = (yield from prepare(request)) if prepare is not None else request
            outcome = yield Send(ready)
            assert isinstance(outcome, Response | TransportFailure)
            if isinstance(outcome, Response) and 200 <= outcome.status < 300:
                return outcome
            if isinstance(outcome, Response) and outcome.status == 429:
                self.budget.throttled(self.clock())  # the whole connection slows down
            delay = self.policy.delay(request, outcome, attempt)
            if delay is None:
                if isinstance(outcome, Response):
                    raise api_error(request, outcome)
                raise connection_error(request, outcome, attempt + 1)
            attempt += 1
            what = outcome.status if isinstance(outcome, Response) else outcome.kind
            log.warning(
                "ICA %s got %s; retry %d of %d in %.1f s",
                request.describe(), what, attempt, self.policy.max_retries, delay,
            )
            yield Sleep(delay)

    def call(self, request: Request) -> Call[Response]:
        """Send ``request`` with a JWT fresh for each attempt (minted when needed, again once after a 401)."""
        granted: list[tuple[TokenCache, Grant]] = []

        def prepare(unsigned: Request) -> Call[Request]:
            yield Refresh()  # the driver may re-read the connection (a rotated key) first
            tokens = self.tokens  # read per attempt: the connection may have been re-read
            signed, grant = yield from authorized(tokens, self._mint, unsigned)
            granted.append((tokens, grant))
            return signed

        for attempt in range(2):
            try:
                return (yield from self.send(request, prepare))
            except IcaApiError as exc:
                if exc.status != 401 or attempt or not granted or exc.path == _MINT_PATH:
                    raise  # a refused API key is final: minting again would be refused too
                log.info("ICA answered 401 to %s; minting a new token", request.describe())
                tokens, grant = granted[-1]
                tokens.reject(grant.generation)  # unless another caller replaced it already
        raise AssertionError("unreachable")

    def mint_token(self) -> Call[str]:
        """``POST /api/tokens`` with the API key; caches and returns the JWT."""
        token = yield from self._mint()
        self.tokens.store(token)
        return token

    def _mint(self) -> Call[str]:
        """A new JWT, not stored: :func:`~.flight.fresh_token` stores it for every waiter.

        A 401 here is final, unless the connection was re-read meanwhile and the key
        changed (a rotated key): then once more with the new key.
        """
        tokens = self.tokens  # the cache this mint is for
        for attempt in range(2):
            api_key = self._api_key
            request = ops.create_token(api_key)
            try:
                response = yield from self.send(request)
            except IcaApiError as exc:
                if exc.status == 401 and not attempt and self._api_key != api_key:
                    continue
                raise
            token = parse(Token, request, response).token
            if self._on_token is not None:
                self._on_token(token)
            if self.tokens is not tokens and self._api_key == api_key:
                self.tokens.store(token)  # minted with the re-read connection's key: its cache's too
            return token
        raise AssertionError("unreachable")

    # -- the operations --------------------------------------------------------------

    def create_analysis_creation_batch(
        self, project_id: str, batch: Mapping[str, Any], idempotency_key: str | None = None
    ) -> Call[AnalysisCreationBatch]:
        request = ops.create_analysis_creation_batch(project_id, batch, idempotency_key)
        return parse(AnalysisCreationBatch, request, (yield from self.call(request)))

    def get_analysis_creation_batch(self, project_id: str, batch_id: str) -> Call[AnalysisCreationBatch]:
        request = ops.get_analysis_creation_batch(project_id, batch_id)
        return parse(AnalysisCreationBatch, request, (yield from self.call(request)))

    def get_analysis_creation_batch_items(
        self,
        project_id: str,
        batch_id: str,
        *,
        statuses: Iterable[str] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Call[AnalysisCreationBatchItemPage]:
        request = ops.get_analysis_creation_batch_items(
            project_id, batch_id, statuses=statuses, page_size=page_size, page_token=page_token
        )
        return parse(AnalysisCreationBatchItemPage, request, (yield from self.call(request)))

    def item_pages(
        self, project_id: str, batch_id: str, *, statuses: Iterable[str] | None = None, page_size: int | None = None
    ) -> Iterator[Call[AnalysisCreationBatchItemPage]]:
        """Every page of the batch's items (optionally only these statuses): see :func:`paged`."""
        filters = list(statuses or ())
        return paged(
            lambda token: self.get_analysis_creation_batch_items(
                project_id, batch_id, statuses=filters, page_size=page_size, page_token=token
            )
        )

    def item_status_pages(
        self, project_id: str, batch_id: str, *, page_size: int | None = None
    ) -> Iterator[Call[ItemStatusPage]]:
        """Every page of the batch's items as slim status views: see :func:`paged`."""
        return paged(
            lambda token: self.get_item_status_page(project_id, batch_id, page_size=page_size, page_token=token)
        )

    def get_item_status_page(
        self, project_id: str, batch_id: str, *, page_size: int | None = None, page_token: str | None = None
    ) -> Call[ItemStatusPage]:
        """A page of items as slim status views: what following a batch needs, cheaply."""
        request = ops.get_analysis_creation_batch_items(
            project_id, batch_id, page_size=page_size, page_token=page_token
        )
        return parse(ItemStatusPage, request, (yield from self.call(request)))

    def get_analysis_creation_batch_item(
        self, project_id: str, batch_id: str, item_id: str
    ) -> Call[AnalysisCreationBatchItem]:
        request = ops.get_analysis_creation_batch_item(project_id, batch_id, item_id)
        return parse(AnalysisCreationBatchItem, request, (yield from self.call(request)))

    def get_analysis(self, project_id: str, analysis_id: str) -> Call[Analysis]:
        request = ops.get_analysis(project_id, analysis_id)
        return parse(Analysis, request, (yield from self.call(request)))

    def abort_analysis(self, project_id: str, analysis_id: str) -> Call[None]:
        yield from self.call(ops.abort_analysis(project_id, analysis_id))

    def get_analysis_outputs(self, project_id: str, analysis_id: str) -> Call[AnalysisOutputList]:
        """What the analysis produced, per output parameter (empty until it has SUCCEEDED)."""
        request = ops.get_analysis_outputs(project_id, analysis_id)
        return parse(AnalysisOutputList, request, (yield from self.call(request)))


def paged(fetch: Callable[[str | None], Call[P]]) -> Iterator[Call[P]]:
    """Cursor paging, the one definition: one :data:`Call` per page, in order.

    ``fetch(token)`` asks for the page after ``token`` (``None``: the first). Each call
    must be driven to its page before the next is taken; the pages end at a null or
    empty ``nextPageToken``.
    """
    token: str | None = None
    while True:
        fetched: list[P] = []
        yield _keeping(fetch(token), fetched)
        if not fetched:
            raise RuntimeError("a page was taken before the previous one was fetched")
        token = fetched[0].next_page_token or None
        if token is None:
            return


def _keeping(call: Call[P], into: list[P]) -> Call[P]:
    page = yield from call
    into.append(page)
    return page


def parse(model: type[M], request: Request, response: Response) -> M:
    """Validate an answer's JSON body into ``model``, straight from the bytes.

    Not JSON is an :class:`IcaApiError`; JSON of the wrong shape an :class:`IcaResponseError`.
    """
    try:
        return model.model_validate_json(response.body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise not_json(request, response, errors[0]["msg"]) from None
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}" for e in errors)
        raise IcaResponseError(f"ICA's answer to {request.describe()} is not a {model.__name__}: {problems}") from None
