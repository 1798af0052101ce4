"""Nextflow batch from a sample list: create -> wait -> one downstream task per analysis.

Trigger it from the UI with another ``samples`` list (DAG params), e.g.
``{"samples": ["NA12878", "NA12891"]}``. The ``doc_md`` below is what the UI shows.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, Param, get_current_context, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param
    from airflow.operators.python import get_current_context

from ica_airflow_provider.forms import DATA_ID_PATTERN, PIPELINE_ID_PATTERN, sample_names_schema
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor

# Real analyses take hours: poll every few minutes. The demo polls every second.
POKE_INTERVAL = float(os.environ.get("ICA_EXAMPLE_POKE_INTERVAL", "300"))
SUFFIX = "-germline"  # userReference = sample + SUFFIX

DOC_MD = """
### One ICA Nextflow analysis per sample

1. **create_batch** sends one analysis creation batch to ICA (connection `ica_default`): one
   analysis per sample, with userReference `<sample>-germline`. A retried task gets the same
   batch back, never a second one.
2. **wait_for_analyses** waits until every analysis is finished. It fails if more samples
   fail than the form's *Failed samples tolerated* (`max_failures`, default 0), naming each
   failed sample and ICA's reason. Its extra links open ICA: *ICA analyses* (the
   project's analyses) and *ICA analysis* (the first failed analysis, else the first one).
   With `include_outputs`, each succeeded analysis's record in its `analyses` XCom also
   names the analysis's output folder (one more request to ICA per analysis, made once).
3. **output_folders** picks, from those records, each succeeded analysis's output folder.
4. **collect_outputs** runs once per analysis (listed by sample name) and receives that
   analysis's output folder (ICA data ID and name): where a real DAG would download or
   register the results, or start the next pipeline on them.

**Samples** (the trigger form's *samples* box): one name per line; letters, digits, spaces,
`_` and `-` (`/` only between two parts, no dots). Blank lines and spaces around a name are
ignored.

**Trying it against the fake ICA server** (`make demo`, `make e2e`): a sample name containing
a marker (`fail-creation`, `fail-analysis`, `fail-final`, `run-long`, `awaiting-input`,
`stop-job`) fails, delays or stops its analysis; other samples succeed. What each does:
docs/fake-server.md#markers in the provider's repository.

E.g. samples `NA12878` and `NA12891-fail-analysis`: the run fails at *wait_for_analyses*,
whose error names `NA12891-fail-analysis-germline`.
"""

SAMPLES_HELP = (
    "One sample name per line; one analysis per sample. Letters, digits, spaces, '_' and '-'"
    " ('/' only between two parts, no dots). Blank lines and spaces around a name are ignored."
)


def output_folder(record: dict[str, Any]) -> dict[str, str | None]:
    """A succeeded analysis's record (``include_outputs``) -> its sample and output folder."""
    folders = [o for o in record.get("outputs") or () if o["data_type"] == "FOLDER"]
    return {
        "sample": str(record["user_reference"]).removesuffix(SUFFIX),
        "analysis_id": record["analysis_id"],
        "folder_id": folders[0]["data_id"] if folders else None,  # None: the pipeline wrote no folder
        "folder_name": folders[0]["name"] if folders else None,
    }


def sample_names(samples: list[str]) -> list[str]:
    """The names as typed in the form, without blank lines or spaces around them."""
    names = [str(sample).strip() for sample in samples]
    names = [name for name in names if name]
    if not names:
        raise ValueError("samples: no sample name given (the list is empty or only blank lines)")
    return names


with DAG(
    dag_id="example_ica_nextflow_batch",
    description="Launch one ICA Nextflow analysis per sample and wait for all of them",
    doc_md=DOC_MD,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ica", "example"],
    params={
        # The same rules as the operator's (ica_airflow_provider.forms): the form refuses a
        # malformed ID or sample name before a run starts. Spaces around a value (a trailing
        # newline in the box) are allowed and stripped by build_items.
        "samples": Param(
            ["NA12878", "NA12891", "NA12892"],
            title="Samples",
            description=SAMPLES_HELP,
            **sample_names_schema(),
        ),
        # The defaults are in the fake ICA's catalogue (make demo): put your own here.
        "pipeline_id": Param(
            "bb47d612-5906-4d5a-922e-541262c966df",
            type="string",
            pattern=PIPELINE_ID_PATTERN,
            title="Pipeline ID",
            description=(
                "ID (a UUID) of the ICA Nextflow pipeline to run for every sample (ICA: Pipelines > the"
                " pipeline's details)."
            ),
        ),
        "fastq_folder": Param(
            "fol.5f3e9b1c2d4a4e6f8a7b9c0d1e2f3a4b",
            type="string",
            pattern=DATA_ID_PATTERN,
            title="FASTQ folder",
            description="ICA data ID (fol.… or fil.…) of the FASTQ input, passed as the pipeline's fastq_folder input.",
        ),
        "max_failures": Param(
            0,
            type="integer",
            minimum=0,
            title="Failed samples tolerated",
            description=(
                "How many samples may fail (not created, or their analysis failed) while wait_for_analyses"
                " still succeeds and the other samples' outputs are collected. 0: one failed sample fails"
                " the run and nothing is collected."
            ),
        ),
    },
) as dag:

    @task
    def build_items(params: dict[str, object] | None = None) -> list[dict[str, object]]:
        """One Nextflow item per sample, in ICA's own field names."""
        assert params is not None  # Airflow passes the run's params by name
        samples = sample_names(params["samples"])  # type: ignore[arg-type]
        pipeline_id, fastq_folder = str(params["pipeline_id"]).strip(), str(params["fastq_folder"]).strip()
        return [
            {
                "userReference": f"{sample}{SUFFIX}",
                "pipelineId": pipeline_id,
                "tags": {"technicalTags": ["airflow"], "userTags": [sample]},
                "analysisInput": {
                    "inputs": [{"parameterCode": "fastq_folder", "dataIds": [fastq_folder]}],
                    "parameters": [{"code": "sample_id", "value": sample}],
                },
            }
            for sample in samples
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
        include_outputs=True,  # each record names the analysis's output folder
        max_failures="{{ params.max_failures }}",
        # This DAG created the batch: stopping the wait (marked failed, cleared) aborts what still runs.
        # The sensor's default, False, leaves analyses running (and costing) in ICA; the log says which.
        abort_on_kill=True,
    )

    @task
    def output_folders(records: list[dict[str, Any]]) -> list[dict[str, str | None]]:
        """The succeeded analyses of the sensor's ``analyses`` XCom, each with its output folder."""
        return [output_folder(r) for r in records if r["analysis_status"] == "SUCCEEDED"]

    # Listed by sample in the UI: the task puts the sample in its context for the template.
    @task(map_index_template="{{ sample }}")
    def collect_outputs(analysis: dict[str, str | None], project_id: str) -> str | None:
        """Stand-in for the next step (download, register, the next pipeline), per analysis."""
        get_current_context()["sample"] = analysis["sample"]  # type: ignore[typeddict-unknown-key]
        print(
            f"{analysis['sample']}: analysis {analysis['analysis_id']} wrote folder {analysis['folder_name']}"
            f" ({analysis['folder_id']} in project {project_id})"
        )
        return analysis["folder_id"]

    collect_outputs.partial(project_id=create.output["project_id"]).expand(  # type: ignore[index]
        analysis=output_folders(wait.output["analyses"])  # type: ignore[index]
    )
