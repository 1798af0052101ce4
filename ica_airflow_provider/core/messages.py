"""The messages between the core and a transport: requests, their outcomes, and actions.

No HTTP here: a transport (``hooks/``) turns a :class:`Request` into bytes on the wire
and the answer back into a :class:`Response` or a :class:`TransportFailure`.

The core's generators yield an :data:`Action`; each driver (``core/drive.py``) dispatches
it with one ``match``. The actions are an explicit union, none a kind of another: a new
one is a new class here and a new ``case`` in each driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ica_airflow_provider.core.auth import MintLease, TokenCache
    from ica_airflow_provider.core.notifications import Hint


@dataclass(frozen=True)
class Request:
    """One HTTP request, relative to the API base URL (e.g. ``/api/tokens``)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Safe to send again after a transient failure (see core/transient.py): GETs, aborts,
    # token mints, and a batch POST that carries an Idempotency-Key.
    retryable: bool = True
    # The answer carries a secret (a JWT): error messages must not quote its body.
    secret_answer: bool = False

    def with_headers(self, **extra: str) -> Request:
        merged = {**self.headers, **{k.replace("_", "-"): v for k, v in extra.items()}}
        return replace(self, headers=merged)

    def describe(self) -> str:
        """``METHOD /path``: what error messages and logs show (never headers)."""
        return f"{self.method} {self.path}"

    def __repr__(self) -> str:  # headers carry credentials: keep them out of reprs
        return f"Request({self.describe()!r}, params={self.params!r})"


@dataclass(frozen=True)
class Response:
    """A received HTTP response; ``headers`` keys are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def build(cls, status: int, headers: Mapping[str, str], body: bytes) -> Response:
        return cls(status, {k.lower(): v for k, v in headers.items()}, body)


@dataclass(frozen=True)
class TransportFailure:
    """The request got no HTTP answer: connection refused or dropped, or a timeout."""

    kind: str  # "connect", "timeout", "protocol", or "invalid" (could not be sent at all)
    message: str


Outcome = Response | TransportFailure


@dataclass(frozen=True)
class Send:
    """Action: send this request and send back its :data:`Outcome`."""

    request: Request


@dataclass(frozen=True)
class Sleep:
    """Action: wait this many seconds, then resume with ``None``."""

    seconds: float


@dataclass(frozen=True)
class AwaitToken:
    """Action: another caller is minting the JWT; wait until that mint is over, at most ``seconds``.

    Resume with ``None``. The drivers park on it with :mod:`~ica_airflow_provider.core.gate`.
    """

    seconds: float
    tokens: TokenCache = field(repr=False)
    lease: MintLease = field(repr=False)

    def settled(self) -> bool:
        return self.tokens.settled(self.lease)


@dataclass(frozen=True)
class Refresh:
    """Action: an attempt is about to be signed; a driver that shares its connection re-reads it now if due.

    Resume with ``None``.
    """


@dataclass(frozen=True)
class AwaitHints:
    """Action: sleep at most ``seconds``, or until notification hints come for what the wait follows.

    ``analysis_ids``, ``job_ids`` and ``tags`` (analyses' technical tags) are followed from
    now on, besides those of earlier actions of the same wait. Resume with a :class:`Woken`;
    a driver with no hint source sleeps the ``seconds`` and resumes with ``None``.
    """

    seconds: float
    analysis_ids: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Woken:
    """What an :class:`AwaitHints` came back with: the hints (none: the time was up), and the source's state."""

    hints: tuple[Hint, ...] = ()
    available: bool = True  # False: the queue cannot be read; the wait polls until it can again
    overflowed: bool = False  # hints were lost on the way: a listing catches up


Action = Send | Sleep | AwaitToken | Refresh | AwaitHints
Resumed = Outcome | Woken | None
"""What a driver sends back into a call: a request's outcome, a :class:`Woken`, or ``None``."""
