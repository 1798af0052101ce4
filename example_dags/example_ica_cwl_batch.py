"""CWL batch whose request lives in a ``.json`` template beside the DAG.

``ica_cwl_batch_request.json`` is rendered with Jinja (params, run_id, ...), parsed and
validated before anything is sent. The operator waits itself (``wait_for_completion``),
deferring to the triggerer while the analyses run. The ``doc_md`` below is what the UI shows.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models.param import Param

from ica_airflow_provider.forms import FOLDER_ID_PATTERN, PIPELINE_ID_PATTERN, sample_names_schema
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator

# Real analyses take hours: poll every few minutes. The demo and e2e deployment poll faster.
POLL_INTERVAL = float(os.environ.get("ICA_EXAMPLE_POKE_INTERVAL", "300"))

DOC_MD = """
### Tumor/normal CWL analyses from a JSON request template

**create_and_wait** renders `ica_cwl_batch_request.json` (one analysis per sample, with
userReference `<sample>-tumor-normal`, inputs `<sample>/tumor.bam` and `<sample>/normal.bam`),
sends it to ICA as one analysis creation batch (connection `ica_default`), then waits on the
triggerer until every analysis is finished. It fails if more samples fail than the form's
*Failed samples tolerated* (`max_failures`, default 0), naming each failed sample and ICA's reason. Its extra link *ICA analyses* opens the project's analyses in ICA.

**Samples** (the trigger form's *samples* box): one name per line; letters, digits, spaces,
`_` and `-` (`/` only between two parts, no dots). Blank lines and spaces around a name are
ignored.

**Trying it against the fake ICA server** (`make demo`, `make e2e`): a sample name containing
a marker (`fail-creation`, `fail-analysis`, `fail-final`, `run-long`, `awaiting-input`,
`stop-job`) fails, delays or stops its analysis; other samples succeed. What each does:
docs/fake-server.md#markers in the provider's repository.
"""

with DAG(
    dag_id="example_ica_cwl_batch",
    description="Tumor/normal CWL analyses from a JSON request template",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ica", "example"],
    params={
        # The operator's rules (ica_airflow_provider.forms); spaces around a value are
        # allowed and trimmed by the request template. The defaults are in the fake ICA's catalogue.
        "samples": Param(
            ["PT-001", "PT-002"],
            title="Samples",
            description=(
                "One patient sample per line; one tumor/normal analysis per sample. Letters, digits, "
                "spaces, '_' and '-' ('/' only between two parts, no dots). Blank lines and spaces"
                " around a name are ignored."
            ),
            **sample_names_schema(),
        ),
        "pipeline_id": Param(
            "6a0a1f1e-2c3b-4d5e-8f90-a1b2c3d4e5f6",
            type="string",
            pattern=PIPELINE_ID_PATTERN,
            title="Pipeline ID",
            description=(
                "ID (a UUID) of the ICA CWL pipeline to run for every sample (ICA: Pipelines > the"
                " pipeline's details)."
            ),
        ),
        "data_folder": Param(
            "fol.0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            type="string",
            pattern=FOLDER_ID_PATTERN,
            title="Data folder",
            description="ICA data ID (fol.…) of the folder holding each sample's tumor.bam and normal.bam.",
        ),
        "max_failures": Param(
            0,
            type="integer",
            minimum=0,
            title="Failed samples tolerated",
            description=(
                "How many samples may fail (not created, or their analysis failed) while create_and_wait"
                " still succeeds. 0: one failed sample fails the task."
            ),
        ),
    },
) as dag:
    IcaCreateAnalysisBatchOperator(
        task_id="create_and_wait",
        cwl_items="ica_cwl_batch_request.json",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=2),
        max_failures="{{ params.max_failures }}",
        abort_on_kill=True,  # the default, stated: stopping the task aborts the analyses still running
    )
