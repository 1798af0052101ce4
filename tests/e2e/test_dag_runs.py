"""Real Airflow runs (dag.test) against the fake ICA server over loopback, both wait modes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ica_airflow_provider.testing.catalogue import InputParameter, Pipeline
from tests.e2e.xcoms import xcom

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]
MODES = ["poke", "deferred"]


def run(dags: dict[str, Any], dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    dag = dags[dag_id]
    # dag.test() leaves the run's conf in the Param objects of the DAG and its tasks (kept for
    # the session): put the defaults back, so one test's pipeline ID is not the next one's.
    params = [dag.params, *(task.params for task in dag.tasks)]
    defaults = [(param, param.value) for values in params for param in map(values.get_param, values)]
    try:
        return dag.test(run_conf=conf or {})
    finally:
        for param, value in defaults:
            param.value = value


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.parametrize("mode", MODES)
def test_all_succeed(e2e_dags: dict[str, Any], ica: Any, mode: str) -> None:
    dag_run = run(e2e_dags, f"ica_e2e_analyses_{mode}", {"samples": ["A1", "A2", "A3", "A4"]})

    assert str(dag_run.state) == "success"
    batch_id = xcom(dag_run.dag_id, dag_run.run_id, "create")
    assert list(ica.backend.batches) == [batch_id]
    assert xcom(dag_run.dag_id, dag_run.run_id, "create", "batch_id") == batch_id
    assert xcom(dag_run.dag_id, dag_run.run_id, "create", "project_id") == "proj-e2e"
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    assert [r["user_reference"] for r in records] == ["A1", "A2", "A3", "A4"]
    assert {r["analysis_status"] for r in records} == {"SUCCEEDED"}
    assert xcom(dag_run.dag_id, dag_run.run_id, "wait") == [r["analysis_id"] for r in records]


@pytest.mark.parametrize("mode", MODES)
def test_failures_fail_the_task_and_keep_xcoms(
    e2e_dags: dict[str, Any], ica: Any, mode: str, task_logs: Any
) -> None:
    samples = ["B1", "B2-fail-analysis", "B3-fail-creation", "B4"]
    dag_run = run(e2e_dags, f"ica_e2e_analyses_{mode}", {"samples": samples})

    assert str(dag_run.state) == "failed"
    assert task_states(dag_run)["wait"] == "failed"
    records = {r["user_reference"]: r for r in xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")}
    assert records["B2-fail-analysis"]["analysis_status"] == "FAILED"
    assert records["B2-fail-analysis"]["reason"]
    assert records["B3-fail-creation"]["item_status"] == "FAILED"
    assert records["B3-fail-creation"]["analysis_id"] is None
    assert records["B3-fail-creation"]["reason"]
    logs = task_logs()
    assert "2 of 4 items failed (max_failures=0)" in logs
    failed = records["B2-fail-analysis"]
    # The sample and ICA's reason first, the IDs after.
    assert f"B2-fail-analysis: analysis FAILED: {failed['reason'][:40]}" in logs
    assert f"(item {failed['item_id']}, analysis {failed['analysis_id']})" in logs
    assert f"B3-fail-creation: creation FAILED: {records['B3-fail-creation']['reason'][:40]}" in logs
    assert f"(item {records['B3-fail-creation']['item_id']})" in logs


@pytest.mark.parametrize("mode", MODES)
def test_max_failures_tolerates(e2e_dags: dict[str, Any], ica: Any, mode: str) -> None:
    dag_run = run(e2e_dags, f"ica_e2e_tolerant_{mode}", {"samples": ["C1", "C2-fail-analysis", "C3"]})

    assert str(dag_run.state) == "success"
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    succeeded = [r["analysis_id"] for r in records if r["analysis_status"] == "SUCCEEDED"]
    assert len(succeeded) == 2
    assert xcom(dag_run.dag_id, dag_run.run_id, "wait") == succeeded


@pytest.mark.parametrize("mode", MODES)
def test_wait_for_creation(e2e_dags: dict[str, Any], ica: Any, mode: str) -> None:
    dag_run = run(e2e_dags, f"ica_e2e_creation_{mode}", {"samples": ["D1-run-long", "D2-run-long"]})

    assert str(dag_run.state) == "success"
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    assert {r["item_status"] for r in records} == {"SUCCEEDED"}
    # The analyses run for an hour: the sensor did not wait for them.
    assert all(r["analysis_status"] not in ("SUCCEEDED", "FAILED") for r in records)
    assert xcom(dag_run.dag_id, dag_run.run_id, "wait") == [r["analysis_id"] for r in records]


@pytest.mark.parametrize("mode", MODES)
def test_params_and_conf_are_rendered_into_the_request(e2e_dags: dict[str, Any], ica: Any, mode: str) -> None:
    from_conf = ica.backend.catalogue.add_pipeline(Pipeline(str(uuid.uuid4()), "from-conf", "NEXTFLOW", (InputParameter("reads"),)))
    dag_run = run(e2e_dags, f"ica_e2e_creation_{mode}", {"samples": ["E1"], "pipeline_id": from_conf.id})

    assert str(dag_run.state) == "success"
    (batch,) = ica.backend.batches.values()
    (item,) = batch.items
    assert item.user_reference == "E1"
    assert item.pipeline_id == from_conf.id


def test_malformed_ids_are_refused_before_sending_naming_every_sample(
    e2e_dags: dict[str, Any], ica: Any, task_logs: Any
) -> None:
    conf = {"samples": ["X1", "X2"], "pipeline_id": "not a pipeline id!", "reads": ["not-a-folder"]}
    dag_run = run(e2e_dags, "ica_e2e_analyses_poke", conf)

    assert str(dag_run.state) == "failed"
    assert task_states(dag_run)["create"] == "failed"
    assert ica.backend.count_batches() == 0
    assert ica.backend.count_requests("POST", "/analysisCreationBatch") == 0
    logs = task_logs()
    assert "the batch request is invalid (4 problem(s))" in logs
    for index, sample in enumerate(["X1", "X2"]):
        assert (
            f"nextflow_items[{index}].pipelineId (userReference '{sample}'): 'not a pipeline id!' is not an ICA"
            " pipeline ID: a UUID" in logs
        )
        assert (
            f"nextflow_items[{index}].analysisInput.inputs[0].dataIds[0] (userReference '{sample}'): 'not-a-folder'"
            " is not an ICA data ID" in logs
        )


def test_an_unknown_pipeline_fails_with_icas_reason(e2e_dags: dict[str, Any], ica: Any, task_logs: Any) -> None:
    unknown = str(uuid.uuid4())
    dag_run = run(e2e_dags, "ica_e2e_analyses_poke", {"samples": ["Y1", "Y2"], "pipeline_id": unknown})

    assert str(dag_run.state) == "failed"
    assert task_states(dag_run)["wait"] == "failed"
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    assert {r["reason"] for r in records} == {f"Pipeline with id '{unknown}' not found"}
    logs = task_logs()
    assert "2 of 2 items failed (max_failures=0)" in logs
    for record in records:
        reason = f"{record['user_reference']}: creation FAILED: Pipeline with id '{unknown}' not found"
        assert f"{reason} (item {record['item_id']})" in logs


@pytest.mark.parametrize("mode", MODES)
def test_retried_create_leaves_one_batch(e2e_dags: dict[str, Any], ica: Any, mode: str) -> None:
    # The first try creates the batch, then its first poll fails with a 404 (not retried
    # by the client): Airflow retries the task, which must get the same batch back.
    ica.backend.inject_fault(404, method="GET", path_contains="/items", detail="injected: first poll fails")
    dag_run = run(e2e_dags, f"ica_e2e_operator_wait_{mode}", {"samples": ["F1", "F2"]})

    assert str(dag_run.state) == "success"
    assert ica.backend.count_batches() == 1
    (ti,) = dag_run.get_task_instances()
    assert ti.try_number == 2
    analysis_ids = xcom(dag_run.dag_id, dag_run.run_id, "create")
    assert len(analysis_ids) == 2


def test_cwl_request_from_json_template(e2e_dags: dict[str, Any], ica: Any) -> None:
    dag_run = run(e2e_dags, "ica_e2e_cwl_template")

    assert str(dag_run.state) == "success"
    (batch,) = ica.backend.batches.values()
    assert [(i.user_reference, i.language) for i in batch.items] == [
        ("PT-1-tumor-normal", "CWL"),
        ("PT-2-tumor-normal", "CWL"),
    ]
    assert xcom(dag_run.dag_id, dag_run.run_id, "create") == [i.analysis_id for i in batch.items]


@pytest.mark.parametrize("mode", MODES)
def test_timeout_aborts_the_running_analyses(
    e2e_dags: dict[str, Any], ica: Any, mode: str, task_logs: Any
) -> None:
    dag_run = run(e2e_dags, f"ica_e2e_timeout_{mode}", {"samples": ["G1", "G2-run-long", "G3-run-long"]})

    assert str(dag_run.state) == "failed"
    (batch,) = ica.backend.batches.values()
    long_running = [i.analysis_id for i in batch.items if "run-long" in i.user_reference]
    assert sorted(ica.backend.abort_calls) == sorted(long_running)
    logs = task_logs()
    assert "timed out with 2 item(s) not finished: G2-run-long, G3-run-long" in logs
    assert "aborted 2 running analyses" in logs
    records = xcom(dag_run.dag_id, dag_run.run_id, "create", "analyses")
    assert {r["user_reference"] for r in records} == {"G1", "G2-run-long", "G3-run-long"}


def test_operator_link_points_at_the_project_analyses(e2e_dags: dict[str, Any], ica: Any) -> None:
    dag_run = run(e2e_dags, "ica_e2e_analyses_poke", {"samples": ["H1"]})

    expected = ica.url.removesuffix("/rest") + "/projects/proj-e2e/analyses"
    assert xcom(dag_run.dag_id, dag_run.run_id, "create", "analyses_url") == expected
    from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:  # Airflow 3 computes links on the worker and stores them as XCom
        assert xcom(dag_run.dag_id, dag_run.run_id, "create", "_link_IcaProjectAnalysesLink") == expected


@pytest.mark.parametrize("mode", MODES)
def test_sensor_timeout_names_the_unfinished_and_aborts_nothing(
    e2e_dags: dict[str, Any], ica: Any, mode: str, task_logs: Any
) -> None:
    dag_run = run(e2e_dags, f"ica_e2e_sensor_timeout_{mode}", {"samples": ["J1", "J2-run-long"]})

    assert str(dag_run.state) == "failed"
    assert ica.backend.abort_calls == []
    logs = task_logs()
    assert "AirflowSensorTimeout" in logs
    assert "timed out with 1 item(s) not finished: J2-run-long" in logs
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    assert [r["user_reference"] for r in records] == ["J1", "J2-run-long"]
