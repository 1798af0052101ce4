"""One client per connection per process: the registry the hook and the async client share.

A :class:`SharedConnection` holds a connection's :class:`~.core.shared.ConnectionState`
(JWT cache, request budget, secrets to mask) and its pooled HTTP clients: one
``requests.Session`` for the threads, one ``httpx.AsyncClient`` per event loop (an
httpx client belongs to the loop it first ran on). Both pools are bounded.

Lifetime: the process's. A triggerer serves waits for days and new ones arrive every few
seconds; closing the pool when the last wait of the moment ends would only cost the next
one a new pool, TLS handshake and token. An idle pool costs little (httpx closes idle
keep-alive connections after 5 s), and there is one per connection (per loop) only.
A connection whose settings changed is replaced; its callers move to the new one on
their next request and the old pools are left to the garbage collector (closing them
could cut a request in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ica_airflow_provider import __version__
from ica_airflow_provider._compat import aextra_dejson, aget_connection, amask_secret, mask_secret
from ica_airflow_provider.core.messages import Outcome, Response
from ica_airflow_provider.core.settings import IcaSettings, settings_from_connection
from ica_airflow_provider.core.shared import ConnectionState

if TYPE_CHECKING:
    import httpx
    import requests

    from ica_airflow_provider.core.protocol import IcaProtocol
    from ica_airflow_provider.core.retry import RetryPolicy

log = logging.getLogger(__name__)

USER_AGENT = f"ica-airflow-provider/{__version__}"
# Connections per pool. A budget of 20 requests a second at ICA's usual answer times keeps
# about ten in flight; this leaves room for slow answers, and a thousand waits never open
# a thousand sockets (the rest queue for a free connection).
MAX_CONNECTIONS = 16


def new_session(settings: IcaSettings) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_CONNECTIONS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"})
    return session


def new_async_client(settings: IcaSettings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    import httpx

    connect, read = settings.timeout
    return httpx.AsyncClient(
        timeout=httpx.Timeout(read, connect=connect),
        verify=ssl.create_default_context(cafile=settings.verify) if isinstance(settings.verify, str) else settings.verify,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
        transport=transport,
    )


class SharedConnection:
    """A connection's shared state and pooled clients in this process."""

    def __init__(self, state: ConnectionState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._async: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def __repr__(self) -> str:
        return f"SharedConnection({self.state!r})"

    @property
    def settings(self) -> IcaSettings:
        return self.state.settings

    def session(self) -> requests.Session:
        """The connection's ``requests`` pool (thread-safe; one per process)."""
        with self._lock:
            if self._session is None:
                self._session = new_session(self.settings)
            return self._session

    def async_client(self) -> httpx.AsyncClient:
        """The connection's httpx pool for the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                # A closed loop's client can never run again: forget it (tests run many loops).
                for closed in [other for other in self._async if other.is_closed()]:
                    del self._async[closed]
                client = self._async[loop] = new_async_client(self.settings)
            return client

    @property
    def async_clients(self) -> int:
        """How many httpx pools this connection holds (for tests and benchmarks)."""
        return len(self._async)


class Registry:
    """The process's shared connections by connection ID, re-read every ``REREAD_SECONDS`` and after a 401.

    The first caller of a connection reads it while the others wait for that one read; a
    re-read when the interval has passed is done by one caller while the others carry on
    with the state they have; a re-read after a 401 is awaited by every caller that got one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._current: dict[str, SharedConnection] = {}
        self._reads: dict[str, int] = {}  # reads of each connection so far
        # Re-entrant: a task's on_kill runs in a signal handler on the thread it interrupts.
        self._thread_locks: dict[str, threading.RLock] = {}
        self._loop_locks: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"Registry(connections={sorted(self._current)!r})"

    def get(self, conn_id: str) -> SharedConnection | None:
        with self._lock:
            return self._current.get(conn_id)

    def reads(self, conn_id: str) -> int:
        """How many times the connection was read so far: what a caller that got a 401 passes as ``after_401``."""
        with self._lock:
            return self._reads.get(conn_id, 0)

    def clear(self) -> None:
        """Forget every connection (tests; a process that must start afresh)."""
        with self._lock:
            self._current.clear()
            self._reads.clear()
            self._loop_locks.clear()

    # -- the two ways of reading a connection ------------------------------------------------

    def connection(
        self, conn_id: str, read: Callable[[], IcaSettings], *, after_401: int | None = None
    ) -> SharedConnection:
        """The shared connection, reading it with ``read()`` (blocking) when due.

        ``after_401``: the caller got a 401 when :meth:`reads` was this; it waits for a read made after.
        """
        shared, must_read = self._lookup(conn_id, after_401)
        if shared is not None and not must_read:
            return shared
        if shared is not None and after_401 is None:  # the interval: one caller re-reads, alone
            return self._reread(conn_id, shared, read)
        with self._thread_lock(conn_id):
            shared, must_read = self._lookup(conn_id, after_401, claim=False)
            if shared is not None and not must_read:
                return shared  # another thread read it meanwhile
            return self._reread(conn_id, shared, read)

    async def aconnection(
        self, conn_id: str, read: Callable[[], Awaitable[IcaSettings]], *, after_401: int | None = None
    ) -> SharedConnection:
        """:meth:`connection` for the event loop: ``read()`` is awaited."""
        shared, must_read = self._lookup(conn_id, after_401)
        if shared is not None and not must_read:
            return shared
        if shared is not None and after_401 is None:
            return await self._areread(conn_id, shared, read)
        async with self._loop_lock(conn_id):
            shared, must_read = self._lookup(conn_id, after_401, claim=False)
            if shared is not None and not must_read:
                return shared
            return await self._areread(conn_id, shared, read)

    # -- the rules, once --------------------------------------------------------------------

    def _lookup(self, conn_id: str, after_401: int | None, claim: bool = True) -> tuple[SharedConnection | None, bool]:
        """The current shared connection, and whether this caller must read the connection."""
        with self._lock:
            shared, reads = self._current.get(conn_id), self._reads.get(conn_id, 0)
        if shared is None:
            return None, True
        if after_401 is not None:
            return shared, reads <= after_401
        return shared, claim and shared.state.claim_reread(self.clock())

    def _reread(self, conn_id: str, shared: SharedConnection | None, read: Callable[[], IcaSettings]) -> SharedConnection:
        try:
            settings = read()
        except Exception:
            if shared is None:
                raise  # nothing to carry on with: the caller says why
            return self._unreadable(shared)
        return self._settle(conn_id, settings)

    async def _areread(
        self, conn_id: str, shared: SharedConnection | None, read: Callable[[], Awaitable[IcaSettings]]
    ) -> SharedConnection:
        try:
            settings = await read()
        except Exception:
            if shared is None:
                raise
            return self._unreadable(shared)
        return self._settle(conn_id, settings)

    def _unreadable(self, shared: SharedConnection) -> SharedConnection:
        log.warning(
            "Could not re-read connection %r; carrying on with its settings as last read", shared.state.conn_id,
            exc_info=True,
        )
        return shared

    def _settle(self, conn_id: str, settings: IcaSettings) -> SharedConnection:
        """Keep the state when the settings are unchanged; else a new one (nothing shared with the old).

        Counted when the read is over: a caller whose 401 came while it was under way takes it.
        """
        read_at = self.clock()
        with self._lock:
            self._reads[conn_id] = self._reads.get(conn_id, 0) + 1
            shared = self._current.get(conn_id)
            if shared is not None and shared.settings == settings:
                shared.state.confirmed(read_at)
                return shared
            shared = self._current[conn_id] = SharedConnection(ConnectionState(conn_id, settings, read_at))
            return shared

    def _thread_lock(self, conn_id: str) -> threading.RLock:
        with self._lock:
            return self._thread_locks.setdefault(conn_id, threading.RLock())

    def _loop_lock(self, conn_id: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            for closed in [key for key in self._loop_locks if key[0].is_closed()]:
                del self._loop_locks[closed]
            return self._loop_locks.setdefault((loop, conn_id), asyncio.Lock())


REGISTRY = Registry()


class Follower:
    """One caller's hold on a shared connection, and its drivers' seam (``core/drive.py``).

    The rules both transports need around a request, written once: follow the connection's
    re-reads (a caller's protocol moves to a changed connection's state), register each
    new secret with the masker (the blocking way, or the event loop's), re-read the
    connection when due at a ``Refresh`` and at once after a 401 (a rotated key?).
    Without a connection ID (a client built from settings), it only masks.
    """

    def __init__(
        self,
        conn_id: str | None,
        *,
        read: Callable[[], IcaSettings] | None = None,
        aread: Callable[[], Awaitable[IcaSettings]] | None = None,
        shared: SharedConnection | None = None,
        state: ConnectionState | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.shared = shared
        self._state = shared.state if shared is not None else state
        self._read, self._aread, self._policy = read, aread, policy
        self._protocol: IcaProtocol | None = None

    def __repr__(self) -> str:
        return f"Follower(conn_id={self.conn_id!r})"

    @property
    def state(self) -> ConnectionState:
        """The state of the connection as last read (read now if never)."""
        if self._state is None:
            self.connection()
        assert self._state is not None
        return self._state

    @property
    def protocol(self) -> IcaProtocol:
        """The caller's protocol (its own retry policy and counters) on the shared state."""
        if self._protocol is None:
            self._protocol = self.state.protocol(self._policy)
        return self._protocol

    def _follow(self, shared: SharedConnection) -> SharedConnection:
        if shared is not self.shared:
            if self._protocol is not None:
                shared.state.bind(self._protocol)
            self.shared, self._state = shared, shared.state
        return shared

    def _after_401(self, outcome: Outcome) -> int | None:
        """The 401 rule: ``after_401`` for the registry when ``outcome`` is one, else ``None``."""
        if isinstance(outcome, Response) and outcome.status == 401 and self.conn_id is not None:
            return REGISTRY.reads(self.conn_id)
        return None

    # -- blocking ---------------------------------------------------------------------------

    def connection(self, after_401: int | None = None) -> SharedConnection:
        """The shared connection, re-read when due (or after a 401); new secrets registered."""
        assert self.conn_id is not None and self._read is not None
        shared = self._follow(REGISTRY.connection(self.conn_id, self._read, after_401=after_401))
        self.mask()
        return shared

    def refresh(self) -> None:
        if self._read is not None:
            self.connection()

    def mask(self) -> None:
        if self._state is not None:
            for secret in self._state.unmasked():
                mask_secret(secret)

    def answered(self, outcome: Outcome) -> None:
        if (after_401 := self._after_401(outcome)) is not None and self._read is not None:
            self.connection(after_401)

    # -- on the event loop ------------------------------------------------------------------

    async def aconnection(self, after_401: int | None = None) -> SharedConnection:
        """:meth:`connection` without blocking the loop."""
        assert self.conn_id is not None and self._aread is not None
        shared = self._follow(await REGISTRY.aconnection(self.conn_id, self._aread, after_401=after_401))
        await self.amask()
        return shared

    async def arefresh(self) -> None:
        if self._aread is not None:
            await self.aconnection()

    async def amask(self) -> None:
        if self._state is not None:
            for secret in self._state.unmasked():
                await amask_secret(secret)

    async def aanswered(self, outcome: Outcome) -> None:
        if (after_401 := self._after_401(outcome)) is not None and self._aread is not None:
            await self.aconnection(after_401)


def read_settings(conn_id: str, get_connection: Callable[[str], Any]) -> IcaSettings:
    """Read and check a connection, blocking (``get_connection``: the hook's)."""
    conn = get_connection(conn_id)
    return settings_from_connection(
        conn_id, host=conn.host, port=conn.port, password=conn.password, extra=conn.extra_dejson
    )


async def aread_settings(conn_id: str) -> IcaSettings:
    """Read and check a connection without blocking the event loop."""
    conn = await aget_connection(conn_id)
    return settings_from_connection(
        conn_id, host=conn.host, port=conn.port, password=conn.password, extra=await aextra_dejson(conn)
    )


@contextlib.contextmanager
def isolated_registry() -> Iterator[Registry]:
    """A fresh process-wide registry for the duration (tests)."""
    REGISTRY.clear()
    try:
        yield REGISTRY
    finally:
        REGISTRY.clear()
