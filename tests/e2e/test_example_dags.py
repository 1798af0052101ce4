"""The example DAGs import cleanly, and `make demo` runs the main one end to end."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "example_dags"


def test_example_dags_import_without_errors() -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES))
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES), include_examples=False)
    assert bag.import_errors == {}
    watchers = {"example_ica_launch_on_upload", "example_ica_on_analysis_succeeded"} if AIRFLOW_V_3_0_PLUS else set()
    assert set(bag.dag_ids) == {"example_ica_nextflow_batch", "example_ica_cwl_batch"} | watchers
    cwl = bag.dags["example_ica_cwl_batch"].get_task("create_and_wait")
    # Airflow read the .json template in at parse time; Jinja renders it at run time.
    assert cwl.cwl_items == (EXAMPLES / "ica_cwl_batch_request.json").read_text()


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("samples", "code", "expected"),
    [
        # Blank entries and spaces around names, as the UI's textarea sends them, are dropped.
        (
            [" NA12878", "", "NA12891 "],
            0,
            [
                "NA12878-germline ",
                "NA12891-germline ",
                "    output output: FOLDER ",  # each analysis's output folder, read back from ICA
                "wrote folder ",  # collect_outputs got it from the sensor's records
                "collect_outputs by sample: NA12878, NA12891",
                "Demo succeeded",
            ],
        ),
        (["X1", "X2-fail-analysis"], 1, ["X2-fail-analysis", "FAILED", "Demo FAILED"]),
        # The fake holds AWAITING_INPUT for 10 s by default: the 1 s polls of the wait see it.
        # (The report at the end shows final statuses: AWAITING_INPUT comes from the wait's log.)
        (["Z1", "Z2-awaiting-input"], 0, ["AWAITING_INPUT", "Z2-awaiting-input-germline", "Demo succeeded"]),
    ],
)
def test_demo(samples: list[str], code: int, expected: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), *samples],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == code, result.stdout[-3000:] + result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout


def load_dag(dag_id: str) -> Any:
    """A fresh parse of the example DAGs (module-level settings read the environment again)."""
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES))
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES), include_examples=False)
    return bag.dags[dag_id]


def validate(dag: Any, conf: dict[str, Any]) -> dict[str, Any]:
    """What triggering with ``conf`` does to the params: merge, then validate each."""
    params = copy.deepcopy(dag.params)
    for name, value in conf.items():
        params[name] = value
    return dict(params.validate())


def param_error() -> type[Exception]:
    try:
        from airflow.sdk.exceptions import ParamValidationError
    except ImportError:  # Airflow 2
        from airflow.exceptions import ParamValidationError  # type: ignore[no-redef,attr-defined]
    return ParamValidationError  # type: ignore[no-any-return]


@pytest.mark.parametrize("dag_id", ["example_ica_nextflow_batch", "example_ica_cwl_batch"])
def test_every_param_is_explained_and_the_dag_documented(dag_id: str) -> None:
    dag = load_dag(dag_id)
    for name in dag.params:
        assert dag.params.get_param(name).description, f"{dag_id}: param {name} has no description"
    assert "fail-analysis" in dag.doc_md and "awaiting-input" in dag.doc_md


@pytest.mark.parametrize("dag_id", ["example_ica_nextflow_batch", "example_ica_cwl_batch"])
def test_samples_accept_blank_lines_and_spaces_but_not_other_characters(dag_id: str) -> None:
    dag = load_dag(dag_id)
    # A trailing newline in the form's box arrives as an empty entry; spaces around a name too.
    # '/' is allowed between two parts, as in ICA's userReference.
    given = ["NA1 ", "", " NA2", "HG002/lane1"]
    assert validate(dag, {"samples": given})["samples"] == given
    for bad in (["NA.1"], ["NA1;rm"], ["NA1/"], [], ["", "  "]):
        with pytest.raises(param_error()):
            validate(dag, {"samples": bad})


@pytest.mark.parametrize(
    ("dag_id", "conf", "words"),
    [
        ("example_ica_nextflow_batch", {"samples": ["NA1", "NA1.bam"]}, "a sample name has only letters, digits"),
        ("example_ica_nextflow_batch", {"samples": ["", " "]}, "only blank lines: give at least one sample name"),
        ("example_ica_nextflow_batch", {"pipeline_id": "not a pipeline id!"}, "an ICA pipeline ID is a UUID"),
        ("example_ica_nextflow_batch", {"fastq_folder": "not-a-folder"}, "an ICA data ID is fil. for a file"),
        ("example_ica_cwl_batch", {"data_folder": "fil." + "0" * 32}, "an ICA folder ID is fol. and 32"),
        ("example_ica_cwl_batch", {"pipeline_id": "cwl-pipe"}, "an ICA pipeline ID is a UUID"),
    ],
)
def test_the_forms_refusal_says_the_rule_in_words(dag_id: str, conf: dict[str, Any], words: str) -> None:
    with pytest.raises(param_error()) as refused:
        validate(load_dag(dag_id), conf)
    assert words in str(refused.value).splitlines()[0]  # the first line: what the form shows


@pytest.mark.parametrize(("dag_id", "task_id"), [("example_ica_nextflow_batch", "wait_for_analyses"),
                                                 ("example_ica_cwl_batch", "create_and_wait")])
def test_max_failures_comes_from_the_form(dag_id: str, task_id: str) -> None:
    dag = load_dag(dag_id)
    assert validate(dag, {})["max_failures"] == 0
    assert validate(dag, {"max_failures": 2})["max_failures"] == 2
    with pytest.raises(param_error()):
        validate(dag, {"max_failures": -1})
    assert dag.get_task(task_id).max_failures == "{{ params.max_failures }}"
    assert "max_failures" in dag.get_task(task_id).template_fields


def test_the_defaults_are_in_the_fake_icas_catalogue() -> None:
    from ica_airflow_provider.testing import seed

    nextflow = validate(load_dag("example_ica_nextflow_batch"), {})
    assert (nextflow["pipeline_id"], nextflow["fastq_folder"]) == (seed.GERMLINE_PIPELINE_ID, seed.FASTQ_FOLDER_ID)
    cwl = validate(load_dag("example_ica_cwl_batch"), {})
    assert (cwl["pipeline_id"], cwl["data_folder"]) == (seed.TUMOR_NORMAL_PIPELINE_ID, seed.TUMOR_NORMAL_FOLDER_ID)


def test_sample_names_are_stripped_and_blank_lines_dropped() -> None:
    build_items = load_dag("example_ica_nextflow_batch").get_task("build_items").python_callable
    params = {"samples": [" NA1", "", "NA2 \n", "NA 3"], "pipeline_id": " p ", "fastq_folder": "fol.x"}
    items = build_items(params=params)
    assert [item["userReference"] for item in items] == ["NA1-germline", "NA2-germline", "NA 3-germline"]
    assert {item["pipelineId"] for item in items} == {"p"}
    with pytest.raises(ValueError, match="samples: no sample name given"):
        build_items(params={**params, "samples": ["", "  "]})


def test_cwl_template_trims_samples(tmp_path: Path) -> None:
    import jinja2

    template = jinja2.Template((EXAMPLES / "ica_cwl_batch_request.json").read_text())
    params = {"samples": ["PT-1 ", "", " PT-2"], "pipeline_id": "p", "data_folder": "fol.x "}
    items = json.loads(template.render(params=params, run_id="manual__1"))
    assert [item["userReference"] for item in items] == ["PT-1-tumor-normal", "PT-2-tumor-normal"]
    assert items[0]["analysisInput"]["dataIds"] == ["fol.x"]


def test_both_examples_poll_at_the_demo_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICA_EXAMPLE_POKE_INTERVAL", "1.5")
    assert load_dag("example_ica_cwl_batch").get_task("create_and_wait").poll_interval == 1.5
    assert load_dag("example_ica_nextflow_batch").get_task("wait_for_analyses").poke_interval == 1.5
    monkeypatch.delenv("ICA_EXAMPLE_POKE_INTERVAL")
    assert load_dag("example_ica_cwl_batch").get_task("create_and_wait").poll_interval == 300
