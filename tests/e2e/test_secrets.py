"""The API key and the JWT appear nowhere: logs, exception text, XCom, rendered fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ica_airflow_provider.core.auth import TokenCache
from tests.e2e.test_dag_runs import MODES, run

API_KEY = "ica-secret-KEY-7f3a9c2e51"


def stored_values(dag_id: str, run_id: str) -> str:
    """Every XCom and rendered-field value of the run, as text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as XComTable
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom as XComTable

    with create_session() as session:
        xcoms = session.query(XComTable).filter_by(dag_id=dag_id, run_id=run_id).all()
        rendered = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_id, run_id=run_id).all()
        texts = [str(x.value) for x in xcoms] + [json.dumps(r.rendered_fields, default=str) for r in rendered]
    assert xcoms and rendered
    return "\n".join(texts)


@pytest.mark.e2e
@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("mode", MODES)
def test_no_credential_leaks(
    e2e_dags: dict[str, Any],
    ica_fake_server_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    task_logs: Any,
    mode: str,
) -> None:
    server = ica_fake_server_factory(api_key=API_KEY)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICA_DEFAULT",
        json.dumps({"conn_type": "ica", "host": server.url, "password": API_KEY, "extra": {"project_id": "p"}}),
    )
    tokens: list[str] = []
    store = TokenCache.store

    def recording_store(self: TokenCache, token: str) -> None:
        tokens.append(token)
        store(self, token)

    monkeypatch.setattr(TokenCache, "store", recording_store)
    # A failing analysis and a passing 503: error and retry paths log too.
    server.backend.inject_fault(503, method="GET", path_contains="/items")
    dag_run = run(e2e_dags, f"ica_e2e_analyses_{mode}", {"samples": ["L1", "L2-fail-analysis"]})

    assert str(dag_run.state) == "failed"
    assert tokens, "no JWT was minted"
    output = task_logs()
    assert "L2-fail-analysis" in output  # the failure was logged...
    stored = stored_values(dag_run.dag_id, dag_run.run_id)
    for secret in [API_KEY, *tokens]:
        assert secret not in output  # ...without any credential
        assert secret not in stored
