"""What every caller of one connection shares in a process: its JWT cache, request budget, secrets.

One :class:`ConnectionState` per connection per process (the registry is
``hooks/clients.py``): a thousand waits on one triggerer mint one token, pace their
requests through one budget, and register each secret with the masker once. Free of
I/O: the transports read the connection and register the secrets.
"""

from __future__ import annotations

import hashlib
import threading

from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.settings import IcaSettings

# How often a process re-reads a connection it is using (and at once after a 401). A
# rotated API key is picked up within this time: ICA lets the old and the new key live
# side by side while a key is rotated, and the JWTs minted with the old one stay valid
# until they expire, so minutes are early enough; while a thousand waits on one
# triggerer cost one connection lookup (metadata database or secrets backend) per
# connection every five minutes, instead of one per poll.
REREAD_SECONDS = 300.0


def fingerprint(settings: IcaSettings) -> str:
    """Who the state belongs to: the API key and the base URL, hashed (the key never in a repr)."""
    return hashlib.sha256(f"{settings.base_url}\n{settings.api_key}".encode()).hexdigest()[:16]


class ConnectionState:
    """One connection's settings, JWT cache and request budget, as read at ``read_at``; thread-safe.

    Settings that change (a rotated key, another URL, another limit) make a new state:
    two connections, or two versions of one, never share a token.
    """

    def __init__(self, conn_id: str | None, settings: IcaSettings, now: float = 0.0) -> None:
        self.conn_id = conn_id
        self.settings = settings
        self.fingerprint = fingerprint(settings)
        self.tokens = TokenCache()
        self.budget = settings.request_budget()
        self.read_at = now  # when the connection was last read (monotonic seconds)
        self._lock = threading.Lock()
        self._reread_claimed_at = now
        self._unmasked: list[str] = [settings.api_key]  # whoever sends first registers it, once

    def __repr__(self) -> str:
        return f"ConnectionState(conn_id={self.conn_id!r}, fingerprint={self.fingerprint!r})"

    # -- the callers' protocols ------------------------------------------------------------

    def protocol(self, policy: RetryPolicy | None = None) -> IcaProtocol:
        """A protocol for one caller (its own retry policy and counters) on this shared state."""
        protocol = IcaProtocol(self.settings.api_key, policy or self.settings.retry_policy())
        self.bind(protocol)
        return protocol

    def bind(self, protocol: IcaProtocol) -> None:
        """Point ``protocol`` at this state (a caller moving to a re-read connection)."""
        protocol.use(self.settings.api_key, self.tokens, self.budget, self.mask)

    # -- secrets for the masker, each once -------------------------------------------------

    def mask(self, secret: str) -> None:
        """Queue ``secret`` for the transport to register with the masker (the minter calls it once)."""
        with self._lock:
            self._unmasked.append(secret)

    def unmasked(self) -> list[str]:
        """The secrets not registered yet; whoever takes them registers them."""
        with self._lock:
            taken, self._unmasked = self._unmasked, []
        return taken

    # -- re-reading the connection ---------------------------------------------------------

    def claim_reread(self, now: float, interval: float = REREAD_SECONDS) -> bool:
        """``True`` for the one caller that should re-read the connection now; the others carry on."""
        with self._lock:
            if now - max(self.read_at, self._reread_claimed_at) < interval:
                return False
            self._reread_claimed_at = now
            return True

    def confirmed(self, now: float) -> None:
        """The connection was read again and has not changed."""
        with self._lock:
            self.read_at = max(self.read_at, now)

