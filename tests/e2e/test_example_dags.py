"""The example DAGs import cleanly, and `make demo` runs the main one end to end."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
    assert set(bag.dag_ids) == {"example_ica_nextflow_batch", "example_ica_cwl_batch"}
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
    assert validate(dag, {"samples": ["NA1 ", "", " NA2"]})["samples"] == ["NA1 ", "", " NA2"]
    for bad in (["NA/1"], ["NA1;rm"], []):
        with pytest.raises(param_error()):
            validate(dag, {"samples": bad})


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
