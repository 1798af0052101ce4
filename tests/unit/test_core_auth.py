"""``jwt_expiry`` and ``TokenCache`` with an injected clock; ``IcaProtocol`` token use."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca, make_jwt

from ica_airflow_provider.core.auth import REMINT_LEAD_SECONDS, TokenCache, jwt_expiry
from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.messages import Request
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy

NOW = 1_900_000_000.0


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


# -- TokenCache ----------------------------------------------------------------------------------


def test_empty_cache_needs_a_mint() -> None:
    cache = TokenCache(now=Clock())
    assert cache.valid() is False
    assert cache.token is None


def test_long_lived_token_valid_until_lead_before_exp() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    jwt = make_jwt(exp=NOW + 3600)

    cache.store(jwt)

    assert cache.valid() and cache.token == jwt
    clock.now = NOW + 3600 - REMINT_LEAD_SECONDS - 1
    assert cache.token == jwt
    clock.now = NOW + 3600 - REMINT_LEAD_SECONDS
    assert cache.valid() is False
    assert cache.token is None
    clock.now = NOW + 3600 + 1
    assert cache.token is None


def test_lead_is_sixty_seconds() -> None:
    assert REMINT_LEAD_SECONDS == 60.0


def test_short_lived_token_uses_a_tenth_of_its_lifetime_as_lead() -> None:
    clock = Clock()
    cache = TokenCache(now=clock)
    jwt = make_jwt(exp=NOW + 100)  # lead = min(60, 100 / 10) = 10 s

    cache.store(jwt)

    clock.now = NOW + 89.9
    assert cache.token == jwt
    clock.now = NOW + 90
    assert cache.token is None


def test_lead_follows_the_lifetime_left_at_store_time() -> None:
    clock = Clock(NOW + 3000)
    cache = TokenCache(now=clock)
    cache.store(make_jwt(exp=NOW + 3600))  # 600 s left: lead 60

    clock.now = NOW + 3539
    assert cache.valid()
    clock.now = NOW + 3540
    assert not cache.valid()


def test_already_expired_token_is_not_valid() -> None:
    cache = TokenCache(now=Clock())
    cache.store(make_jwt(exp=NOW - 5))
    assert cache.valid() is False
    assert cache.token is None


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
    first, second = make_jwt(exp=NOW + 3600, jti="1"), make_jwt(exp=NOW + 7200, jti="2")
    cache.store(first)
    cache.clear()
    assert cache.token is None
    cache.store(second)
    assert cache.token == second
    cache.store(first)
    assert cache.token == first


def test_cache_repr_hides_the_token() -> None:
    cache = TokenCache(now=Clock())
    jwt = make_jwt(exp=NOW + 3600)
    cache.store(jwt)
    text = repr(cache)
    assert jwt not in text
    assert jwt.split(".")[1] not in text
    assert "valid=True" in text


# -- the protocol's use of the cache -------------------------------------------------------------


def _api_call(protocol: IcaProtocol, fake: FakeIca) -> Any:
    return drive(protocol.get_analysis_creation_batch_items(PROJECT_ID, BATCH_ID), fake.send, lambda s: None)


def test_protocol_mints_with_the_key_then_uses_bearer() -> None:
    clock = Clock()
    fake = FakeIca()
    fake.jwt = make_jwt(exp=NOW + 3600)
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

