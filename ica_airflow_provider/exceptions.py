"""The exceptions a task or a hook raises to Airflow: the core's, made ``AirflowException``s.

The hierarchy (every class is an :class:`~ica_airflow_provider.core.errors.IcaError`, so
``except IcaError`` catches them all; those raised to Airflow are ``AirflowException``s too)::

    IcaError                      core/errors.py (plain Python: the core imports no Airflow)
    ├── IcaApiError               ICA answered an error status
    ├── IcaResponseError          ICA answered 2xx with an unexpected body
    ├── IcaConnectionError        no answer from ICA, after retries
    ├── IcaConfigError            the connection or a parameter is unusable
    ├── IcaBatchFailedError       (here) more failures than max_failures allows
    └── IcaWaitTimeoutError       (here) the operator's wait reached its timeout

An error of the core that leaves the hook (:func:`airflow_facing`) is turned into the
subclass of its class that is also an ``AirflowException``: its type name, message and
fields stay the same, and ``except IcaApiError`` still catches it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ica_airflow_provider._compat import AirflowException
from ica_airflow_provider.core import errors as core

__all__ = [
    "IcaApiError",
    "IcaBatchFailedError",
    "IcaConfigError",
    "IcaConnectionError",
    "IcaError",
    "IcaResponseError",
    "IcaWaitTimeoutError",
    "airflow_facing",
]


class IcaError(core.IcaError, AirflowException):
    """An :class:`~ica_airflow_provider.core.errors.IcaError` raised to Airflow."""


class IcaApiError(core.IcaApiError, IcaError):
    """An :class:`~ica_airflow_provider.core.errors.IcaApiError` raised to Airflow."""


class IcaResponseError(core.IcaResponseError, IcaError):
    """An :class:`~ica_airflow_provider.core.errors.IcaResponseError` raised to Airflow."""


class IcaConnectionError(core.IcaConnectionError, IcaError):
    """An :class:`~ica_airflow_provider.core.errors.IcaConnectionError` raised to Airflow."""


class IcaConfigError(core.IcaConfigError, IcaError):
    """An :class:`~ica_airflow_provider.core.errors.IcaConfigError` raised to Airflow."""


class IcaBatchFailedError(IcaError):
    """More items or analyses failed than ``max_failures`` allows."""


class IcaWaitTimeoutError(IcaError):
    """The batch was not finished by the wait's deadline."""


_FACING: dict[type[core.IcaError], type[IcaError]] = {
    core.IcaError: IcaError,
    core.IcaApiError: IcaApiError,
    core.IcaResponseError: IcaResponseError,
    core.IcaConnectionError: IcaConnectionError,
    core.IcaConfigError: IcaConfigError,
}


@contextlib.contextmanager
def airflow_facing() -> Iterator[None]:
    """Core errors raised inside become their Airflow-facing class (same object, same traceback)."""
    try:
        yield
    except core.IcaError as exc:
        facing = _FACING.get(type(exc))
        if facing is not None:
            exc.__class__ = facing
        raise
