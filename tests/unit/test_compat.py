"""_compat takes each Airflow name from where the running Airflow has it.

`make test-matrix` runs this on every supported Airflow line, so each fallback is exercised
on the versions that need it and each newer path on the versions that have it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from ica_airflow_provider import _compat
from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_VERSION

REPO = Path(__file__).resolve().parents[2]

# The first Airflow with each newer location; older versions take _compat's fallback.
SDK_BASE_HOOK = (3, 1)
SDK_CONF = (3, 2)
SDK_EXCEPTIONS = (3, 2)
SDK_AMASK_SECRET = (3, 3)
SAFE_AGET_CONNECTION = (3, 3, 2)


def expected_module(newer: str, since: tuple[int, ...], older: str) -> str:
    return newer if since <= AIRFLOW_VERSION else older


def test_base_hook_comes_from_the_sdk_or_airflow_hooks_base() -> None:
    module = expected_module("airflow.sdk", SDK_BASE_HOOK, "airflow.hooks.base")
    assert _compat.BaseHook is importlib.import_module(module).BaseHook


def test_operator_classes_come_from_the_sdk_on_airflow_3() -> None:
    module = importlib.import_module("airflow.sdk" if AIRFLOW_V_3_0_PLUS else "airflow.models")
    assert _compat.BaseOperator is module.BaseOperator
    assert _compat.BaseOperatorLink is module.BaseOperatorLink
    sensors = importlib.import_module("airflow.sdk" if AIRFLOW_V_3_0_PLUS else "airflow.sensors.base")
    assert _compat.BaseSensorOperator is sensors.BaseSensorOperator
    assert _compat.PokeReturnValue is sensors.PokeReturnValue


def test_conf_comes_from_the_sdk_or_airflow_configuration() -> None:
    module = expected_module("airflow.sdk", SDK_CONF, "airflow.configuration")
    assert _compat.conf is importlib.import_module(module).conf


@pytest.mark.parametrize("name", ["AirflowException", "AirflowSensorTimeout", "AirflowSkipException", "TaskDeferred"])
def test_exceptions_come_from_the_sdk_or_airflow_exceptions(name: str) -> None:
    module = expected_module("airflow.sdk.exceptions", SDK_EXCEPTIONS, "airflow.exceptions")
    assert getattr(_compat, name) is getattr(importlib.import_module(module), name)


def test_mask_secret_comes_from_the_sdk_log_on_airflow_3() -> None:
    module = "airflow.sdk.log" if AIRFLOW_V_3_0_PLUS else "airflow.utils.log.secrets_masker"
    assert _compat.mask_secret is importlib.import_module(module).mask_secret


def test_amask_secret_uses_the_async_masker_where_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(_compat, "mask_secret", lambda secret: calls.append(("sync", secret)))
    if AIRFLOW_VERSION >= SDK_AMASK_SECRET:
        import airflow.sdk.log as sdk_log

        async def recording(secret: str) -> None:
            calls.append(("async", secret))

        monkeypatch.setattr(sdk_log, "amask_secret", recording)
    asyncio.run(_compat.amask_secret("s3cret"))
    assert calls == [("async" if AIRFLOW_VERSION >= SDK_AMASK_SECRET else "sync", "s3cret")]


def test_aget_connection_is_the_safe_async_lookup_or_the_sync_one_in_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ICA_COMPAT", json.dumps({"conn_type": "ica", "host": "h", "extra": {"a": 1}}))
    used: list[str] = []
    sync_lookup = _compat.BaseHook.get_connection
    monkeypatch.setattr(
        _compat.BaseHook, "get_connection", classmethod(lambda cls, c: used.append("sync") or sync_lookup(c))
    )
    if hasattr(_compat.BaseHook, "aget_connection"):
        async_lookup = _compat.BaseHook.aget_connection

        async def recording(cls: Any, conn_id: str) -> Any:
            used.append("async")
            return await async_lookup(conn_id)

        monkeypatch.setattr(_compat.BaseHook, "aget_connection", classmethod(recording))
    async def lookup() -> tuple[Any, dict[str, Any]]:
        conn = await _compat.aget_connection("ica_compat")
        return conn, await _compat.aextra_dejson(conn)

    conn, extra = asyncio.run(lookup())
    assert used[0] == ("async" if AIRFLOW_VERSION >= SAFE_AGET_CONNECTION else "sync")
    assert conn.host == "h"
    assert extra == {"a": 1}


def test_feature_flags_match_what_this_airflow_has() -> None:
    import airflow.providers_manager
    from airflow.triggers.base import BaseTrigger

    assert hasattr(BaseTrigger, "on_kill") == _compat.HAS_TRIGGER_ON_KILL
    assert ("conn-fields" in inspect.getsource(airflow.providers_manager)) == _compat.READS_CONN_FIELDS
    try:
        from airflow.sdk.execution_time import context
    except ImportError:  # Airflow 2
        context = None
    assert hasattr(context, "TaskStateStoreAccessor") == _compat.HAS_TASK_STATE_STORE
    assert _compat.features() == {
        "task_state_store": _compat.HAS_TASK_STATE_STORE,
        "trigger_on_kill": _compat.HAS_TRIGGER_ON_KILL,
        "declarative_connection_form": _compat.READS_CONN_FIELDS,
    }


def test_compatibility_table_is_the_last_matrix_run() -> None:
    spec = importlib.util.spec_from_file_location("test_matrix", REPO / "scripts" / "test_matrix.py")
    assert spec and spec.loader
    matrix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(matrix)
    cells = matrix.load_results()
    assert {cell["line"] for cell in cells} == {line for line, _ in matrix.MATRIX}, "run make test-matrix"
    assert matrix.table_section(matrix.TABLE_DOC.read_text()) == matrix.compat_table(cells), (
        "docs/compatibility.md differs from constraints/matrix-results.json: python3 scripts/test_matrix.py --write-table"
    )
