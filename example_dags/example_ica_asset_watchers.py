"""Two DAGs started by ICA's own events (Airflow 3 asset watchers): uploads launch a batch, its successes report.

``example_ica_launch_on_upload`` runs when a sample's two FASTQ files (R1 and R2) have been
uploaded under ``/runs/*/fastq/`` of the project: one Nextflow analysis per sample. When those analyses
succeed, ICA's ``ICA_EXEC_002`` events start ``example_ica_on_analysis_succeeded``.

Each watcher reads its own queue (docs/asset-watchers.md#sharing-a-queue). The queues and
project come from the environment when the file is parsed (no connection or network at parse
time): ``ICA_EVENTS_UPLOADS_QUEUE_URL``, ``ICA_EVENTS_ANALYSES_QUEUE_URL``,
``ICA_EVENTS_PROJECT_ID``, and the AWS connection ``ICA_EVENTS_AWS_CONN_ID`` (default
``aws_default``). Subscribe the project once per queue, with that queue's watcher's code:
``ica-notifications-setup --project <id> --queue-url <uploads queue> --event-code ICA_DATA_108``
and ``... --queue-url <analyses queue> --event-code ICA_EXEC_002``. On Airflow 2 this file
defines no DAG.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from ica_airflow_provider import _compat

# One queue per watcher: a message one watcher leaves for another on a shared queue may come back late.
SQS = "https://sqs.eu-central-1.amazonaws.com/123456789012/"
UPLOADS_QUEUE_URL = os.environ.get("ICA_EVENTS_UPLOADS_QUEUE_URL", SQS + "ica-uploads")
ANALYSES_QUEUE_URL = os.environ.get("ICA_EVENTS_ANALYSES_QUEUE_URL", SQS + "ica-analyses")
PROJECT_ID = os.environ.get("ICA_EVENTS_PROJECT_ID", "7595e8f2-32d3-4c76-a324-c6a85dae87b5")
AWS_CONN_ID = os.environ.get("ICA_EVENTS_AWS_CONN_ID", "aws_default")
PIPELINE_CODE = "dragen-germline-nf"  # the pipeline launch_on_upload runs by default (its code, for the second asset)
SUFFIX = "-germline"  # userReference = sample + SUFFIX

DOC_MD = """
### Launch analyses when a sequencing run's FASTQs land in ICA

Scheduled on the asset **ica_run_fastq**, whose watcher reads ICA's `ICA_DATA_108` (data
uploaded) events from its SQS queue and keeps the files whose path matches
`/runs/*/fastq/*.fastq.gz`. It waits for both reads of a sample (Illumina names:
`<sample>_S1_L001_R1_001.fastq.gz` or `<sample>_R1.fastq.gz`, in one folder): each sample
whose R1 and R2 have been uploaded is one asset event.

1. **batch_items** makes one Nextflow item per sample of the events that started this run,
   userReference `<sample>-germline`, the sample's files as the input *Input parameter code*.
   Airflow may start one run for events that arrive together: the batch then has all their
   samples.
2. **create_batch** sends them to ICA as one analysis creation batch (connection
   `ica_default`) and does not wait: the analyses' success starts
   *example_ica_on_analysis_succeeded*.

A duplicate delivery of an event starts no second run. Setup, sharing the queue with waits,
and what happens on a triggerer restart: docs/asset-watchers.md in the provider's repository.

**Trying it against the fake ICA server**: upload files with `POST /_fake/projects/<project>/data:upload`
(docs/fake-server.md). A sample name containing a marker (`fail-creation`, `fail-analysis`,
`fail-final`, `run-long`, `awaiting-input`, `stop-job`), e.g. `S2-fail-analysis_R1.fastq.gz`,
fails, delays or stops its analysis; other samples succeed (and start the second DAG). What
each does: docs/fake-server.md#markers in the provider's repository.
"""

REPORT_DOC_MD = """
### React to analyses that succeeded in ICA

Scheduled on the asset **ica_germline_succeeded**, whose watcher reads ICA's `ICA_EXEC_002`
(analysis succeeded) events from a queue of its own, those of the `dragen-germline-nf`
pipeline: each succeeded analysis is one asset event (a duplicate delivery is not).

**succeeded_analyses** lists the analyses of the events that started this run (id,
userReference, time): where a real DAG would fetch outputs or start the next step.
"""

if _compat.HAS_ASSET_WATCHERS:
    from airflow.sdk import DAG, Param, task

    from ica_airflow_provider.forms import PIPELINE_ID_PATTERN
    from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
    from ica_airflow_provider.watchers import (
        event_payloads,
        fastq_batch_items,
        ica_analyses_succeeded_asset,
        ica_uploads_asset,
    )

    run_fastq = ica_uploads_asset(
        "ica_run_fastq", sqs_queue=UPLOADS_QUEUE_URL, aws_conn_id=AWS_CONN_ID, project_id=PROJECT_ID,
        path_glob="/runs/*/fastq/*.fastq.gz", files_per_sample=2,
    )
    germline_succeeded = ica_analyses_succeeded_asset(
        "ica_germline_succeeded", sqs_queue=ANALYSES_QUEUE_URL, aws_conn_id=AWS_CONN_ID, project_id=PROJECT_ID,
        pipeline_codes=[PIPELINE_CODE],
    )

    with DAG(
        dag_id="example_ica_launch_on_upload",
        description="Launch one ICA analysis per sample once its two FASTQs are uploaded",
        doc_md=DOC_MD,
        schedule=[run_fastq],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["ica", "example", "events"],
        params={
            "pipeline_id": Param(
                "bb47d612-5906-4d5a-922e-541262c966df",
                type="string",
                pattern=PIPELINE_ID_PATTERN,
                title="Pipeline ID",
                description=(
                    "ID (a UUID) of the ICA Nextflow pipeline to run for every uploaded sample (ICA: Pipelines >"
                    " the pipeline's details); its code must be the one the second DAG's asset names."
                ),
            ),
            "parameter_code": Param(
                "fastq_folder",
                type="string",
                minLength=1,
                title="Input parameter code",
                description="The pipeline's input parameter that receives the data IDs of a sample's FASTQ files.",
            ),
        },
    ):

        @task
        def batch_items(
            params: dict[str, Any] | None = None, triggering_asset_events: Any = None
        ) -> list[dict[str, Any]]:
            """One Nextflow item per sample of the uploaded FASTQs."""
            assert params is not None
            items = fastq_batch_items(
                triggering_asset_events,
                pipeline_id=str(params["pipeline_id"]).strip(),
                parameter_code=str(params["parameter_code"]).strip(),
                reference_suffix=SUFFIX,
            )
            if not items:
                raise ValueError("triggering_asset_events: no FASTQ of a sample among the uploaded files")
            return items

        IcaCreateAnalysisBatchOperator(
            task_id="create_batch",
            project_id=PROJECT_ID,
            nextflow_items=batch_items(),
        )

    with DAG(
        dag_id="example_ica_on_analysis_succeeded",
        description="Report each ICA germline analysis that succeeded",
        doc_md=REPORT_DOC_MD,
        schedule=[germline_succeeded],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["ica", "example", "events"],
    ):

        @task
        def succeeded_analyses(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
            """The analyses whose success started this run."""
            found = [
                {"analysis_id": p["id"], "user_reference": p["user_reference"], "time": p["time_modified"]}
                for p in event_payloads(triggering_asset_events)
                if p["kind"] == "analysis"
            ]
            for analysis in found:
                logging.getLogger(__name__).info("Succeeded: %(user_reference)s (%(analysis_id)s)", analysis)
            return found

        succeeded_analyses()
else:
    logging.getLogger(__name__).info(
        "example_ica_asset_watchers: skipped, asset watchers need Airflow 3.0 or later (this is Airflow %s)",
        ".".join(map(str, _compat.AIRFLOW_VERSION)),
    )
