"""DAGs the end-to-end tests run with dag.test(); one per scenario and wait mode.

Items come from ``dag_run.conf``/params through the operator's own templating: the
rendered JSON text is parsed and validated by the operator.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing import seed

NEXTFLOW_ITEMS = """[
{% for sample in params.samples %}
  {"userReference": "{{ sample }}", "pipelineId": "{{ params.pipeline_id }}",
   "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": ["{{ params.reads[loop.index0 % params.reads | length] }}"]}],
                     "parameters": [{"code": "threads", "value": {{ params.threads }}}]}}
  {{ "," if not loop.last }}
{% endfor %}
]"""

# The fake's seeded catalogue: nf-core-rnaseq reads one seeded FASTQ per sample (in turn).
READS = [seed.fastq_file_id(sample) for sample in seed.FASTQ_SAMPLES]
PARAMS = {"samples": ["S1", "S2", "S3"], "pipeline_id": seed.RNASEQ_PIPELINE_ID, "threads": 4, "reads": READS}
POLL = 0.2

SENSOR_SCENARIOS = {
    "analyses": {"wait_for": "analyses", "max_failures": 0},
    "tolerant": {"wait_for": "analyses", "max_failures": 1},
    "creation": {"wait_for": "creation", "max_failures": 0},
    "sensor_timeout": {"timeout": 2},  # says what was unfinished, aborts nothing
    "outputs": {"include_outputs": True, "max_failures": 1},
}
OPERATOR_SCENARIOS = {
    "operator_wait": {"retries": 1, "retry_delay": 0},
    "timeout": {"timeout": 2},  # aborts the analyses still running
    "operator_outputs": {"include_outputs": True, "max_failures": 1},
}


def scenario_dag(dag_id: str, **kwargs: Any) -> DAG:
    """A DAG the tests find by ``dag_id`` in this module's globals."""
    dag = DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, **kwargs)
    globals()[dag_id] = dag
    return dag


for mode in ("poke", "deferred"):
    deferrable = mode == "deferred"
    for name, sensor_args in SENSOR_SCENARIOS.items():
        with scenario_dag(f"ica_e2e_{name}_{mode}", params=PARAMS):
            create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
            IcaAnalysisBatchSensor(
                task_id="wait",
                batch_id=create.output,
                poke_interval=POLL,
                deferrable=deferrable,
                **{"timeout": 120, **sensor_args},
            )
    for name, operator_args in OPERATOR_SCENARIOS.items():
        with scenario_dag(f"ica_e2e_{name}_{mode}", params=PARAMS):
            IcaCreateAnalysisBatchOperator(
                task_id="create",
                nextflow_items=NEXTFLOW_ITEMS,
                wait_for_completion=True,
                poll_interval=POLL,
                deferrable=deferrable,
                **operator_args,
            )

# The CWL example's request template, rendered and sent for real; the operator waits deferred.
with scenario_dag(
    "ica_e2e_cwl_template",
    template_searchpath=[str(Path(__file__).resolve().parents[2] / "example_dags")],
    params={"samples": ["PT-1", "PT-2"], "pipeline_id": seed.TUMOR_NORMAL_PIPELINE_ID, "data_folder": seed.TUMOR_NORMAL_FOLDER_ID},
):
    IcaCreateAnalysisBatchOperator(
        task_id="create",
        cwl_items="ica_cwl_batch_request.json",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL,
    )

# Waits woken by ICA's notifications: the queue is the connection's, or the run's (params.sqs_queue,
# rendered). Polls and listings are an hour apart, so only a notification can end a wait within a
# test; GUARD, the timeout, only stops a wait that notifications failed to end.
LONG, GUARD = 3600, 120
WOKEN_PARAMS = {**PARAMS, "sqs_queue": ""}
WOKEN_WAIT: dict[str, Any] = {
    "sqs_queue": "{{ params.sqs_queue }}", "reconcile_interval": LONG, "include_outputs": True, "max_failures": 1,
}
for mode in ("poke", "deferred"):
    deferrable = mode == "deferred"
    with scenario_dag(f"ica_e2e_woken_{mode}", params=WOKEN_PARAMS):
        create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
        IcaAnalysisBatchSensor(
            task_id="wait", batch_id=create.output, poke_interval=LONG, timeout=GUARD, deferrable=deferrable, **WOKEN_WAIT
        )
    with scenario_dag(f"ica_e2e_woken_operator_{mode}", params=WOKEN_PARAMS):
        IcaCreateAnalysisBatchOperator(
            task_id="create", nextflow_items=NEXTFLOW_ITEMS, wait_for_completion=True, poll_interval=LONG,
            timeout=GUARD, deferrable=deferrable, **WOKEN_WAIT,
        )
    # Polls every POLL although the connection names a queue.
    with scenario_dag(f"ica_e2e_unwoken_{mode}", params=WOKEN_PARAMS):
        create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
        IcaAnalysisBatchSensor(
            task_id="wait", batch_id=create.output, poke_interval=POLL, timeout=GUARD, deferrable=deferrable,
            wake_on_notifications=False, reconcile_interval=LONG,
        )
# A woken poke-mode sensor whose batch outlives its timeout; skipped instead with soft_fail.
for soft_fail in (False, True):
    with scenario_dag(f"ica_e2e_woken_timeout{'_soft' if soft_fail else ''}", params=WOKEN_PARAMS):
        create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
        IcaAnalysisBatchSensor(
            task_id="wait", batch_id=create.output, poke_interval=LONG, timeout=1, soft_fail=soft_fail, **WOKEN_WAIT
        )
# Woken, but polling every POLL while its notifications cannot be read.
with scenario_dag("ica_e2e_woken_fallback", params=WOKEN_PARAMS):
    create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
    IcaAnalysisBatchSensor(task_id="wait", batch_id=create.output, poke_interval=POLL, timeout=GUARD, **WOKEN_WAIT)
