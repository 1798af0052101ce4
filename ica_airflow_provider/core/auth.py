"""The JWT minted from the API key: how long it lives, when to mint another, who mints it.

A token is judged by its own lifetime (``exp - iat``, both in ICA's clock) counted from
the local time it was stored, so a local clock that is hours off neither re-mints on
every call nor sends expired tokens. One cache is shared by every call of a process
that uses the same connection: the mint lease lets one of them mint while the others
wait (see :mod:`ica_airflow_provider.core.flight`).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Re-mint this long before the token expires, so that a request never leaves with a token
# that expires on the way; at most a tenth of the token's lifetime, for short-lived tokens.
REMINT_LEAD_SECONDS = 60.0
# JWT times are usually whole seconds: ``iat`` may be up to this much before the real
# moment of minting, so a token lives up to this much less than ``exp - iat`` says.
CLAIM_RESOLUTION_SECONDS = 1.0
# A token with ``exp`` but no ``iat`` whose ``exp`` is already past by the local clock: ICA
# has just minted it, so the local clock is ahead. Use it this long (or until a 401)
# rather than minting again on every call.
FALLBACK_LIFETIME_SECONDS = 300.0
# How long one caller may hold the mint before another takes over: the holder may have
# vanished (a killed thread). A mint with its retries normally ends well before this.
MINT_LEASE_SECONDS = 120.0


def _claims(token: str) -> dict[str, Any] | None:
    """The JWT's payload, read without verifying it; ``None`` if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _number(claims: dict[str, Any] | None, name: str) -> float | None:
    value = claims.get(name) if claims is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Grant:
    """A token handed to one attempt, with the cache generation it belongs to."""

    token: str = field(repr=False)
    generation: int

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


@dataclass(frozen=True, eq=False)
class MintLease:
    """One mint in flight: its number, until when it is held, the generation it replaces."""

    flight: int
    expires_at: float
    generation: int
    # The thread that holds it: a blocking wait for one's own thread could never end.
    owner: int = 0


class TokenCache:
    """Holds the current JWT for every caller of one connection; thread-safe.

    ``generation`` changes whenever the token is replaced or cleared, so a caller can
    tell that the token it was given has since been replaced.
    """

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        # Lifetimes are counted on the monotonic clock, so a wall clock stepped by hours
        # mid-token changes nothing; only a token without ``iat`` is read against the wall
        # clock. An injected ``now`` (tests) serves as both.
        self._now = now or time.monotonic
        self._wall = now or time.time
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # local clock
        self._generation = 0
        self._lease: MintLease | None = None
        self._flights = 0
        self._failure: tuple[int, Exception] | None = None  # (flight, why its mint failed)
        self._listeners: dict[object, Callable[[], None]] = {}  # a thousand waiters come and go

    def __repr__(self) -> str:
        return f"TokenCache(valid={self.valid()}, generation={self._generation})"

    # -- the token -------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        grant = self.grant()
        return grant.token if grant is not None else None

    @property
    def generation(self) -> int:
        return self._generation

    def valid(self) -> bool:
        return self.grant() is not None

    def grant(self) -> Grant | None:
        """The token and its generation if it may still be sent, else ``None``."""
        with self._lock:
            if self._token is None or self._now() >= self._refresh_at:
                return None
            return Grant(self._token, self._generation)

    def store(self, token: str) -> None:
        """Keep a freshly minted token; its lifetime counts from now, by the local clock."""
        now = self._now()
        lifetime = _lifetime(token, self._wall())
        refresh_at = now + lifetime - min(REMINT_LEAD_SECONDS, max(lifetime, 0.0) / 10)
        with self._lock:
            self._token, self._refresh_at = token, refresh_at
            self._generation += 1
        self._notify()

    def clear(self) -> None:
        with self._lock:
            self._token, self._refresh_at = None, 0.0
            self._generation += 1
        self._notify()

    def reject(self, generation: int) -> bool:
        """ICA refused the token of ``generation`` (a 401): drop it unless already replaced."""
        with self._lock:
            if generation != self._generation:
                return False
            self._token, self._refresh_at = None, 0.0
            self._generation += 1
        self._notify()
        return True

    # -- the mint lease (single flight) ------------------------------------------------------

    def acquire(self, lease_seconds: float = MINT_LEASE_SECONDS) -> tuple[MintLease, bool]:
        """The mint in flight, and whether it is the caller's to make.

        A new lease is granted when none is held or the holder's has expired.
        """
        with self._lock:
            now = self._now()
            lease = self._lease
            if lease is not None and now < lease.expires_at:
                return lease, False
            self._flights += 1
            self._lease = MintLease(self._flights, now + lease_seconds, self._generation, threading.get_ident())
            return self._lease, True

    def release(self, lease: MintLease, error: Exception | None = None) -> None:
        """End a mint: done (the token was stored) or failed with ``error``, for its waiters."""
        with self._lock:
            if error is not None:
                self._failure = (lease.flight, error)
            if self._lease is not lease:
                return  # it expired and another caller took over
            self._lease = None
        self._notify()

    def abandon(self, lease: MintLease) -> None:
        """Give up ``lease`` without an error (its holder cannot finish): the next caller mints."""
        with self._lock:
            if self._lease is not lease:
                return
            self._lease = None
        self._notify()

    def settled(self, lease: MintLease) -> bool:
        """The mint of ``lease`` is over (or a token was stored or cleared since it began)."""
        with self._lock:
            return self._lease is not lease or self._generation != lease.generation

    def failure(self, lease: MintLease) -> Exception | None:
        """Why the mint of ``lease`` failed, if it did."""
        with self._lock:
            if self._failure is not None and self._failure[0] == lease.flight:
                return self._failure[1]
            return None

    def lease_left(self, lease: MintLease) -> float:
        """Seconds until ``lease`` expires, by the cache's clock."""
        return max(lease.expires_at - self._now(), 0.0)

    # -- change notifications (for the drivers' gates) --------------------------------------

    @contextmanager
    def watch(self, listener: Callable[[], None]) -> Iterator[None]:
        """Call ``listener`` (from any thread) whenever the token or the lease changes."""
        key = object()
        with self._lock:
            self._listeners[key] = listener
        try:
            yield
        finally:
            with self._lock:
                del self._listeners[key]

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:  # outside the lock: a listener may read the cache
            listener()


def _lifetime(token: str, wall_now: float) -> float:
    """Seconds the token may be used from now; ``inf`` without an ``exp`` (until a 401)."""
    claims = _claims(token)
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp is None:
        return float("inf")
    if iat is not None:  # not positive: expired by its own claims
        return exp - iat - (CLAIM_RESOLUTION_SECONDS if iat.is_integer() else 0.0)
    left = exp - wall_now  # no iat: the local clock is all there is
    return left if left > 0 else FALLBACK_LIFETIME_SECONDS
