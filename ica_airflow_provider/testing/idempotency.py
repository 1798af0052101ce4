"""Idempotency-Key records, following the rules the ICA spec gives for batch creation.

Keyed by (endpoint scope, key, user). Same body + stored response: replay. Same body while
the first call runs: 409. Different body: 422. Errors are not stored, so a retry may run.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.testing.problems import (
    IDEMPOTENCY_BODY_MISMATCH,
    IDEMPOTENCY_IN_PROGRESS,
    IcaProblem,
    bad_request,
)

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    """A successful response kept for replays."""

    status: int
    body: bytes
    media_type: str


@dataclass
class _Record:
    body_hash: str
    created_at: float
    response: StoredResponse | None = None  # None while the original call is in flight


def check_key(key: str) -> None:
    """400 problem for a key longer than the spec allows."""
    if len(key) > MAX_KEY_LENGTH:
        raise bad_request(
            "Idempotency-Key header is too long",
            {"Idempotency-Key": f"size must be between 0 and {MAX_KEY_LENGTH}"},
        )


def body_hash(body: Any) -> str:
    """Hash of the parsed body, so formatting differences do not count as a new body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    """Thread-safe records with a time-to-live measured on the backend's clock."""

    def __init__(self, ttl_seconds: float, now: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._now = now
        self._records: dict[tuple[str, str, str], _Record] = {}
        self._lock = threading.Lock()

    def begin(self, scope: str, key: str, user_id: str, digest: str) -> StoredResponse | None:
        """Claim ``key``: None to proceed, a stored response to replay, or a 409/422 problem."""
        check_key(key)
        now = self._now()
        with self._lock:
            record = self._records.get((scope, key, user_id))
            if record is not None and now - record.created_at > self._ttl:
                record = None
            if record is None:
                self._records[(scope, key, user_id)] = _Record(digest, now)
                return None
            if record.body_hash != digest:
                raise IcaProblem(
                    422,
                    IDEMPOTENCY_BODY_MISMATCH,
                    "The Idempotency-Key was already used with a different request body",
                    {"Idempotency-Key": key},
                )
            if record.response is None:
                raise IcaProblem(
                    409,
                    IDEMPOTENCY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still in progress",
                    {"Idempotency-Key": key},
                )
            return record.response

    def finish(self, scope: str, key: str, user_id: str, response: StoredResponse | None) -> None:
        """Store a success for replays, or (``None`` / an error) forget the key."""
        with self._lock:
            if response is None or response.status >= 400:
                self._records.pop((scope, key, user_id), None)
                return
            record = self._records.get((scope, key, user_id))
            if record is not None:
                record.response = response
                record.created_at = self._now()  # kept for the TTL from the response on

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
