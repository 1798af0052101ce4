"""Nextflow batch from a sample list: create -> wait -> one downstream task per analysis.

Trigger it from the UI with another ``samples`` list (DAG params), e.g.
``{"samples": ["NA12878", "NA12891"]}``. Against the fake ICA server, a sample whose
name contains ``fail-analysis`` makes its analysis fail.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor

# Real analyses take hours: poll every few minutes. The demo polls every second.
POKE_INTERVAL = float(os.environ.get("ICA_EXAMPLE_POKE_INTERVAL", "300"))

with DAG(
    dag_id="example_ica_nextflow_batch",
    description="Launch one ICA Nextflow analysis per sample and wait for all of them",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ica", "example"],
    params={
        "samples": Param(
            ["NA12878", "NA12891", "NA12892"],
            type="array",
            items={"type": "string", "pattern": "^[a-zA-Z0-9 _-]+$"},
            minItems=1,
            description="Sample names; one analysis per sample.",
        ),
        "pipeline_id": Param("bb47d612-5906-4d5a-922e-541262c966df", type="string"),
        "fastq_folder": Param("fol.5f3e9b1c2d4a4e6f8a7b9c0d1e2f3a4b", type="string"),
    },
) as dag:

    @task
    def build_items(params: dict[str, object] | None = None) -> list[dict[str, object]]:
        """One Nextflow item per sample, in ICA's own field names."""
        assert params is not None  # Airflow passes the run's params by name
        samples, pipeline_id, fastq_folder = params["samples"], params["pipeline_id"], params["fastq_folder"]
        return [
            {
                "userReference": f"{sample}-germline",
                "pipelineId": pipeline_id,
                "tags": {"technicalTags": ["airflow"], "userTags": [sample]},
                "analysisInput": {
                    "inputs": [{"parameterCode": "fastq_folder", "dataIds": [fastq_folder]}],
                    "parameters": [{"code": "sample_id", "value": sample}],
                },
            }
            for sample in samples  # type: ignore[attr-defined]
        ]

    create = IcaCreateAnalysisBatchOperator(
        task_id="create_batch",
        nextflow_items=build_items(),
    )

    wait = IcaAnalysisBatchSensor(
        task_id="wait_for_analyses",
        batch_id=create.output,
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(days=3),
        mode="reschedule" if POKE_INTERVAL >= 60 else "poke",
    )

    @task
    def collect_outputs(analysis_id: str) -> str:
        """Stand-in for the next step: fetch outputs, register results, ..."""
        print(f"analysis {analysis_id} succeeded")
        return analysis_id

    collect_outputs.expand(analysis_id=wait.output)
