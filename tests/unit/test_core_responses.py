"""``parse`` / ``api_error`` / ``connection_error``, the exception types, and what is transient."""

from __future__ import annotations

import json

import pytest
from samples import HTML_502, PROBLEM_JSON, V3, json_response, problem_body, raw_response

from ica_airflow_provider._compat import AirflowException
from ica_airflow_provider.core.errors import (
    IcaApiError,
    IcaConfigError,
    IcaConnectionError,
    IcaError,
)
from ica_airflow_provider.core.messages import Request, Response, TransportFailure
from ica_airflow_provider.core.protocol import parse
from ica_airflow_provider.core.responses import api_error, connection_error
from ica_airflow_provider.core.transient import is_transient, is_transient_outcome
from ica_airflow_provider.models.response import AnalysisCreationBatch

REQ = Request("POST", "/api/projects/proj-1/analysisCreationBatch")


# -- parse: the body of a success ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 202])
def test_parse_returns_the_model_of_2xx(code: int) -> None:
    body = {"id": "b-1", "job": {"id": "j", "status": "RUNNING"}}
    assert parse(AnalysisCreationBatch, REQ, json_response(code, body)).id == "b-1"


@pytest.mark.parametrize("body", [b'{"id": "b-1", "job": {"id"', b"<html>oops</html>", b"\xff\xfe{", b""])
def test_invalid_json_on_2xx_is_an_api_error(body: bytes) -> None:
    with pytest.raises(IcaApiError) as info:
        parse(AnalysisCreationBatch, REQ, raw_response(200, body, V3))

    err = info.value
    assert err.status == 200
    assert (err.method, err.path) == (REQ.method, REQ.path)
    assert err.detail is not None and "not valid JSON" in err.detail
    assert f"to {REQ.method} {REQ.path}" in str(err)
    assert err.__cause__ is None and err.__suppress_context__


def test_invalid_json_shows_a_snippet() -> None:
    body = b'{"id": "b-1", "job": {"id"'
    with pytest.raises(IcaApiError) as info:
        parse(AnalysisCreationBatch, REQ, raw_response(200, body, V3))
    assert body.decode() in str(info.value)


@pytest.mark.parametrize("code", [400, 401, 404, 409, 422, 429, 500, 503])
def test_api_error_keeps_status_and_title(code: int) -> None:
    info = api_error(REQ, json_response(code, problem_body(code, "ICA_X", "boom"), PROBLEM_JSON))
    assert info.status == code
    assert info.title == "ICA_X"


# -- api_error: problem+json --------------------------------------------------------------------------


def test_api_error_from_full_problem() -> None:
    body = problem_body(
        400, "ICA_API_004", "Invalid Accept Header", {"userReference": "must match", "pipelineId": "required"}, "POST"
    )
    err = api_error(REQ, json_response(400, body, PROBLEM_JSON))

    assert isinstance(err, IcaApiError)
    assert (err.status, err.title, err.detail) == (400, "ICA_API_004", "Invalid Accept Header")
    assert err.parameters == {"userReference": "must match", "pipelineId": "required"}
    assert (err.method, err.path) == ("POST", REQ.path)
    assert str(err) == (
        "ICA answered 400 ICA_API_004 to POST /api/projects/proj-1/analysisCreationBatch:"
        " Invalid Accept Header (pipelineId: required; userReference: must match)"
    )


def test_api_error_status_comes_from_the_response_not_the_body() -> None:
    err = api_error(REQ, json_response(502, problem_body(400, "ICA_Y"), PROBLEM_JSON))
    assert err.status == 502


def test_api_error_stringifies_odd_parameter_values() -> None:
    body = problem_body(422, parameters={"count": 3, "flags": ["a", "b"], "none": None})
    err = api_error(REQ, json_response(422, body, PROBLEM_JSON))
    assert err.parameters == {"count": "3", "flags": "['a', 'b']", "none": "None"}


@pytest.mark.parametrize("parameters", [None, [], "text", 5])
def test_api_error_ignores_non_object_parameters(parameters: object) -> None:
    body = {"title": "ICA_Z", "status": 400, "detail": "bad", "parameters": parameters}
    err = api_error(REQ, json_response(400, body, PROBLEM_JSON))
    assert err.parameters == {}
    assert str(err) == f"ICA answered 400 ICA_Z to POST {REQ.path}: bad"


def test_api_error_minimal_problem() -> None:
    err = api_error(Request("GET", "/api/x"), json_response(500, {"status": 500}, PROBLEM_JSON))
    assert (err.title, err.detail, err.parameters) == (None, None, {})
    assert str(err) == "ICA answered 500 to GET /api/x"


def test_api_error_numeric_title_and_detail_become_text() -> None:
    err = api_error(REQ, json_response(400, {"title": 42, "detail": 7}, PROBLEM_JSON))
    assert (err.title, err.detail) == ("42", "7")


# -- api_error: not JSON ----------------------------------------------------------------------------------


def test_api_error_html_page_is_readable() -> None:
    err = api_error(Request("GET", "/api/x"), raw_response(502, HTML_502, "text/html; charset=utf-8"))

    assert err.status == 502
    assert err.title is None
    message = str(err)
    assert message.startswith("ICA answered 502 to GET /api/x: non-JSON answer (text/html): ")
    assert "<title>502 Bad Gateway</title>" in message
    assert "\n" not in message and "  " not in message  # whitespace squeezed


def test_api_error_long_body_is_cut_to_a_snippet() -> None:
    body = "<html>" + "x" * 5000 + "</html>"
    err = api_error(REQ, raw_response(503, body, "text/html"))
    assert err.detail is not None
    snippet = err.detail.split(": ", 1)[1]
    assert snippet.endswith("…")
    assert len(snippet) == 201
    assert snippet.startswith("<html>xxx")


def test_api_error_empty_body_without_content_type() -> None:
    err = api_error(REQ, raw_response(500, b""))
    assert err.detail == "non-JSON answer (no content type): (empty body)"


def test_api_error_invalid_utf8_body_does_not_break() -> None:
    err = api_error(REQ, raw_response(500, b"\xff\xfe bad \xc3", "text/plain"))
    assert "bad" in str(err)
    assert "text/plain" in str(err)


def test_api_error_json_array_body_is_shown_raw() -> None:
    err = api_error(REQ, raw_response(400, json.dumps(["x", "y"]), "application/json"))
    assert err.status == 400
    assert '["x", "y"]' in str(err)


# -- connection_error and the exception family ------------------------------------------------------------


def test_connection_error_message() -> None:
    err = connection_error(Request("GET", "/api/y"), TransportFailure("timeout", "ReadTimeout"), 6)
    assert isinstance(err, IcaConnectionError)
    assert str(err) == "ICA did not answer GET /api/y after 6 attempt(s): timeout: ReadTimeout"


def test_errors_are_airflow_exceptions_at_the_edge() -> None:
    from ica_airflow_provider import exceptions
    from ica_airflow_provider.exceptions import airflow_facing

    for cls in (IcaApiError, IcaConnectionError, IcaConfigError):
        assert issubclass(cls, IcaError)
        assert not issubclass(cls, AirflowException)  # the core imports no Airflow
        facing = getattr(exceptions, cls.__name__)
        assert issubclass(facing, cls) and issubclass(facing, AirflowException)
    assert issubclass(exceptions.IcaBatchFailedError, IcaError)
    assert issubclass(exceptions.IcaWaitTimeoutError, AirflowException)
    error = IcaApiError(404, method="GET", path="/api/x")
    with pytest.raises(IcaApiError) as raised, airflow_facing():
        raise error
    assert raised.value is error and isinstance(error, AirflowException) and error.status == 404


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (IcaConnectionError("down"), True),
        (IcaConnectionError("down", kind="timeout"), True),
        (IcaConnectionError("bad header", kind="invalid"), False),
        (IcaApiError(429, method="GET", path="/x"), True),
        (IcaApiError(500, method="GET", path="/x"), True),
        (IcaApiError(502, method="GET", path="/x"), True),
        (IcaApiError(503, method="GET", path="/x"), True),
        (IcaApiError(504, method="GET", path="/x"), True),
        (IcaApiError(501, method="GET", path="/x"), False),
        (IcaApiError(505, method="GET", path="/x"), False),
        (IcaApiError(400, method="GET", path="/x"), False),
        (IcaApiError(401, method="GET", path="/x"), False),
        (IcaApiError(404, method="GET", path="/x"), False),
        (IcaApiError(200, method="GET", path="/x"), False),
        (IcaConfigError("bad"), False),
        (ValueError("x"), False),
    ],
)
def test_is_transient(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


@pytest.mark.parametrize("status", [400, 401, 404, 409, 429, 500, 501, 502, 503, 504, 505])
def test_retries_and_the_wait_agree_on_what_is_transient(status: int) -> None:
    """One definition: an answer the retry policy would retry is an error the wait tolerates."""
    request = Request("GET", "/x")
    outcome = Response.build(status, {}, b"")
    assert is_transient_outcome(outcome) is is_transient(api_error(request, outcome))


@pytest.mark.parametrize("kind", ["connect", "timeout", "protocol", "invalid"])
def test_transport_failures_agree_too(kind: str) -> None:
    failure = TransportFailure(kind, "x")
    assert is_transient_outcome(failure) is is_transient(connection_error(Request("GET", "/x"), failure, 1))
    assert is_transient_outcome(failure) is (kind != "invalid")


def test_response_build_lowercases_header_names() -> None:
    response = Response.build(200, {"Content-Type": V3, "Retry-After": "3"}, b"")
    assert dict(response.headers) == {"content-type": V3, "retry-after": "3"}
