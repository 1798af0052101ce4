"""The sensor's extra links after real runs (dag.test): pushed on success and on failure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.xcoms import xcom

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]


@pytest.mark.parametrize("mode", ["poke", "deferred"])
@pytest.mark.parametrize(("samples", "picked"), [(["K1", "K2"], "K1"), (["K3", "K4-fail-analysis"], "K4-fail-analysis")])
def test_sensor_links_point_at_the_project_and_the_analysis_to_open(
    e2e_dags: dict[str, Any], ica: Any, mode: str, samples: list[str], picked: str
) -> None:
    dag_run = e2e_dags[f"ica_e2e_analyses_{mode}"].test(run_conf={"samples": samples})

    assert str(dag_run.state) == ("failed" if "fail" in picked else "success")
    (batch,) = ica.backend.batches.values()
    analysis_id = next(item.analysis_id for item in batch.items if item.user_reference == picked)
    web = ica.url.removesuffix("/rest")
    expected = {
        "analyses_url": f"{web}/projects/proj-e2e/analyses",
        "analysis_url": f"{web}/link/project/proj-e2e/analysis/{analysis_id}",
    }
    for key, url in expected.items():
        assert xcom(dag_run.dag_id, dag_run.run_id, "wait", key) == url, key
    from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:  # Airflow 3 stores what each link's get_link returned, as XCom
        links = {"_link_IcaProjectAnalysesLink": "analyses_url", "_link_IcaAnalysisLink": "analysis_url"}
        for link_key, key in links.items():
            assert xcom(dag_run.dag_id, dag_run.run_id, "wait", link_key) == expected[key], link_key
