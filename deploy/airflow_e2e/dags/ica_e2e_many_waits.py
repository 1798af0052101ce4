"""Many waits on one triggerer: one mapped task per batch, each creating its batch and deferring.

Deployment-only (``make e2e`` adds this folder as a second DAG bundle): the check
``check_many_waits_on_one_triggerer`` holds the fake ICA's clock, triggers a run, sees
every map index deferred on the triggerer at once, then lets the analyses finish. The waits
are woken by ICA's notifications (the connection ``ica_events`` names the queue and a
reconcile interval longer than the run), so the triggerer's one consumer delivers them all.
``ICA_E2E_WAITS`` (default 100) sets how many; ``ICA_EXAMPLE_POKE_INTERVAL`` the poll interval
(used only while the queue cannot be read).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.testing import seed

DAG_ID = "ica_e2e_many_waits"
WOKEN_CONN_ID = "ica_events"  # deploy/airflow_e2e/deployment.py creates it
WAITS = int(os.environ.get("ICA_E2E_WAITS", "100"))
ITEMS_PER_BATCH = 3
POLL_INTERVAL = float(os.environ.get("ICA_EXAMPLE_POKE_INTERVAL", "2"))


def batch_items(index: int) -> list[dict[str, object]]:
    """The Nextflow items of batch ``index``: userReference ``wait-<index>-<item>``."""
    return [
        {
            "userReference": f"wait-{index:03d}-{item}",
            "pipelineId": seed.GERMLINE_PIPELINE_ID,  # the fake's seeded catalogue
            "analysisInput": {
                "inputs": [{"parameterCode": "fastq_folder", "dataIds": [seed.FASTQ_FOLDER_ID]}],
                "parameters": [{"code": "sample_id", "value": f"W{index:03d}-{item}"}],
            },
        }
        for item in range(ITEMS_PER_BATCH)
    ]


with DAG(
    dag_id=DAG_ID,
    description=f"{WAITS} batches waited for together on the triggerer (deployment test)",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ica", "e2e"],
):
    # Deferred tasks do not count against max_active_tasks: all of them can wait at once.
    IcaCreateAnalysisBatchOperator.partial(
        task_id="create_and_wait",
        ica_conn_id=WOKEN_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(minutes=30),
    ).expand(nextflow_items=[batch_items(index) for index in range(WAITS)])
