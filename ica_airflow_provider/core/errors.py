"""The provider's exceptions: what ICA answered, or why it could not be reached."""

from __future__ import annotations

from collections.abc import Mapping

from ica_airflow_provider._compat import AirflowException


class IcaError(AirflowException):
    """Base class of every error this provider raises about ICA."""


class IcaApiError(IcaError):
    """ICA answered with an error status (problem+json or otherwise)."""

    def __init__(
        self,
        status: int,
        *,
        method: str,
        path: str,
        title: str | None = None,
        detail: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.title = title
        self.detail = detail
        self.parameters = dict(parameters or {})
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"ICA answered {self.status}"
        if self.title:
            head += f" {self.title}"
        text = f"{head} to {self.method} {self.path}"
        if self.detail:
            text += f": {self.detail}"
        if self.parameters:
            fields = "; ".join(f"{k}: {v}" for k, v in sorted(self.parameters.items()))
            text += f" ({fields})"
        return text


class IcaResponseError(IcaError):
    """ICA answered 2xx with a body of an unexpected shape."""


class IcaConnectionError(IcaError):
    """No answer from ICA: connection refused or dropped, or a timeout, after retries."""


class IcaConfigError(IcaError):
    """The ``ica`` connection or a parameter is unusable; raised before any request."""


def is_transient(exc: BaseException) -> bool:
    """Worth another poll later: no answer, rate limiting or a server error."""
    if isinstance(exc, IcaConnectionError):
        return True
    return isinstance(exc, IcaApiError) and (exc.status == 429 or exc.status >= 500)


class PollFailures:
    """Counts polls in a row that failed on transient errors (each already retried).

    A wait tolerates up to ``limit`` of them before it gives up, so one long outage
    of ICA fails the task, but a passing one does not.
    """

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit
        self.in_a_row = 0

    def tolerate(self, exc: BaseException) -> bool:
        """Record a failed poll; ``True`` when the wait should carry on."""
        self.in_a_row += 1
        return is_transient(exc) and self.in_a_row <= self.limit

    def reset(self) -> None:
        self.in_a_row = 0
