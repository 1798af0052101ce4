"""The provider's exceptions: what ICA answered, or why it could not be reached.

Plain Python exceptions: the core imports no Airflow. What a task or a hook raises to
Airflow is made an ``AirflowException`` too at the edge (``ica_airflow_provider.exceptions``),
and stays an instance of these classes, so ``except IcaError`` catches every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping


class IcaError(Exception):
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
    """No answer from ICA: connection refused or dropped, or a timeout, after retries.

    ``kind`` is the transport's failure kind (``connect``, ``timeout``, ``protocol`` or
    ``invalid``), when known.
    """

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        self.kind = kind
        super().__init__(message)


class IcaConfigError(IcaError):
    """The ``ica`` connection or a parameter is unusable; raised before any request."""
