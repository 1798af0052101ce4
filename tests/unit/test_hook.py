"""``IcaHook`` and its requests transport, against requests-mock: what goes on the wire.

Tokens, media types, paging, the requests failure kinds, timeouts and secrets as the
transport sees them. The rules themselves (retry decisions, backoff, ``Retry-After``,
error mapping, token lifetimes) are the core's, tested on canned samples in ``test_core_*``.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest
import requests
from samples import (
    API_KEY,
    BASE_URL,
    BATCH_ID,
    BATCH_ITEMS_PATH,
    BATCH_PATH,
    BATCH_REQUEST,
    CONN_ID,
    HTML_502,
    PROBLEM_JSON,
    PROJECT_ID,
    TOKEN_PATH,
    V3,
    V4,
    analysis_body,
    batch_body,
    item_body,
    make_jwt,
    outputs_body,
    page_body,
    problem_body,
    query_pairs,
    raw_query,
    request_path,
    set_connection,
    token_body,
    url,
)

from ica_airflow_provider.core.errors import IcaApiError, IcaConnectionError
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.hooks.ica import IcaHook

BATCH_URL = url(f"{BATCH_PATH}/{BATCH_ID}")
ITEMS_URL = url(BATCH_ITEMS_PATH)
ITEM_ID = "1c1b9f5e-2a4d-4d8e-9f0a-6b7c8d9e0f11"
ANALYSIS_ID = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
GET_BATCH = f"GET {BATCH_PATH}/{BATCH_ID}"


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # No request budget: the recorded sleeps are the retries' (pacing is tested in test_shared_clients.py).
    set_connection(monkeypatch, extra={"project_id": PROJECT_ID, "max_requests_per_second": 0})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hook's sleeps, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("ica_airflow_provider.hooks.ica.time.sleep", recorded.append)
    return recorded


@pytest.fixture
def jwt() -> str:
    return make_jwt(lifetime=3600)


@pytest.fixture
def mint(requests_mock: Any, jwt: str) -> Any:
    return requests_mock.post(url(TOKEN_PATH), json=token_body(jwt), headers={"Content-Type": V3})


def make_hook(**policy: Any) -> IcaHook:
    policy.setdefault("max_retries", 3)
    policy.setdefault("rng", random.Random(0))
    return IcaHook(CONN_ID, retry_policy=RetryPolicy(**policy))


def token_requests(requests_mock: Any) -> list[Any]:
    return [r for r in requests_mock.request_history if request_path(r) == TOKEN_PATH]


def api_requests(requests_mock: Any) -> list[Any]:
    return [r for r in requests_mock.request_history if request_path(r) != TOKEN_PATH]


def described(requests_mock: Any) -> list[str]:
    return [f"{r.method} {request_path(r)}" for r in requests_mock.request_history]


def problem(status: int, **kwargs: Any) -> dict[str, Any]:
    return {
        "status_code": status,
        "json": problem_body(status, **kwargs),
        "headers": {"Content-Type": PROBLEM_JSON},
    }


def ok_batch(status: int = 200) -> dict[str, Any]:
    return {"status_code": status, "json": batch_body(), "headers": {"Content-Type": V3}}


def backoff_bounds(attempt: int, base: float = 1.0, cap: float = 60.0) -> tuple[float, float]:
    step = min(cap, base * 2**attempt)
    return step / 2, step


# -- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mint_status", [200, 201])
def test_token_minted_once_with_api_key_and_reused(requests_mock: Any, jwt: str, mint_status: int) -> None:
    requests_mock.post(url(TOKEN_PATH), status_code=mint_status, json=token_body(jwt))
    requests_mock.get(BATCH_URL, json=batch_body())
    requests_mock.get(url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}"),
                      json=analysis_body(ANALYSIS_ID, "IN_PROGRESS"))
    requests_mock.post(url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}:abort"), status_code=204)
    hook = make_hook()

    assert hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID).id == BATCH_ID
    assert hook.get_analysis(PROJECT_ID, ANALYSIS_ID).status == "IN_PROGRESS"
    hook.abort_analysis(PROJECT_ID, ANALYSIS_ID)

    mints = token_requests(requests_mock)
    assert len(mints) == 1
    assert mints[0].method == "POST"
    assert mints[0].headers["X-API-Key"] == API_KEY
    assert "Authorization" not in mints[0].headers
    assert requests_mock.request_history[0] is mints[0]  # minted before the first call
    calls = api_requests(requests_mock)
    assert len(calls) == 3
    for call in calls:
        assert call.headers["Authorization"] == f"Bearer {jwt}"
        assert "X-API-Key" not in call.headers
        assert API_KEY not in json.dumps(dict(call.headers))


def test_token_reminted_once_after_401_then_call_succeeds(requests_mock: Any, sleeps: list[float]) -> None:
    revoked, fresh = make_jwt(jti="old"), make_jwt(jti="new")
    requests_mock.post(url(TOKEN_PATH), [{"json": token_body(revoked)}, {"json": token_body(fresh)}])
    requests_mock.get(BATCH_URL, [problem(401, title="ICA_AUTH_001", detail="JWT expired"), ok_batch()])
    hook = make_hook()

    batch = hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert batch.id == BATCH_ID
    assert described(requests_mock) == [f"POST {TOKEN_PATH}", GET_BATCH, f"POST {TOKEN_PATH}", GET_BATCH]
    bearers = [r.headers["Authorization"] for r in api_requests(requests_mock)]
    assert bearers == [f"Bearer {revoked}", f"Bearer {fresh}"]
    assert sleeps == []


def test_second_401_raises_instead_of_looping(requests_mock: Any, mint: Any, sleeps: list[float]) -> None:
    requests_mock.get(BATCH_URL, **problem(401, title="ICA_AUTH_001", detail="Unauthorized"))
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert info.value.status == 401
    assert described(requests_mock) == [f"POST {TOKEN_PATH}", GET_BATCH, f"POST {TOKEN_PATH}", GET_BATCH]
    assert sleeps == []


def test_401_on_the_mint_itself_raises_at_once(requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.post(url(TOKEN_PATH), **problem(401, title="ICA_AUTH_002", detail="Invalid API key"))
    requests_mock.get(BATCH_URL, json=batch_body())
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert info.value.status == 401
    assert info.value.path == TOKEN_PATH
    assert described(requests_mock) == [f"POST {TOKEN_PATH}"]
    assert sleeps == []


# -- media types and bodies ------------------------------------------------------------------------


def test_create_batch_sends_v3_media_types_exact_body_and_idempotency_key(
    requests_mock: Any, mint: Any
) -> None:
    post = requests_mock.post(url(BATCH_PATH), status_code=201, json=batch_body(job_status="INITIALIZED"))
    hook = make_hook()

    batch = hook.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST, idempotency_key="dag-run-42")

    assert batch.id == BATCH_ID
    assert batch.job is not None and batch.job.status == "INITIALIZED"
    assert post.call_count == 1
    sent = post.last_request
    assert sent.method == "POST"
    assert sent.headers["Accept"] == V3
    assert sent.headers["Content-Type"] == V3
    assert sent.headers["Idempotency-Key"] == "dag-run-42"
    assert json.loads(sent.body) == BATCH_REQUEST


def test_create_batch_without_key_sends_no_idempotency_header(requests_mock: Any, mint: Any) -> None:
    post = requests_mock.post(url(BATCH_PATH), status_code=201, json=batch_body())
    hook = make_hook()

    hook.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST)

    sent = post.last_request
    assert "Idempotency-Key" not in sent.headers
    assert sent.headers["Content-Type"] == V3
    assert json.loads(sent.body) == BATCH_REQUEST


def test_get_batch_accepts_v3(requests_mock: Any, mint: Any) -> None:
    get = requests_mock.get(BATCH_URL, json=batch_body(job_status="SUCCEEDED"))
    hook = make_hook()

    batch = hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert batch.job is not None and batch.job.status == "SUCCEEDED"
    assert get.last_request.headers["Accept"] == V3


@pytest.mark.parametrize("operation", ["items", "item", "analysis"])
def test_items_item_and_analysis_accept_v4(requests_mock: Any, mint: Any, operation: str) -> None:
    analysis = analysis_body(ANALYSIS_ID, "IN_PROGRESS")
    item = item_body(ITEM_ID, "sample-1", "SUCCEEDED", analysis)
    items = requests_mock.get(ITEMS_URL, json=page_body([item], None))
    one = requests_mock.get(url(f"{BATCH_ITEMS_PATH}/{ITEM_ID}"), json=item)
    get_analysis = requests_mock.get(url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}"), json=analysis)
    hook = make_hook()

    if operation == "items":
        result = list(hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID))
        assert [i.id for i in result] == [ITEM_ID]
        matcher = items
    elif operation == "item":
        got = hook.get_analysis_creation_batch_item(PROJECT_ID, BATCH_ID, ITEM_ID)
        assert got.created_analysis is not None and got.created_analysis.id == ANALYSIS_ID
        matcher = one
    else:
        assert hook.get_analysis(PROJECT_ID, ANALYSIS_ID).id == ANALYSIS_ID
        matcher = get_analysis

    assert matcher.call_count == 1
    assert matcher.last_request.headers["Accept"] == V4


def test_analysis_outputs_accept_v3_retried_and_typed(
    requests_mock: Any, mint: Any, sleeps: list[float]
) -> None:
    outputs = requests_mock.get(
        url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}/outputs"),
        [problem(503), {"json": outputs_body(ANALYSIS_ID, files=2), "headers": {"Content-Type": V3}}],
    )
    hook = make_hook()

    result = hook.get_analysis_outputs(PROJECT_ID, ANALYSIS_ID)

    assert outputs.call_count == 2  # the 503 was retried, as for every call
    assert len(sleeps) == 1
    assert outputs.last_request.headers["Accept"] == V3
    assert outputs.last_request.headers["Authorization"].startswith("Bearer ")
    [output] = result.items
    assert output.code == "output"
    [folder] = output.data or []
    assert (folder.data_id, folder.data_type) == (f"fol.{ANALYSIS_ID}", "FOLDER")
    assert [c.name for c in folder.children or []] == ["out0.bam", "out1.bam"]


def test_analysis_outputs_errors_name_the_call(requests_mock: Any, mint: Any) -> None:
    requests_mock.get(
        url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}/outputs"), **problem(404, title="ICA_NOT_FOUND")
    )
    with pytest.raises(IcaApiError) as info:
        make_hook().get_analysis_outputs(PROJECT_ID, ANALYSIS_ID)
    assert info.value.status == 404
    assert f"analyses/{ANALYSIS_ID}/outputs" in str(info.value)


# -- paging ------------------------------------------------------------------------------------


def _paged(pages: dict[str | None, tuple[list[str], str | None]]) -> Any:
    """A requests-mock callback serving ``pages[pageToken] = (item ids, nextPageToken)``."""

    calls = []

    def callback(request: Any, context: Any) -> dict[str, Any]:
        calls.append(request)
        assert len(calls) <= 2 * len(pages), "the hook keeps asking for pages"
        token = dict(query_pairs(request)).get("pageToken")
        ids, nxt = pages[token]
        context.headers["Content-Type"] = V4
        return page_body([item_body(i, f"ref-{i}", "RUNNING") for i in ids], nxt)

    return callback


@pytest.mark.parametrize("last_token", [None, ""], ids=["null-token", "empty-token"])
def test_iter_items_walks_cursor_pages_until_token_runs_out(
    requests_mock: Any, mint: Any, last_token: str | None
) -> None:
    pages = {
        None: (["i1", "i2"], "Cursor-B"),
        "Cursor-B": (["i3", "i4"], "Cursor-C"),
        "Cursor-C": (["i5"], last_token),
    }
    get = requests_mock.get(ITEMS_URL, json=_paged(pages))
    hook = make_hook()

    items = list(hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID, page_size=2))

    assert [i.id for i in items] == ["i1", "i2", "i3", "i4", "i5"]
    assert get.call_count == 3
    sent = [dict(query_pairs(r)) for r in get.request_history]
    assert [q.get("pageToken") for q in sent] == [None, "Cursor-B", "Cursor-C"]
    assert all(q["pageSize"] == "2" for q in sent)


def test_iter_items_sends_default_page_size(requests_mock: Any, mint: Any) -> None:
    get = requests_mock.get(ITEMS_URL, json=page_body([], None))
    hook = make_hook()

    assert list(hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID)) == []

    assert dict(query_pairs(get.last_request))["pageSize"] == "1000"


def test_status_filter_sent_as_repeated_params(requests_mock: Any, mint: Any) -> None:
    get = requests_mock.get(ITEMS_URL, json=_paged({None: (["i1"], "T2"), "T2": (["i2"], None)}))
    hook = make_hook()

    items = list(
        hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID, statuses=["RUNNING", "FAILED"], page_size=5)
    )

    assert [i.id for i in items] == ["i1", "i2"]
    for request in get.request_history:  # every page keeps the filter
        assert "status=RUNNING&status=FAILED" in raw_query(request)
        assert [v for k, v in query_pairs(request) if k == "status"] == ["RUNNING", "FAILED"]


def test_invalid_status_filter_raises_before_any_request(requests_mock: Any, mint: Any) -> None:
    hook = make_hook()

    with pytest.raises(ValueError, match="BOGUS"):
        list(hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID, statuses=["RUNNING", "BOGUS"]))

    assert requests_mock.call_count == 0


# -- retries -------------------------------------------------------------------------------------


def test_gives_up_after_max_retries_on_a_server_error(requests_mock: Any, mint: Any, sleeps: list[float]) -> None:
    get = requests_mock.get(BATCH_URL, **problem(503, title="ICA_UNAVAILABLE", detail="try later"))
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert info.value.status == 503
    assert get.call_count == 4  # the first attempt and max_retries=3 retries
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (requests.exceptions.ConnectionError, "connect"),
        (requests.exceptions.ReadTimeout, "timeout"),
        (requests.exceptions.ConnectTimeout, "timeout"),
    ],
)
def test_transport_failures_retried_then_connection_error(
    requests_mock: Any, mint: Any, sleeps: list[float], exc: type[Exception], kind: str
) -> None:
    get = requests_mock.get(BATCH_URL, exc=exc)
    hook = make_hook()

    with pytest.raises(IcaConnectionError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    message = str(info.value)
    assert GET_BATCH in message
    assert "4 attempt" in message
    assert kind in message
    assert get.call_count == 4
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        low, high = backoff_bounds(attempt)
        assert low <= slept <= high


@pytest.mark.parametrize("exc", [requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout])
def test_transport_failure_then_success(requests_mock: Any, mint: Any, sleeps: list[float], exc: Any) -> None:
    get = requests_mock.get(BATCH_URL, [{"exc": exc}, ok_batch()])
    hook = make_hook()

    assert hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID).id == BATCH_ID
    assert get.call_count == 2
    assert len(sleeps) == 1


def test_batch_post_without_key_is_not_retried_on_409(requests_mock: Any, mint: Any, sleeps: list[float]) -> None:
    post = requests_mock.post(url(BATCH_PATH), [problem(409), {"status_code": 201, "json": batch_body()}])
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST)

    assert info.value.status == 409
    assert post.call_count == 1


@pytest.mark.parametrize("first_status", [503, 409])
def test_batch_post_with_key_is_retried(
    requests_mock: Any, mint: Any, sleeps: list[float], first_status: int
) -> None:
    post = requests_mock.post(
        url(BATCH_PATH), [problem(first_status), {"status_code": 201, "json": batch_body()}]
    )
    hook = make_hook()

    batch = hook.create_analysis_creation_batch(PROJECT_ID, BATCH_REQUEST, idempotency_key="key-7")

    assert batch.id == BATCH_ID
    assert post.call_count == 2
    assert len(sleeps) == 1
    first, second = post.request_history
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "key-7"
    assert first.body == second.body
    assert json.loads(second.body) == BATCH_REQUEST


# -- error mapping --------------------------------------------------------------------------------


def test_html_502_after_retries_is_a_readable_api_error(
    requests_mock: Any, mint: Any, sleeps: list[float]
) -> None:
    get = requests_mock.get(
        BATCH_URL, status_code=502, text=HTML_502, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert get.call_count == 4
    message = str(info.value)
    assert info.value.status == 502
    assert "non-JSON" in message
    assert "text/html" in message
    assert "502 Bad Gateway" in message
    assert GET_BATCH in message
    assert "\n" not in message  # the page is squeezed onto one line


def test_truncated_json_from_the_token_endpoint_is_an_api_error(requests_mock: Any) -> None:
    requests_mock.post(url(TOKEN_PATH), status_code=200, text='{"token": "eyJhbGciOi')
    hook = make_hook()

    with pytest.raises(IcaApiError) as info:
        hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert info.value.path == TOKEN_PATH


# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"project_id": PROJECT_ID, "timeout": [5, 30]}, (5.0, 30.0)),
        ({"project_id": PROJECT_ID, "timeout": "[3, 45]"}, (3.0, 45.0)),
        ({"project_id": PROJECT_ID}, (10.0, 60.0)),
    ],
    ids=["list", "json-text", "default"],
)
def test_requests_carry_connect_and_read_timeouts(
    requests_mock: Any, mint: Any, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], expected: Any
) -> None:
    set_connection(monkeypatch, extra=extra)
    requests_mock.get(BATCH_URL, json=batch_body())
    hook = make_hook()

    hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert requests_mock.call_count == 2
    for request in requests_mock.request_history:  # the mint as well as the call
        assert tuple(request.timeout) == expected


def test_host_with_port_and_https_default(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, host="ica.example.test", port=8443)
    jwt = make_jwt()
    requests_mock.post(f"https://ica.example.test:8443/ica/rest{TOKEN_PATH}", json=token_body(jwt))
    get = requests_mock.get(f"https://ica.example.test:8443/ica/rest{BATCH_PATH}/{BATCH_ID}", json=batch_body())
    hook = make_hook()

    hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    assert get.call_count == 1


# -- secrets ---------------------------------------------------------------------------------------


def test_api_key_and_jwt_never_in_logs_errors_or_reprs(
    requests_mock: Any, jwt: str, mint: Any, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.get(BATCH_URL, [problem(503), {"exc": requests.exceptions.ReadTimeout}, ok_batch()])
    requests_mock.get(
        url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}"), **problem(404, title="ICA_NOT_FOUND")
    )
    requests_mock.get(ITEMS_URL, exc=requests.exceptions.ConnectionError)
    hook = make_hook()

    hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)  # retried twice, then fine
    errors: list[Exception] = []
    with pytest.raises(IcaApiError) as api_info:
        hook.get_analysis(PROJECT_ID, ANALYSIS_ID)
    errors.append(api_info.value)
    with pytest.raises(IcaConnectionError) as conn_info:
        list(hook.iter_analysis_creation_batch_items(PROJECT_ID, BATCH_ID))
    errors.append(conn_info.value)

    # The logs were captured: the retries were reported.
    assert "retry 1 of 3" in caplog.text
    assert len(sleeps) == 5
    texts = [
        caplog.text,
        *(str(e) for e in errors),
        *(repr(e) for e in errors),
        repr(hook),
        repr(hook.protocol),
        repr(hook.protocol.tokens),
        repr(hook.protocol.policy),
        repr(hook.settings),
        str(hook.settings),
    ]
    for text in texts:
        assert API_KEY not in text
        assert jwt not in text
        assert jwt.split(".")[2] not in text  # not even the signature part


# -- test_connection and abort ---------------------------------------------------------------------


@pytest.mark.parametrize("mint_status", [200, 201])
def test_test_connection_success(requests_mock: Any, jwt: str, mint_status: int) -> None:
    requests_mock.post(url(TOKEN_PATH), status_code=mint_status, json=token_body(jwt))
    hook = make_hook()

    ok, message = hook.test_connection()

    assert ok is True
    assert BASE_URL in message
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.headers["X-API-Key"] == API_KEY


def test_test_connection_mints_even_with_a_cached_token(requests_mock: Any, mint: Any) -> None:
    requests_mock.get(BATCH_URL, json=batch_body())
    hook = make_hook()
    hook.get_analysis_creation_batch(PROJECT_ID, BATCH_ID)

    ok, _ = hook.test_connection()

    assert ok is True
    assert mint.call_count == 2


def test_test_connection_rejected_key(requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.post(url(TOKEN_PATH), **problem(401, title="ICA_AUTH_002", detail="Invalid API key"))
    hook = make_hook()

    ok, message = hook.test_connection()

    assert ok is False
    assert "401" in message
    assert TOKEN_PATH in message
    assert API_KEY not in message
    assert requests_mock.call_count == 1


def test_abort_analysis_posts_abort_and_handles_204(requests_mock: Any, jwt: str, mint: Any) -> None:
    abort = requests_mock.post(url(f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}:abort"), status_code=204)
    hook = make_hook()

    assert hook.abort_analysis(PROJECT_ID, ANALYSIS_ID) is None

    assert abort.call_count == 1
    sent = abort.last_request
    assert sent.method == "POST"
    assert request_path(sent) == f"/api/projects/{PROJECT_ID}/analyses/{ANALYSIS_ID}:abort"
    assert sent.headers["Authorization"] == f"Bearer {jwt}"
    assert not sent.body


def test_path_segments_are_percent_encoded(requests_mock: Any, mint: Any) -> None:
    get = requests_mock.get(url(f"/api/projects/{PROJECT_ID}/analyses/a%2Fb"), json=analysis_body("a/b", "QUEUED"))
    hook = make_hook()

    assert hook.get_analysis(PROJECT_ID, "a/b").status == "QUEUED"
    assert get.call_count == 1


def test_answer_of_the_wrong_shape_is_an_ica_error_not_a_crash(requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.post(f"{BASE_URL}/api/tokens", json={"jwt": "no token field here"})
    ok, message = make_hook().test_connection()
    assert ok is False
    assert "POST /api/tokens" in message
    assert "token" in message


def test_redirects_are_not_followed(requests_mock: Any, mint: Any, sleeps: list[float]) -> None:
    url = f"{BASE_URL}/api/projects/p/analysisCreationBatch/b"
    requests_mock.get(url, status_code=307, headers={"Location": "http://elsewhere.test/steal"})
    requests_mock.get("http://elsewhere.test/steal", json={})
    with pytest.raises(IcaApiError, match=r"307.*unexpected redirect to http://elsewhere\.test/steal"):
        make_hook().get_analysis_creation_batch("p", "b")
    assert not any(r.url.startswith("http://elsewhere.test") for r in requests_mock.request_history)
    assert sleeps == []


def test_a_truncated_token_answer_is_not_quoted(requests_mock: Any, sleeps: list[float]) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0"
    requests_mock.post(f"{BASE_URL}/api/tokens", text='{"token": "' + secret)
    ok, message = make_hook().test_connection()
    assert ok is False
    assert "not valid JSON" in message
    assert secret not in message and secret[:20] not in message
