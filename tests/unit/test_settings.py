"""``settings_from_connection``: normalising and checking an ``ica`` connection."""

from __future__ import annotations

from typing import Any

import pytest
from samples import API_KEY, set_connection

from ica_airflow_provider.core.errors import IcaConfigError
from ica_airflow_provider.core.settings import IcaSettings, settings_from_connection
from ica_airflow_provider.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from ica_airflow_provider.hooks.ica import IcaHook

CONN = "ica_conf"


def settings(
    host: str | None = "https://ica.example.test/ica/rest",
    port: int | None = None,
    password: str | None = API_KEY,
    **extra: Any,
) -> IcaSettings:
    return settings_from_connection(CONN, host=host, port=port, password=password, extra=extra)


def config_error(**kwargs: Any) -> str:
    with pytest.raises(IcaConfigError) as info:
        settings(**kwargs)
    message = str(info.value)
    assert repr(CONN) in message  # every error names the connection
    return message


# -- host ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [None, "", "   "])
def test_default_host(host: str | None) -> None:
    assert settings(host=host).base_url == "https://ica.illumina.com/ica/rest"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("https://ica.example.test/ica/rest", None, "https://ica.example.test/ica/rest"),
        ("https://ica.example.test/ica/rest/", None, "https://ica.example.test/ica/rest"),
        ("ica.example.test", None, "https://ica.example.test/ica/rest"),
        ("ica.example.test/ica/rest", None, "https://ica.example.test/ica/rest"),
        ("https://ica.example.test", None, "https://ica.example.test/ica/rest"),
        ("https://ica.example.test/", None, "https://ica.example.test/ica/rest"),
        ("https://ica.example.test/custom/api", None, "https://ica.example.test/custom/api"),
        ("https://ica.example.test", 8443, "https://ica.example.test:8443/ica/rest"),
        ("ica.example.test", 8443, "https://ica.example.test:8443/ica/rest"),
        ("https://ica.example.test:9443/ica/rest", 8443, "https://ica.example.test:9443/ica/rest"),
        ("  https://ica.example.test/ica/rest  ", None, "https://ica.example.test/ica/rest"),
    ],
)
def test_host_normalisation(host: str, port: int | None, expected: str) -> None:
    assert settings(host=host, port=port).base_url == expected


@pytest.mark.parametrize("host", ["ftp://ica.example.test", "https://", "https:///ica/rest", "https://ica example.test"])
def test_unusable_host(host: str) -> None:
    message = config_error(host=host)
    assert "host" in message


def test_invalid_port_in_host() -> None:
    assert "port" in config_error(host="https://ica.example.test:99999/ica/rest")


@pytest.mark.parametrize("host", ["http://ica.example.test/ica/rest", "http://10.0.0.5:8080", "HTTP://ica.example.test"])
def test_plain_http_refused_off_loopback(host: str) -> None:
    message = config_error(host=host)
    assert "allow_insecure_http" in message
    assert "http" in message


@pytest.mark.parametrize("flag", [True, "true", "True", "1", "yes", "on"])
def test_plain_http_allowed_with_flag(flag: Any) -> None:
    s = settings(host="http://ica.example.test/ica/rest", allow_insecure_http=flag)
    assert s.base_url == "http://ica.example.test/ica/rest"


@pytest.mark.parametrize("flag", [False, "false", "0", "no", "off"])
def test_plain_http_still_refused_with_false_flag(flag: Any) -> None:
    assert "allow_insecure_http" in config_error(host="http://ica.example.test", allow_insecure_http=flag)


def test_bad_allow_insecure_http_value_is_named() -> None:
    message = config_error(host="http://ica.example.test", allow_insecure_http="maybe")
    assert "allow_insecure_http" in message
    assert "maybe" in message


@pytest.mark.parametrize(
    "host",
    ["http://localhost:8080", "http://127.0.0.1:8080/ica/rest", "http://127.0.0.2", "http://[::1]:8000/ica/rest"],
)
def test_plain_http_allowed_on_loopback(host: str) -> None:
    assert settings(host=host).base_url.startswith("http://")


def test_localhost_lookalike_is_not_loopback() -> None:
    assert "allow_insecure_http" in config_error(host="http://localhost.example.test")


# -- API key and project -------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [None, ""])
def test_missing_api_key(password: str | None) -> None:
    message = config_error(password=password)
    assert "API key" in message
    assert "password" in message


def test_api_key_not_in_repr() -> None:
    s = settings()
    assert API_KEY not in repr(s)
    assert s.api_key == API_KEY


def test_project_id_optional_and_stringified() -> None:
    assert settings().project_id is None
    assert settings(project_id="").project_id is None
    assert settings(project_id="proj-1").project_id == "proj-1"
    assert settings(project_id=1234).project_id == "1234"


def test_web_url() -> None:
    assert settings().web_url == "https://ica.example.test/ica"
    assert settings(host="https://ica.example.test/other").web_url == "https://ica.example.test/other"


# -- timeout ------------------------------------------------------------------------------------------------


def test_default_timeout_and_retries_and_verify() -> None:
    s = settings()
    assert s.timeout == (10.0, 60.0)
    assert s.max_retries == 5
    assert s.verify is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[5, 30]", (5.0, 30.0)),
        ([5, 30], (5.0, 30.0)),
        ((2.5, 40), (2.5, 40.0)),
        (" [5,30] ", (5.0, 30.0)),
        ("", (10.0, 60.0)),
        (None, (10.0, 60.0)),
    ],
)
def test_timeout_pairs(value: Any, expected: tuple[float, float]) -> None:
    assert settings(timeout=value).timeout == expected


@pytest.mark.parametrize("value", ["30", 30, 30.0])
def test_single_timeout_sets_the_read_timeout(value: Any) -> None:
    timeout = settings(timeout=value).timeout
    assert len(timeout) == 2
    assert timeout[1] == 30.0
    assert all(isinstance(t, float) and t > 0 for t in timeout)


@pytest.mark.parametrize(
    "value",
    ["soon", "[5, 30", "[5, 30, 60]", "[]", "[5]", '["a", 5]', {"connect": 5}, 0, "-1", "[5, 0]", "nan"],
    ids=["word", "broken-json-list", "three", "empty", "one", "word-in-list", "dict", "zero", "negative",
         "zero-read", "nan"],
)
def test_bad_timeout_is_named(value: Any) -> None:
    message = config_error(timeout=value)
    assert "timeout" in message


# -- max_retries -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (0, 0), ("3", 3), (7, 7), ("", 5), (None, 5)])
def test_max_retries(value: Any, expected: int) -> None:
    assert settings(max_retries=value).max_retries == expected


@pytest.mark.parametrize("value", ["many", "-1", -2, "3.5", [3]])
def test_bad_max_retries_is_named(value: Any) -> None:
    message = config_error(max_retries=value)
    assert "max_retries" in message


# -- max_requests_per_second ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 20.0), ("", 20.0), (0, 0.0), ("0", 0.0), ("2.5", 2.5), (40, 40.0), ("100", 100.0)]
)
def test_max_requests_per_second(value: Any, expected: float) -> None:
    s = settings(max_requests_per_second=value)
    assert s.max_requests_per_second == expected
    budget = s.request_budget()
    assert budget.limit == expected
    assert budget.unlimited is (expected == 0)


@pytest.mark.parametrize("value", ["fast", "-1", -0.5, "nan", "inf", True, [20], {"rate": 20}])
def test_bad_max_requests_per_second_is_named(value: Any) -> None:
    message = config_error(max_requests_per_second=value)
    assert f"max_requests_per_second={value!r}" in message
    assert "requests per second" in message


def test_max_requests_per_second_is_in_the_connection_form() -> None:
    field = CONN_FIELDS["max_requests_per_second"]
    assert field["label"] == "Max requests per second"
    assert "0 = unlimited" in field["description"] and "Default 20" in field["description"]
    assert field["schema"] == {"type": ["number", "null"], "minimum": 0}
    assert UI_FIELD_BEHAVIOUR["placeholders"]["max_requests_per_second"] == "20"


# -- verify -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("False", False),
        ("0", False),
        ("no", False),
        ("", True),
        (None, True),
        ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt"),
        (" /etc/ssl/certs/ca-certificates.crt ", "/etc/ssl/certs/ca-certificates.crt"),
    ],
)
def test_verify(value: Any, expected: Any) -> None:
    assert settings(verify=value).verify == expected


@pytest.mark.parametrize(
    "value", [2, ["/etc/ssl/ca.pem"], {"path": "/etc/ssl/ca.pem"}], ids=["int", "list", "dict"]
)
def test_bad_verify_is_named(value: Any) -> None:
    """Neither a boolean nor a CA bundle path: must not become a bogus path like ``'2'``."""
    message = config_error(verify=value)
    assert "verify" in message


# -- through the hook --------------------------------------------------------------------------------------


def test_hook_settings_from_env_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        conn_id="ica_env",
        host="ica.example.test",
        port=8443,
        extra={"project_id": "proj-9", "timeout": "[4, 40]", "max_retries": "2", "verify": "false"},
    )
    s = IcaHook("ica_env").settings

    assert s.base_url == "https://ica.example.test:8443/ica/rest"
    assert (s.project_id, s.timeout, s.max_retries, s.verify) == ("proj-9", (4.0, 40.0), 2, False)
    assert IcaHook("ica_env").protocol.policy.max_retries == 2


def test_hook_settings_error_names_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, conn_id="ica_nokey", password=None)
    with pytest.raises(IcaConfigError, match=r"'ica_nokey'.*API key"):
        _ = IcaHook("ica_nokey").settings


def test_missing_ca_bundle_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IcaConfigError, match="no CA bundle at that path"):
        settings_from_connection("c", host=None, port=None, password="k", extra={"verify": "/nope/ca.pem"})


@pytest.mark.parametrize("key", [" s3cr3tK", "s3cr3tK\n", "s3cr\t3tK"])
def test_api_key_with_whitespace_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(IcaConfigError) as exc:
        settings_from_connection("c", host=None, port=None, password=key, extra={})
    assert "API key has spaces" in str(exc.value)
    assert key.strip() not in str(exc.value)


def test_credentials_in_the_host_are_refused_without_echoing_them() -> None:
    with pytest.raises(IcaConfigError) as exc:
        settings_from_connection("c", host="https://me:hunter2@ica.example.test", port=None, password="k", extra={})
    assert "must not contain credentials" in str(exc.value)
    assert "hunter2" not in str(exc.value)
