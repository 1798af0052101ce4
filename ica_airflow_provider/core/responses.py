"""The exception for an answer that is not what was asked for, or for no answer at all.

(Successful bodies are parsed into models by :func:`~.protocol.parse`.)
"""

from __future__ import annotations

import json
from typing import Any

from ica_airflow_provider.core.errors import IcaApiError, IcaConnectionError
from ica_airflow_provider.core.messages import Request, Response, TransportFailure

_SNIPPET = 200  # characters of a non-JSON error body worth showing


def not_json(request: Request, response: Response, reason: str) -> IcaApiError:
    """The error for a 2xx answer whose body is not JSON (truncated, or a proxy's page)."""
    return IcaApiError(
        response.status,
        method=request.method,
        path=request.path,
        detail=f"the answer is not valid JSON ({reason}): {_snippet(request, response.body)}",
    )


def api_error(request: Request, response: Response) -> IcaApiError:
    """Build the :class:`IcaApiError` for an error answer, problem+json or not."""
    if 300 <= response.status < 400:
        # Redirects are not followed: they could carry the API key elsewhere.
        where = response.headers.get("location", "nowhere")
        return IcaApiError(
            response.status, method=request.method, path=request.path, detail=f"unexpected redirect to {where}"
        )
    problem = _problem(response.body)
    if problem is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return IcaApiError(
            response.status,
            method=request.method,
            path=request.path,
            detail=f"non-JSON answer ({kind}): {_snippet(request, response.body)}",
        )
    parameters = problem.get("parameters")
    return IcaApiError(
        response.status,
        method=request.method,
        path=request.path,
        title=_str_or_none(problem.get("title")),
        detail=_str_or_none(problem.get("detail")),
        parameters={str(k): str(v) for k, v in parameters.items()}
        if isinstance(parameters, dict)
        else None,
    )


def connection_error(request: Request, failure: TransportFailure, attempts: int) -> IcaConnectionError:
    return IcaConnectionError(
        f"ICA did not answer {request.describe()} after {attempts} attempt(s):"
        f" {failure.kind}: {failure.message}",
        kind=failure.kind,
    )


def _problem(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _snippet(request: Request, body: bytes) -> str:
    if request.secret_answer:
        return "(body not shown: it may hold a token)"
    text = " ".join(body.decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"
