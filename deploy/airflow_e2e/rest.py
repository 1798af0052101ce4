"""A small client of Airflow 3's REST API (``/api/v2``) and of the UI's ``/ui`` endpoints.

With the simple auth manager and ``simple_auth_manager_all_admins`` the API server adds an
admin token to every request itself; otherwise ``login()`` gets one from ``/auth/token``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

TIMEOUT_SECONDS = 30


class ApiError(RuntimeError):
    pass


class AirflowClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    # --- plumbing ------------------------------------------------------------------------

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        response = self.session.request(method, self.base_url + path, **kwargs)
        if response.status_code not in expect:
            raise ApiError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return response.text

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def login(self) -> None:
        """Bearer token from ``/auth/token`` (simple auth manager); not needed with all-admins."""
        token = self.request("POST", "/auth/token", expect=(200, 201), json={})["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    # --- monitor -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self.get("/api/v2/monitor/health")  # type: ignore[no-any-return]

    def version(self) -> dict[str, Any]:
        return self.get("/api/v2/version")  # type: ignore[no-any-return]

    # --- DAGs and runs -------------------------------------------------------------------

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}")  # type: ignore[no-any-return]

    def import_errors(self) -> list[dict[str, Any]]:
        return self.get("/api/v2/importErrors")["import_errors"]  # type: ignore[no-any-return]

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused}
        )

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        return self.request(  # type: ignore[no-any-return]
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body, expect=(200,)
        )

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs, newest first."""
        params = {"order_by": "-run_after", "limit": 100}
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", params=params)["dag_runs"]  # type: ignore[no-any-return]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")  # type: ignore[no-any-return]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (map indexes included), page by page."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        found: list[dict[str, Any]] = []
        while True:
            page = self.get(path, params={"limit": 100, "offset": len(found)})
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        return self.get(path)  # type: ignore[no-any-return]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The XCom's value as JSON (``deserialize=true``: the stored value, not its repr)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/xcomEntries/{key}"
        )
        return self.get(path, params={"deserialize": "true"})["value"]

    def task_log_events(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> list[Any]:
        """The whole log of one try: the task's and its trigger's log events (JSON form)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}"
        )
        params = {"full_content": "true", "map_index": map_index}
        body = self.get(path, params=params, headers={"Accept": "application/json"})
        content = body["content"]
        return content.splitlines() if isinstance(content, str) else list(content)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The same as text, one event a line."""
        return "\n".join(
            log_line(event) for event in self.task_log_events(dag_id, run_id, task_id, try_number, map_index)
        )

    def extra_links(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """``{link name: URL or None}`` of one task instance, as the UI shows them."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/links"
        return self.get(path, params={"map_index": map_index})["extra_links"]  # type: ignore[no-any-return]

    # --- connections ---------------------------------------------------------------------

    def create_connection(self, connection: dict[str, Any]) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "POST", "/api/v2/connections", json=connection, expect=(200, 201)
        )

    def connection(self, connection_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/connections/{quote(connection_id, safe='')}")  # type: ignore[no-any-return]

    def test_connection(self, connection_id: str, conn_type: str) -> dict[str, Any]:
        """The Test button: the API server runs the hook's ``test_connection`` on the stored one."""
        body = {"connection_id": connection_id, "conn_type": conn_type}
        return self.request("POST", "/api/v2/connections/test", json=body)  # type: ignore[no-any-return]

    # --- UI endpoints --------------------------------------------------------------------

    def connection_hook_meta(self) -> list[dict[str, Any]]:
        """What the UI's connection form is built from (``GET /ui/connections/hook_meta``)."""
        return self.get("/ui/connections/hook_meta")  # type: ignore[no-any-return]

    # --- waiting -------------------------------------------------------------------------

    def wait_for(self, what: str, probe: Any, timeout: float, interval: float = 1.0) -> Any:
        """Call ``probe()`` until it returns a truthy value; ApiError/connection errors retry."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                result = probe()
                if result:
                    return result
                last = result
            except (ApiError, requests.RequestException) as error:
                last = error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {timeout:.0f} s (last: {last})")
            time.sleep(interval)


def log_line(event: Any) -> str:
    if not isinstance(event, dict):
        return str(event)
    extras = {k: v for k, v in event.items() if k not in ("timestamp", "event", "level", "logger")}
    parts = [str(event.get("timestamp", "")), str(event.get("level", "")), str(event.get("event", ""))]
    if extras:
        parts.append(str(extras))
    return " ".join(part for part in parts if part)
