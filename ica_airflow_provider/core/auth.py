"""The JWT minted from the API key: when it expires, when to mint another."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

# Re-mint this long before ``exp``, so that a request never leaves with a token that
# expires on the way; at most a tenth of the token's lifetime, for short-lived tokens.
REMINT_LEAD_SECONDS = 60.0


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), read without verifying it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return float(exp) if isinstance(exp, int | float) else None
    except (IndexError, ValueError):
        return None


class TokenCache:
    """Holds the current JWT; never shows it in a repr."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._token: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return f"TokenCache(valid={self.valid()})"

    @property
    def token(self) -> str | None:
        return self._token if self.valid() else None

    def valid(self) -> bool:
        return self._token is not None and self._now() < self._refresh_at

    def store(self, token: str) -> None:
        now = self._now()
        exp = jwt_expiry(token)
        if exp is None:
            # No readable expiry: use it until ICA answers 401.
            self._refresh_at = float("inf")
        else:
            lead = min(REMINT_LEAD_SECONDS, max(exp - now, 0.0) / 10)
            self._refresh_at = exp - lead
        self._token = token

    def clear(self) -> None:
        self._token = None
        self._refresh_at = 0.0
