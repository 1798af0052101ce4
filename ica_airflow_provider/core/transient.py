"""What is worth trying again: the one definition, used by retries and by the wait.

Transient: no answer at all (connection refused or dropped, a timeout, a broken
answer), 429 (rate limited), and 500, 502, 503, 504 (a server or gateway that may
recover). Not transient: every other status, 501 included (the server does not
implement the call: asking again changes nothing), and a request that could not even
be sent (kind ``"invalid"``).

:class:`~.retry.RetryPolicy` retries a transient outcome right away (with backoff);
:class:`~.wait.PollFailures` lets a wait carry on past a poll that failed on a
transient error, after those retries ran out.
"""

from __future__ import annotations

from ica_airflow_provider.core.errors import IcaApiError, IcaConnectionError
from ica_airflow_provider.core.messages import Outcome, Response

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
UNSENDABLE = "invalid"  # the TransportFailure kind of a request that could not be built


def is_transient_outcome(outcome: Outcome) -> bool:
    """A transport's outcome that another attempt may change."""
    if isinstance(outcome, Response):
        return outcome.status in TRANSIENT_STATUSES
    return outcome.kind != UNSENDABLE


def is_transient(exc: BaseException) -> bool:
    """An error (raised after the retries) that a later poll may not meet again."""
    if isinstance(exc, IcaConnectionError):
        return exc.kind != UNSENDABLE
    return isinstance(exc, IcaApiError) and exc.status in TRANSIENT_STATUSES
