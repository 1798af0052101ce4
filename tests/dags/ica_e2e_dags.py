"""DAGs the end-to-end tests run with dag.test(); one per scenario and wait mode.

Items come from ``dag_run.conf``/params through the operator's own templating: the
rendered JSON text is parsed and validated by the operator.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor

NEXTFLOW_ITEMS = """[
{% for sample in params.samples %}
  {"userReference": "{{ sample }}", "pipelineId": "{{ params.pipeline_id }}",
   "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": ["fil.{{ loop.index }}"]}],
                     "parameters": [{"code": "threads", "value": {{ params.threads }}}]}}
  {{ "," if not loop.last }}
{% endfor %}
]"""

PARAMS = {"samples": ["S1", "S2", "S3"], "pipeline_id": "pipe-1", "threads": 4}
POLL = 0.2

SENSOR_SCENARIOS = {
    "analyses": {"wait_for": "analyses", "max_failures": 0},
    "tolerant": {"wait_for": "analyses", "max_failures": 1},
    "creation": {"wait_for": "creation", "max_failures": 0},
}

for mode in ("poke", "deferred"):
    for name, wait_args in SENSOR_SCENARIOS.items():
        with DAG(
            dag_id=f"ica_e2e_{name}_{mode}",
            schedule=None,
            start_date=datetime(2026, 1, 1),
            catchup=False,
            params=PARAMS,
        ) as dag:
            create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
            IcaAnalysisBatchSensor(
                task_id="wait",
                batch_id=create.output,
                poke_interval=POLL,
                timeout=120,
                deferrable=mode == "deferred",
                **wait_args,  # type: ignore[arg-type]
            )
        globals()[dag.dag_id] = dag

    with DAG(
        dag_id=f"ica_e2e_operator_wait_{mode}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params=PARAMS,
    ) as dag:
        IcaCreateAnalysisBatchOperator(
            task_id="create",
            nextflow_items=NEXTFLOW_ITEMS,
            wait_for_completion=True,
            poll_interval=POLL,
            deferrable=mode == "deferred",
            retries=1,
            retry_delay=0,
        )
    globals()[dag.dag_id] = dag

    # A sensor that times out: it says what was unfinished and aborts nothing.
    with DAG(
        dag_id=f"ica_e2e_sensor_timeout_{mode}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params=PARAMS,
    ) as dag:
        create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=NEXTFLOW_ITEMS)
        IcaAnalysisBatchSensor(
            task_id="wait", batch_id=create.output, poke_interval=POLL, timeout=2, deferrable=mode == "deferred"
        )
    globals()[dag.dag_id] = dag

    # A wait that times out while analyses still run: the operator aborts them.
    with DAG(
        dag_id=f"ica_e2e_timeout_{mode}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params=PARAMS,
    ) as dag:
        IcaCreateAnalysisBatchOperator(
            task_id="create",
            nextflow_items=NEXTFLOW_ITEMS,
            wait_for_completion=True,
            poll_interval=POLL,
            timeout=2,
            deferrable=mode == "deferred",
        )
    globals()[dag.dag_id] = dag

# The CWL example's request template, rendered and sent for real; the operator waits deferred.
with DAG(
    dag_id="ica_e2e_cwl_template",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    template_searchpath=[str(Path(__file__).resolve().parents[2] / "example_dags")],
    params={"samples": ["PT-1", "PT-2"], "pipeline_id": "cwl-pipe", "data_folder": "fol.abc"},
) as dag:
    IcaCreateAnalysisBatchOperator(
        task_id="create",
        cwl_items="ica_cwl_batch_request.json",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL,
    )
globals()[dag.dag_id] = dag
