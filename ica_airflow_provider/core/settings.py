"""Reading an ``ica`` connection's fields into checked settings, before any request."""

from __future__ import annotations

import ipaddress
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ica_airflow_provider.core.budget import RequestBudget
from ica_airflow_provider.core.errors import IcaConfigError
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.wake import WakeOptions, from_extra

DEFAULT_BASE_URL = "https://ica.illumina.com/ica/rest"
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
DEFAULT_MAX_RETRIES = 5
DEFAULT_BACKOFF = 1.0  # seconds: the first retry waits 0.5 to 1 s, then doubles
DEFAULT_BACKOFF_MAX = 60.0
# ICA rate-limits each tenant (429, no Retry-After) but publishes no number. 20 a second per
# process carries 1,000 waits polling every 60 s (about 17 a second) and the paging of a big
# batch, while one busy triggerer or worker cannot flood the tenant on its own. 0 = unlimited.
DEFAULT_MAX_REQUESTS_PER_SECOND = 20.0
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class IcaSettings:
    """Everything a transport needs; the API key never shows in the repr."""

    base_url: str
    api_key: str = field(repr=False)
    project_id: str | None = None
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool | str = True
    retry_backoff: float = DEFAULT_BACKOFF
    retry_backoff_max: float = DEFAULT_BACKOFF_MAX
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    # The SQS queue of ICA's notifications that wakes this connection's waits (None: they poll).
    notifications: WakeOptions | None = None

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries, backoff_base=self.retry_backoff, backoff_max=self.retry_backoff_max
        )

    def request_budget(self) -> RequestBudget:
        """A new budget at this connection's rate: make one per connection per process, and share it."""
        return RequestBudget(self.max_requests_per_second)

    @property
    def web_url(self) -> str:
        """The ICA web UI root, derived from the API base URL (``…/ica/rest`` → ``…/ica``)."""
        base = self.base_url.rstrip("/")
        return base[: -len("/rest")] if base.endswith("/rest") else base


def settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    port: int | None,
    password: str | None,
    extra: Mapping[str, Any],
) -> IcaSettings:
    """Check and normalise a connection; every error names the connection and field."""

    def fail(what: str) -> IcaConfigError:
        return IcaConfigError(f"Connection {conn_id!r}: {what}")

    if not password:
        raise fail("no API key: put the ICA API key in the connection's password field")
    if password != password.strip() or not password.isprintable():
        # Never echoed: HTTP libraries quote a bad header value in their errors.
        raise fail("the API key has spaces, line breaks or control characters around or in it")
    base_url = _base_url(host, port, fail)
    scheme = urlsplit(base_url).scheme
    if scheme == "http" and not _loopback(urlsplit(base_url).hostname) and not _flag(
        extra, "allow_insecure_http", False, fail
    ):
        raise fail(
            f"host {base_url!r} uses plain http: the API key would travel unencrypted. Use"
            " https, or set extra allow_insecure_http=true if you really mean it"
        )
    project_id = extra.get("project_id") or None
    return IcaSettings(
        base_url=base_url,
        api_key=password,
        project_id=str(project_id) if project_id is not None else None,
        timeout=_timeout(extra.get("timeout"), fail),
        max_retries=_max_retries(extra.get("max_retries"), fail),
        verify=_verify(extra.get("verify"), fail),
        retry_backoff=_seconds(extra, "retry_backoff", DEFAULT_BACKOFF, fail),
        retry_backoff_max=_seconds(extra, "retry_backoff_max", DEFAULT_BACKOFF_MAX, fail),
        max_requests_per_second=_non_negative(
            extra, "max_requests_per_second", DEFAULT_MAX_REQUESTS_PER_SECOND, "requests per second (0: unlimited)", fail
        ),
        notifications=from_extra(extra, fail),
    )


def _base_url(host: str | None, port: int | None, fail: Any) -> str:
    raw = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.username is not None or parts.password is not None:
        raise fail("host must not contain credentials: put the API key in the password field")
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in raw:
        raise fail(f"host {host!r} is not a URL like {DEFAULT_BASE_URL}")
    try:
        explicit_port = parts.port
    except ValueError:
        raise fail(f"host {host!r} has an invalid port") from None
    netloc = parts.netloc
    if port and explicit_port is None:
        netloc = f"{netloc}:{int(port)}"
    path = parts.path.rstrip("/") or "/ica/rest"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _loopback(hostname: str | None) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname or "").is_loopback
    except ValueError:
        return False


def _flag(extra: Mapping[str, Any], name: str, default: bool, fail: Any) -> bool:
    value = extra.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise fail(f"extra {name}={value!r} is not true or false")


def _timeout(value: Any, fail: Any) -> tuple[float, float]:
    """Seconds (the read timeout) or ``[connect, read]``."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    problem = f"extra timeout={value!r} is not seconds or [connect, read] seconds"
    try:
        if isinstance(value, str) and value.strip().startswith("["):
            value = json.loads(value)
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, list | tuple) and len(value) == 2:
            connect, read = float(value[0]), float(value[1])
        else:
            read = float(value)
            connect = min(DEFAULT_TIMEOUT[0], read)
    except (TypeError, ValueError):
        raise fail(problem) from None
    if not (math.isfinite(connect) and math.isfinite(read)) or connect <= 0 or read <= 0:
        raise fail(f"extra timeout={value!r} must be positive, finite seconds")
    return connect, read


def _seconds(extra: Mapping[str, Any], name: str, default: float, fail: Any) -> float:
    return _non_negative(extra, name, default, "seconds", fail)


def _non_negative(extra: Mapping[str, Any], name: str, default: float, unit: str, fail: Any) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(value)
    except (TypeError, ValueError):
        raise fail(f"extra {name}={value!r} is not a number of {unit}") from None
    if not math.isfinite(number) or number < 0:
        raise fail(f"extra {name}={value!r} must be 0 or more, finite {unit}")
    return number


def _max_retries(value: Any, fail: Any) -> int:
    if value is None or value == "":
        return DEFAULT_MAX_RETRIES
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        retries = int(value)
    except (TypeError, ValueError):
        raise fail(f"extra max_retries={value!r} is not a whole number") from None
    if retries < 0:
        raise fail(f"extra max_retries={value!r} must be 0 or more")
    return retries


def _verify(value: Any, fail: Any) -> bool | str:
    """``true``/``false``, or the path of a CA bundle."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        raise fail(f"extra verify={value!r} is not true, false or a CA bundle path")
    text = value.strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    if not os.path.exists(text):
        raise fail(f"extra verify={value!r}: no CA bundle at that path")
    return text
