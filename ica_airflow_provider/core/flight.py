"""Single-flight minting: of the calls that need a token at once, one mints, the rest wait.

Sans-IO like the rest of the core: a call that finds a mint in flight yields
:class:`AwaitToken`; the driver parks it with a gate from
:mod:`ica_airflow_provider.core.gate` until that mint is over, then resumes it with ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from ica_airflow_provider.core.auth import MINT_LEASE_SECONDS, Grant, TokenCache
from ica_airflow_provider.core.messages import Action, AwaitToken, Outcome, Request

__all__ = ["AwaitToken", "Mint", "authorized", "fresh_token"]

# The shape of ``protocol.Call``, spelt out here because the protocol will import this module.
Mint = Generator[Action, Outcome | None, str]


def fresh_token(
    tokens: TokenCache, mint: Callable[[], Mint], lease_seconds: float = MINT_LEASE_SECONDS
) -> Generator[Action, Outcome | None, Grant]:
    """The token for the next attempt: the cached one, one this call mints, or one it awaits.

    ``mint`` returns a new token and does not store it. When the mint being waited for
    fails, every waiter raises the same error: the minter already spent the retries. A
    minter that vanishes without an error (cancelled, or its lease expired) leaves the
    next waiter to mint.
    """
    while True:
        grant = tokens.grant()
        if grant is not None:
            return grant
        lease, mine = tokens.acquire(lease_seconds)
        if not mine:
            yield AwaitToken(tokens.lease_left(lease), tokens, lease)
            error = tokens.failure(lease)
            if error is not None:
                raise error.with_traceback(None)
            continue
        try:
            token = yield from mint()
        except Exception as exc:
            tokens.release(lease, exc)
            raise
        except BaseException:  # cancelled: not an error to hand to the waiters
            tokens.release(lease)
            raise
        tokens.store(token)
        # Read after storing: only a 401 or an expired lease can slip in between, and the
        # worst that does is one extra mint.
        grant = Grant(token, tokens.generation)
        tokens.release(lease)
        return grant


def authorized(
    tokens: TokenCache, mint: Callable[[], Mint], request: Request, lease_seconds: float = MINT_LEASE_SECONDS
) -> Generator[Action, Outcome | None, tuple[Request, Grant]]:
    """``request`` with a bearer token fresh for this attempt, and the grant (for a 401).

    Call it before every attempt, retries after a backoff sleep included: a token that
    expired during the sleep is replaced before it is sent.
    """
    grant = yield from fresh_token(tokens, mint, lease_seconds)
    return request.with_headers(Authorization=grant.authorization), grant
