"""CWL batch whose request lives in a ``.json`` template beside the DAG.

``ica_cwl_batch_request.json`` is rendered with Jinja (params, run_id, ...), parsed and
validated before anything is sent. The operator waits itself (``wait_for_completion``),
deferring to the triggerer while the analyses run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models.param import Param

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator

with DAG(
    dag_id="example_ica_cwl_batch",
    description="Tumor/normal CWL analyses from a JSON request template",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ica", "example"],
    params={
        "samples": Param(["PT-001", "PT-002"], type="array", minItems=1),
        "pipeline_id": Param("6a0a1f1e-2c3b-4d5e-8f90-a1b2c3d4e5f6", type="string"),
        "data_folder": Param("fol.0a1b2c3d4e5f60718293a4b5c6d7e8f9", type="string"),
    },
) as dag:
    IcaCreateAnalysisBatchOperator(
        task_id="create_and_wait",
        cwl_items="ica_cwl_batch_request.json",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=300,
        timeout=timedelta(days=2),
    )
