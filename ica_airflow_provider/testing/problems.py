"""The one error type of the fake: an RFC 7807 problem the HTTP layer renders as-is.

Only ``ICA_API_004`` ("Invalid Accept Header") is a code seen on the real service;
``ICA_API_429``/``ICA_API_503`` are reported by users. The other codes are invented
but follow the same ``ICA_API_NNN`` shape.
"""

from __future__ import annotations

from collections.abc import Mapping

UNAUTHORIZED = "ICA_API_001"
VALIDATION_FAILED = "ICA_API_002"
NOT_FOUND = "ICA_API_003"
INVALID_ACCEPT = "ICA_API_004"
UNSUPPORTED_CONTENT_TYPE = "ICA_API_005"
IDEMPOTENCY_IN_PROGRESS = "ICA_API_006"
IDEMPOTENCY_BODY_MISMATCH = "ICA_API_007"
METHOD_NOT_ALLOWED = "ICA_API_008"
JOB_FINISHED = "ICA_API_009"
TOO_MANY_REQUESTS = "ICA_API_429"
INTERNAL_ERROR = "ICA_API_500"
SERVICE_UNAVAILABLE = "ICA_API_503"


class IcaProblem(Exception):
    """A failure the fake reports as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        parameters: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.parameters: dict[str, str] = dict(parameters or {})
        self.headers: dict[str, str] = dict(headers or {})


def bad_request(detail: str, parameters: Mapping[str, str] | None = None) -> IcaProblem:
    """400 for a request the fake refuses to process."""
    return IcaProblem(400, VALIDATION_FAILED, detail, parameters)


def not_found(what: str, identifier: str) -> IcaProblem:
    """404 for an unknown (or other project's) resource."""
    return IcaProblem(404, NOT_FOUND, f"{what} with id '{identifier}' not found")


def unauthorized(detail: str) -> IcaProblem:
    """401; ``detail`` says whether credentials were missing, invalid or expired."""
    return IcaProblem(401, UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer realm="ica"'})
