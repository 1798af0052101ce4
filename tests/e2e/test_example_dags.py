"""The example DAGs import cleanly, and `make demo` runs the main one end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
        ([], 0, ["NA12878-germline", "NA12891-germline", "NA12892-germline", "Demo succeeded"]),
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
