"""``RetryPolicy``: which outcomes are retried, after how long, and ``IcaProtocol.send``."""

from __future__ import annotations

import itertools
import random
from email.utils import formatdate
from typing import Any

import pytest
from samples import BATCH_REQUEST, PROBLEM_JSON, PROJECT_ID, json_response, problem_body, raw_response

from ica_airflow_provider.core import operations as ops
from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.errors import IcaApiError, IcaConnectionError
from ica_airflow_provider.core.messages import Request, Response, TransportFailure
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy

NOW = 1_900_000_000.0
MAX_RETRIES = 3

GET = Request("GET", "/api/projects/p/analyses/a")
POST_NO_KEY = ops.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST)
POST_WITH_KEY = ops.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST, idempotency_key="k-1")


def policy(**kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("max_retries", MAX_RETRIES)
    kwargs.setdefault("rng", random.Random(1))
    kwargs.setdefault("now", lambda: NOW)
    return RetryPolicy(**kwargs)


def status(code: int, **headers: str) -> Response:
    return raw_response(code, b"", **headers)


def within_backoff(delay: float | None, attempt: int, base: float = 1.0, cap: float = 60.0) -> bool:
    step = min(cap, base * 2**attempt)
    return delay is not None and step / 2 <= delay <= step


# -- the decision table ---------------------------------------------------------------------------

RETRIED_STATUSES = {429, 500, 502, 503, 504}
ALL_STATUSES = [400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504]
FAILURES = [TransportFailure("connect", "refused"), TransportFailure("timeout", "ReadTimeout"),
            TransportFailure("protocol", "ChunkedEncodingError")]
REQUESTS = {"GET": GET, "POST-no-key": POST_NO_KEY, "POST-with-key": POST_WITH_KEY}
ATTEMPTS = [0, 1, MAX_RETRIES - 1, MAX_RETRIES, MAX_RETRIES + 1]


def expected_retry(request_name: str, outcome: Response | TransportFailure, attempt: int) -> bool:
    if attempt >= MAX_RETRIES or request_name == "POST-no-key":
        return False
    if isinstance(outcome, TransportFailure):
        return True
    if outcome.status in RETRIED_STATUSES:
        return True
    return outcome.status == 409 and request_name == "POST-with-key"


CASES = [
    pytest.param(name, outcome, attempt, id=f"{name}-{getattr(outcome, 'status', None) or outcome.kind}-a{attempt}")
    for name, outcome, attempt in itertools.product(
        REQUESTS, [status(s) for s in ALL_STATUSES] + FAILURES, ATTEMPTS
    )
]


@pytest.mark.parametrize(("request_name", "outcome", "attempt"), CASES)
def test_delay_decision_table(request_name: str, outcome: Any, attempt: int) -> None:
    delay = policy().delay(REQUESTS[request_name], outcome, attempt)

    if expected_retry(request_name, outcome, attempt):
        assert within_backoff(delay, attempt), delay
    else:
        assert delay is None


def test_request_retryable_flags_from_the_builders() -> None:
    assert POST_NO_KEY.retryable is False
    assert POST_WITH_KEY.retryable is True
    assert ops.get_analysis_creation_batch("p", "b").retryable is True
    assert ops.abort_analysis("p", "a").retryable is True
    assert ops.create_token("k").retryable is True


def test_409_without_key_header_is_not_retried_even_if_retryable() -> None:
    assert policy().delay(Request("POST", "/x", retryable=True), status(409), 0) is None


def test_409_with_key_but_not_retryable_is_not_retried() -> None:
    request = Request("POST", "/x", headers={"Idempotency-Key": "k"}, retryable=False)
    assert policy().delay(request, status(409), 0) is None


def test_zero_max_retries_never_retries() -> None:
    p = policy(max_retries=0)
    assert p.delay(GET, status(503), 0) is None
    assert p.delay(GET, FAILURES[0], 0) is None


# -- backoff ---------------------------------------------------------------------------------------


def test_backoff_equal_jitter_bounds_and_cap() -> None:
    p = policy(backoff_base=1.0, backoff_max=8.0, rng=random.Random(123))
    for attempt in range(12):
        step = min(8.0, 2.0**attempt)
        samples = [p.backoff(attempt) for _ in range(200)]
        assert all(step / 2 <= s <= step for s in samples), attempt
        assert max(samples) - min(samples) > step / 10  # jittered, not constant
    assert all(p.backoff(40) <= 8.0 for _ in range(50))


def test_backoff_base_scales_the_steps() -> None:
    p = policy(backoff_base=0.5, backoff_max=100.0)
    for attempt in range(5):
        step = 0.5 * 2**attempt
        assert step / 2 <= p.backoff(attempt) <= step


def test_backoff_draws_from_the_injected_rng() -> None:
    a = policy(rng=random.Random(7))
    b = policy(rng=random.Random(7))
    assert [a.backoff(i) for i in range(6)] == [b.backoff(i) for i in range(6)]


# -- Retry-After ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (" 12 ", 12.0),
        ("-5", 0.0),
        ("1000", 300.0),
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW - 90, usegmt=True), 0.0),
        (formatdate(NOW + 86_400, usegmt=True), 300.0),
        ("Fri, 31 Dec 1999 23:59:59 GMT", 0.0),
    ],
    ids=["seconds", "zero", "fraction", "spaces", "negative", "capped", "date", "past-date",
         "far-date-capped", "old-date"],
)
@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_honoured_on_429_and_503(header: str, expected: float, code: int) -> None:
    p = policy(retry_after_max=300.0)

    assert p.retry_after(status(code, **{"Retry-After": header})) == pytest.approx(expected)
    assert p.delay(GET, status(code, **{"Retry-After": header}), 0) == pytest.approx(expected)


def test_retry_after_header_name_is_case_insensitive() -> None:
    response = Response.build(429, {"RETRY-AFTER": "4"}, b"")
    assert policy().delay(GET, response, 0) == 4.0


@pytest.mark.parametrize("header", ["soon", "Wed, 99 Foo 2025 25:61:00 GMT", "5 seconds", "nan", "NaN", ""])
def test_garbage_retry_after_falls_back_to_backoff(header: str) -> None:
    p = policy()

    for attempt in range(MAX_RETRIES):
        delay = p.delay(GET, status(429, **{"Retry-After": header}), attempt)
        assert within_backoff(delay, attempt), (header, delay)


def test_missing_retry_after_falls_back_to_backoff() -> None:
    assert within_backoff(policy().delay(GET, status(429), 2), 2)
    assert policy().retry_after(status(429)) is None


@pytest.mark.parametrize("code", [500, 502, 504])
def test_retry_after_ignored_on_other_transient_statuses(code: int) -> None:
    delay = policy().delay(GET, status(code, **{"Retry-After": "100"}), 0)
    assert within_backoff(delay, 0)


def test_retry_after_does_not_extend_retries_or_override_non_retryable() -> None:
    header = {"Retry-After": "3"}
    assert policy().delay(GET, status(429, **header), MAX_RETRIES) is None
    assert policy().delay(POST_NO_KEY, status(503, **header), 0) is None


def test_retry_after_cap_is_configurable() -> None:
    assert policy(retry_after_max=30.0).delay(GET, status(429, **{"Retry-After": "31"}), 0) == 30.0


def test_policy_repr_has_no_rng_or_clock() -> None:
    text = repr(policy(max_retries=4))
    assert "max_retries=4" in text
    assert "Random" not in text and "lambda" not in text


# -- IcaProtocol.send under a policy ---------------------------------------------------------------------


class Script:
    """A fake transport answering with the given outcomes in order."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Request] = []

    def __call__(self, request: Request) -> Any:
        self.sent.append(request)
        return self.outcomes.pop(0)


def test_protocol_send_sleeps_between_retries_and_returns_the_success() -> None:
    protocol = IcaProtocol("key", policy(max_retries=3))
    transport = Script(status(502), FAILURES[1], status(429, **{"Retry-After": "9"}), json_response(200, {"a": 1}))
    sleeps: list[float] = []

    response = drive(protocol.send(GET), transport, sleeps.append)

    assert response.status == 200
    assert len(transport.sent) == 4
    assert len(sleeps) == 3
    assert within_backoff(sleeps[0], 0) and within_backoff(sleeps[1], 1)
    assert sleeps[2] == 9.0


def test_protocol_send_raises_connection_error_naming_request_and_attempts() -> None:
    protocol = IcaProtocol("key", policy(max_retries=2))
    transport = Script(*[TransportFailure("connect", "Connection refused")] * 3)
    sleeps: list[float] = []

    with pytest.raises(IcaConnectionError) as info:
        drive(protocol.send(GET), transport, sleeps.append)

    assert str(info.value) == (
        "ICA did not answer GET /api/projects/p/analyses/a after 3 attempt(s): connect: Connection refused"
    )
    assert len(sleeps) == 2


def test_protocol_send_raises_api_error_for_the_last_answer() -> None:
    protocol = IcaProtocol("key", policy(max_retries=1))
    transport = Script(status(503), json_response(503, problem_body(503, "ICA_DOWN", "maintenance"), PROBLEM_JSON))

    with pytest.raises(IcaApiError) as info:
        drive(protocol.send(GET), transport, lambda s: None)

    assert (info.value.status, info.value.title, info.value.detail) == (503, "ICA_DOWN", "maintenance")
