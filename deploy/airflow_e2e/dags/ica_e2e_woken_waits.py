"""Two deferred waits woken by ICA's notifications (SQS), each set up the other way.

Deployment-only (``make e2e`` adds this folder as a second DAG bundle; the check is
``check_woken_waits``). ``operator_wait`` creates its batch and waits on the connection
``ica_events``, whose extras name the queue, the AWS connection and the reconcile interval.
``sensor_wait`` waits for ``create``'s batch on ``ica_default`` (no queue there) with the
task's own arguments: the queue from the run's conf (``{"sqs_queue": ...}``), required
(``wake_on_notifications=True``). Polls and reconciles are ten minutes apart, longer than the
run: only a notification can end a wait early.
"""

from __future__ import annotations

from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing import seed

DAG_ID = "ica_e2e_woken_waits"
WOKEN_CONN_ID = "ica_events"  # deploy/airflow_e2e/deployment.py creates it
AWS_CONN_ID = "aws_ica_events"
OPERATOR_SAMPLES = ("WOKEN1", "WOKEN2")
SENSOR_SAMPLES = ("WOKEN3", "WOKEN4-fail-analysis")  # one FAILED analysis, tolerated
INTERVAL = 600.0


def batch_items(samples: tuple[str, ...]) -> list[dict[str, object]]:
    """Nextflow items of the fake's seeded germline pipeline; userReference ``<sample>-woken``."""
    return [
        {
            "userReference": f"{sample}-woken",
            "pipelineId": seed.GERMLINE_PIPELINE_ID,
            "analysisInput": {
                "inputs": [{"parameterCode": "fastq_folder", "dataIds": [seed.FASTQ_FOLDER_ID]}],
                "parameters": [{"code": "sample_id", "value": sample}],
            },
        }
        for sample in samples
    ]


with DAG(
    dag_id=DAG_ID,
    description="Deferred waits woken by ICA's notifications through SQS (deployment test)",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"sqs_queue": ""},
    tags=["ica", "e2e"],
):
    IcaCreateAnalysisBatchOperator(
        task_id="operator_wait",
        ica_conn_id=WOKEN_CONN_ID,
        nextflow_items=batch_items(OPERATOR_SAMPLES),
        wait_for_completion=True,
        deferrable=True,
        poll_interval=INTERVAL,
    )
    create = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=batch_items(SENSOR_SAMPLES))
    IcaAnalysisBatchSensor(
        task_id="sensor_wait",
        batch_id=create.output,
        deferrable=True,
        poke_interval=INTERVAL,
        max_failures=1,
        wake_on_notifications=True,
        sqs_queue="{{ params.sqs_queue }}",
        aws_conn_id=AWS_CONN_ID,
        reconcile_interval=INTERVAL,
    )
