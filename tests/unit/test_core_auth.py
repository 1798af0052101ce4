"""``jwt_expiry`` and ``TokenCache`` with an injected clock; ``IcaProtocol`` token use."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca, make_jwt

from ica_airflow_provider.core import auth
from ica_airflow_provider.core.auth import (
    CLAIM_RESOLUTION_SECONDS,
    FALLBACK_LIFETIME_SECONDS,
    REMINT_LEAD_SECONDS,
    TokenCache,
)
from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.messages import Request
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy

NOW = 1_900_000_000.0


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim as the cache reads it (a test's view of ``auth._claims``)."""
    return auth._number(auth._claims(token), "exp")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_with_payload(payload: bytes) -> str:
    return f"{_b64(b'{}')}.{_b64(payload)}.sig"


# -- jwt_expiry ----------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [NOW, NOW + 1, 1_700_000_000, 1_700_000_000.5])
def test_jwt_expiry_reads_exp(exp: float) -> None:
    assert jwt_expiry(make_jwt(exp=exp)) == float(exp)


@pytest.mark.parametrize("pad", ["", "x", "xy", "xyz"])
def test_jwt_expiry_handles_every_unpadded_payload_length(pad: str) -> None:
    # Different claim lengths give payloads of every length modulo 4.
    token = make_jwt(exp=NOW, sub=f"user-{pad}")
    assert jwt_expiry(token) == NOW


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "only.two",
        "a..c",
        "a.!!!!.c",
        "a.%%%%.c",
        token_with_payload(b"not json"),
        token_with_payload(b"\xff\xfe\x00garbage"),
        token_with_payload(b"[1, 2, 3]"),
        token_with_payload(b'"a string"'),
        token_with_payload(b"null"),
        token_with_payload(b"{}"),
        token_with_payload(b'{"exp": "1900000000"}'),
        token_with_payload(b'{"exp": null}'),
        token_with_payload(b'{"exp": [1]}'),
        make_jwt(lifetime=None),
    ],
)
def test_jwt_expiry_is_none_for_garbage(token: str) -> None:
    assert jwt_expiry(token) is None


# -- TokenCache: judged by the token's own lifetime ------------------------------------------------


def jwt(lifetime: float = 3600, iat: float = NOW, **claims: Any) -> str:
    """A token ICA minted at ``iat`` (ICA's clock) that lives ``lifetime`` seconds."""
    return make_jwt(exp=iat + lifetime, iat=iat, **claims)


def test_empty_cache_needs_a_mint() -> None:
    cache = TokenCache(now=Clock())
    assert cache.valid() is False
    assert cache.token is None
    assert cache.grant() is None


def test_long_lived_token_valid_until_lead_before_its_lifetime_ends() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    token = jwt(3600)
    usable = 3600 - CLAIM_RESOLUTION_SECONDS  # whole-second claims: iat may be up to 1 s early

    cache.store(token)

    assert cache.valid() and cache.token == token
    clock.now = NOW + usable - REMINT_LEAD_SECONDS - 0.1
    assert cache.token == token
    clock.now = NOW + usable - REMINT_LEAD_SECONDS
    assert cache.valid() is False
    assert cache.token is None
    clock.now = NOW + 3600 + 1
    assert cache.token is None


def test_whole_second_claims_lose_a_second_fractional_ones_do_not() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    cache.store(make_jwt(exp=NOW + 0.5 + 1000, iat=NOW + 0.5))  # lead 60: refresh at 940
    clock.now = NOW + 939.9
    assert cache.valid()
    clock.now = NOW + 940
    assert not cache.valid()

    cache.store(make_jwt(exp=NOW + 1000, iat=NOW))  # stored at NOW + 940; lasts 999: refresh 939 s on
    clock.now = NOW + 939 + 938.9
    assert cache.valid()
    clock.now = NOW + 940 + 939
    assert not cache.valid()


def test_lead_is_sixty_seconds() -> None:
    assert REMINT_LEAD_SECONDS == 60.0


def test_short_lived_token_uses_a_tenth_of_its_lifetime_as_lead() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    token = jwt(101)  # 100 s usable (whole-second claims); lead = min(60, 100 / 10) = 10 s

    cache.store(token)

    clock.now = NOW + 89.9
    assert cache.token == token
    clock.now = NOW + 90
    assert cache.token is None


@pytest.mark.parametrize("skew", [-6 * 3600, -3000, 3000, 6 * 3600, 400 * 86_400])
def test_lifetime_counts_from_the_local_time_of_storing_whatever_the_skew(skew: float) -> None:
    # ICA minted at NOW by its clock; the local clock reads NOW + skew. Neither an
    # immediate re-mint (clock ahead) nor a token kept past its life (clock behind).
    clock = Clock(NOW + skew)
    cache = TokenCache(now=clock)
    token = jwt(3600)

    cache.store(token)

    assert cache.token == token
    clock.now = NOW + skew + 3538.9  # 3600 - 1 (whole seconds) - 60 (lead)
    assert cache.token == token
    clock.now = NOW + skew + 3539
    assert cache.token is None


def test_a_later_store_counts_from_its_own_time() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    cache.store(jwt(3600))
    clock.now = NOW + 3000
    cache.store(jwt(3600, iat=NOW + 3000, jti="2"))

    clock.now = NOW + 3000 + 3538.9
    assert cache.valid()
    clock.now = NOW + 3000 + 3539
    assert not cache.valid()


def test_by_default_lifetimes_run_on_the_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    wall, mono = Clock(NOW), Clock(500.0)
    monkeypatch.setattr(auth.time, "time", wall)
    monkeypatch.setattr(auth.time, "monotonic", mono)
    cache = TokenCache()
    cache.store(jwt(3600))

    wall.now = NOW - 6 * 3600  # the wall clock is stepped back by hours: no matter
    mono.now = 500 + 3538.9
    assert cache.valid()
    mono.now = 500 + 3539
    assert not cache.valid()

    wall.now = NOW
    cache.store(make_jwt(exp=NOW + 1000, iat=None))  # no iat: exp is read on the wall clock
    mono.now += 939.9
    assert cache.valid()
    mono.now += 0.1
    assert not cache.valid()


@pytest.mark.parametrize("lifetime", [0, -5, -3600])
def test_token_expired_by_its_own_claims_is_not_valid(lifetime: float) -> None:
    cache = TokenCache(now=Clock())
    cache.store(jwt(lifetime))
    assert cache.valid() is False
    assert cache.token is None


def test_without_iat_the_local_clock_judges_exp() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    token = make_jwt(exp=NOW + 1000, iat=None)  # iat=None: a null claim, as if absent

    cache.store(token)

    clock.now = NOW + 1000 - REMINT_LEAD_SECONDS - 0.1
    assert cache.token == token
    clock.now = NOW + 1000 - REMINT_LEAD_SECONDS
    assert cache.token is None


def test_without_iat_an_exp_in_the_local_past_gets_the_fallback_lifetime() -> None:
    # ICA has just minted it, so the local clock is ahead: use it for a while rather
    # than minting again on every call (a 401 would still replace it).
    clock = Clock()
    cache = TokenCache(now=clock)
    token = make_jwt(exp=NOW - 7200, iat=None)

    cache.store(token)

    lead = min(REMINT_LEAD_SECONDS, FALLBACK_LIFETIME_SECONDS / 10)
    clock.now = NOW + FALLBACK_LIFETIME_SECONDS - lead - 0.1
    assert cache.token == token
    clock.now = NOW + FALLBACK_LIFETIME_SECONDS - lead
    assert cache.token is None


@pytest.mark.parametrize("iat", ['"yesterday"', "true", "[1]"])
def test_unreadable_iat_counts_as_missing(iat: str) -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    cache.store(token_with_payload(f'{{"exp": {NOW + 1000}, "iat": {iat}}}'.encode()))

    clock.now = NOW + 939.9
    assert cache.valid()
    clock.now = NOW + 940
    assert not cache.valid()


def test_token_without_exp_is_used_until_cleared() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    cache.store("opaque-token-without-claims")

    clock.now = NOW + 10 * 365 * 86_400
    assert cache.token == "opaque-token-without-claims"
    cache.clear()
    assert cache.token is None
    assert cache.valid() is False


def test_clear_and_store_replace_the_token() -> None:
    cache = TokenCache(now=Clock())
    first, second = jwt(3600, jti="1"), jwt(7200, jti="2")
    cache.store(first)
    cache.clear()
    assert cache.token is None
    cache.store(second)
    assert cache.token == second
    cache.store(first)
    assert cache.token == first


def test_every_store_and_clear_is_a_new_generation() -> None:
    cache = TokenCache(now=Clock())
    seen = [cache.generation]
    cache.store(jwt(jti="1"))
    seen.append(cache.generation)
    cache.store(jwt(jti="2"))
    seen.append(cache.generation)
    cache.clear()
    seen.append(cache.generation)
    assert len(set(seen)) == 4
    assert seen == sorted(seen)


def test_grant_carries_the_token_and_its_generation() -> None:
    cache = TokenCache(now=Clock())
    token = jwt()
    cache.store(token)

    grant = cache.grant()

    assert grant is not None
    assert (grant.token, grant.generation) == (token, cache.generation)
    assert grant.authorization == f"Bearer {token}"
    assert token not in repr(grant)


def test_reject_drops_only_the_generation_that_was_refused() -> None:
    cache = TokenCache(now=Clock())
    cache.store(jwt(jti="old"))
    stale = cache.grant()
    assert stale is not None
    fresh = jwt(jti="new")
    cache.store(fresh)  # another caller already replaced it

    assert cache.reject(stale.generation) is False
    assert cache.token == fresh

    current = cache.grant()
    assert current is not None
    assert cache.reject(current.generation) is True
    assert cache.token is None


def test_cache_repr_hides_the_token() -> None:
    cache = TokenCache(now=Clock())
    token = jwt()
    cache.store(token)
    text = repr(cache)
    assert token not in text
    assert token.split(".")[1] not in text
    assert "valid=True" in text


# -- the mint lease ------------------------------------------------------------------------------


def test_one_lease_at_a_time_until_released() -> None:
    cache = TokenCache(now=Clock())
    lease, mine = cache.acquire(30)
    other, theirs = cache.acquire(30)

    assert mine and not theirs
    assert other is lease
    assert not cache.settled(lease)

    cache.release(lease)

    assert cache.settled(lease)
    again, mine_again = cache.acquire(30)
    assert mine_again and again is not lease


def test_a_lease_expires_if_its_holder_vanished() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    lease, _ = cache.acquire(30)
    clock.now = NOW + 29.9
    assert cache.lease_left(lease) == pytest.approx(0.1)
    assert cache.acquire(30) == (lease, False)

    clock.now = NOW + 30
    taken, mine = cache.acquire(30)

    assert mine and taken is not lease
    cache.release(lease, RuntimeError("late"))  # the old holder's release changes nothing
    assert not cache.settled(taken)
    assert cache.failure(taken) is None


def test_storing_a_token_settles_the_lease_for_its_waiters() -> None:
    cache = TokenCache(now=Clock())
    lease, _ = cache.acquire()
    cache.store(jwt())
    assert cache.settled(lease)


def test_a_failed_mint_is_told_to_its_waiters_only() -> None:
    cache = TokenCache(now=Clock())
    first, _ = cache.acquire()
    error = RuntimeError("no mint")
    cache.release(first, error)
    second, _ = cache.acquire()

    assert cache.failure(first) is error
    assert cache.failure(second) is None


def test_watchers_hear_of_every_change_until_they_stop() -> None:
    cache = TokenCache(now=Clock())
    calls: list[str] = []
    with cache.watch(lambda: calls.append("w")):
        cache.store(jwt())
        lease, _ = cache.acquire()
        cache.release(lease)
        cache.clear()
    cache.store(jwt())
    assert calls == ["w", "w", "w"]


# -- the protocol's use of the cache -------------------------------------------------------------


def _api_call(protocol: IcaProtocol, fake: FakeIca) -> Any:
    return drive(protocol.get_analysis_creation_batch_items(PROJECT_ID, BATCH_ID), fake.send, lambda s: None)


def test_protocol_mints_with_the_key_then_uses_bearer() -> None:
    clock = Clock()
    fake = FakeIca()
    fake.jwt = jwt(3600)
    seen: list[str] = []
    protocol = IcaProtocol("the-key", RetryPolicy(max_retries=0), TokenCache(now=clock), on_token=seen.append)

    _api_call(protocol, fake)
    _api_call(protocol, fake)

    mints = [r for r in fake.requests if r.path == "/api/tokens"]
    assert len(mints) == 1
    assert mints[0].headers["X-API-Key"] == "the-key"
    assert seen == [fake.jwt]  # handed to the secrets masker once
    for request in fake.api_requests():
        assert request.headers["Authorization"] == f"Bearer {fake.jwt}"
        assert "X-API-Key" not in request.headers

    clock.now = NOW + 3590  # inside the lead: the next call mints again
    _api_call(protocol, fake)
    assert len([r for r in fake.requests if r.path == "/api/tokens"]) == 2


def test_protocol_repr_hides_key_and_token() -> None:
    fake = FakeIca()
    protocol = IcaProtocol("the-key-123", RetryPolicy(max_retries=0))
    _api_call(protocol, fake)
    assert "the-key-123" not in repr(protocol)
    assert fake.jwt not in repr(protocol)


def test_request_repr_never_shows_headers() -> None:
    request = Request("GET", "/api/x", headers={"Authorization": "Bearer secret.jwt.value", "X-API-Key": "k3y"})
    text = repr(request.with_headers(Idempotency_Key="abc"))
    assert "secret.jwt.value" not in text and "k3y" not in text
    assert "GET /api/x" in text
    assert request.with_headers(Idempotency_Key="abc").headers["Idempotency-Key"] == "abc"

