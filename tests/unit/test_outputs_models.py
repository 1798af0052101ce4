"""The outputs of an analysis: the models, the XCom record form, and the samples against the spec."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import pytest

from ica_airflow_provider.models.outputs import AnalysisOutputList, output_records
from tests.fake_server.spec import schema_errors

FULL_SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "ica-api" / "openapi-full.yaml"
PROJECT = "0b6e1a7c-9d2f-4c3e-8a51-2f7d9e4b6c10"
TENANT = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def data_format(code: str) -> dict[str, Any]:
    """A spec-shaped ``DataFormat`` (every required field)."""
    return {
        "id": "6c8e1f2a-4b3d-4e5f-9a7b-1c2d3e4f5a6b",
        "timeCreated": "2026-11-30T10:00:00Z",
        "timeModified": "2026-11-30T10:00:00Z",
        "ownerId": TENANT,
        "tenantId": TENANT,
        "code": code,
        "description": f"{code} files",
    }


def data(data_id: str, name: str, data_type: str, fmt: str, **more: Any) -> dict[str, Any]:
    return {"dataId": data_id, "name": name, "dataType": data_type, "format": data_format(fmt), **more}


# Two output parameters: an output folder with files (and a nested folder), and a lone file.
OUTPUTS: dict[str, Any] = {
    "items": [
        {
            "code": "outdir",
            "projectId": PROJECT,
            "data": [
                data(
                    "fol.out1",
                    "sample-1_out",
                    "FOLDER",
                    "UNKNOWN",
                    children=[
                        data("fil.bam1", "sample-1.bam", "FILE", "BAM"),
                        data("fil.vcf1", "sample-1.vcf.gz", "FILE", "VCF"),
                        data("fol.qc1", "qc", "FOLDER", "UNKNOWN", children=[data("fil.qc1", "qc.html", "FILE", "HTML")]),
                    ],
                )
            ],
        },
        {"code": "report", "projectId": PROJECT, "data": [data("fil.rep1", "report.pdf", "FILE", "PDF")]},
        {"code": "logs"},  # an output parameter that produced nothing: no data at all
    ]
}


@functools.cache
def _parse(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the full spec is big: C parser when present
    spec: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)
    return spec


def full_spec() -> dict[str, Any]:
    """The full ICA spec; skips (fails with ``ICA_REQUIRE_SPEC=1``) when it is absent."""
    if not FULL_SPEC_PATH.is_file():
        message = f"ICA spec not found at {FULL_SPEC_PATH}; set ICA_REQUIRE_SPEC=1 to make this a failure"
        if os.environ.get("ICA_REQUIRE_SPEC") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return _parse(FULL_SPEC_PATH)


def test_the_sample_is_a_valid_analysis_output_list() -> None:
    spec = full_spec()
    assert schema_errors(spec, {"$ref": "#/components/schemas/AnalysisOutputList"}, OUTPUTS) == []
    # The 200 answer of getAnalysisOutputs is this schema, in the v3 media type only.
    answer = spec["paths"]["/api/projects/{projectId}/analyses/{analysisId}/outputs"]["get"]["responses"]["200"]
    assert answer["content"] == {
        "application/vnd.illumina.v3+json": {"schema": {"$ref": "#/components/schemas/AnalysisOutputList"}}
    }


def test_the_spec_check_would_catch_a_broken_sample() -> None:
    """The validation above is not vacuous: a sample missing required fields fails it."""
    spec = full_spec()
    broken = copy.deepcopy(OUTPUTS)
    del broken["items"][0]["data"][0]["dataId"]
    broken["items"][1]["data"][0]["dataType"] = "LINK"
    errors = schema_errors(spec, {"$ref": "#/components/schemas/AnalysisOutputList"}, broken)
    assert any("dataId" in e for e in errors)
    assert any("LINK" in e for e in errors)


def test_models_read_the_tree_with_python_names() -> None:
    outputs = AnalysisOutputList.model_validate(OUTPUTS)
    first = outputs.items[0]
    assert first.code == "outdir"
    assert first.project_id == PROJECT
    assert first.data is not None
    folder = first.data[0]
    assert (folder.data_id, folder.name, folder.data_type) == ("fol.out1", "sample-1_out", "FOLDER")
    assert folder.children is not None
    assert [c.data_id for c in folder.children] == ["fil.bam1", "fil.vcf1", "fol.qc1"]
    assert folder.children[0].format is not None
    assert folder.children[0].format.code == "BAM"
    nested = folder.children[2].children
    assert nested is not None and nested[0].name == "qc.html"
    assert outputs.items[2].data is None


def test_models_are_lenient_with_new_fields_and_values() -> None:
    """ICA adds fields and enum values over time: neither breaks a running DAG."""
    body = {
        "items": [
            {
                "code": "out",
                "newField": 1,
                "data": [{"dataId": "lnk.1", "name": "x", "dataType": "LINK", "format": {"code": "X"}, "extra": True}],
            }
        ]
    }
    outputs = AnalysisOutputList.model_validate(body)
    assert outputs.items[0].model_extra == {"newField": 1}
    assert output_records(outputs) == [{"code": "out", "data_id": "lnk.1", "name": "x", "data_type": "LINK"}]


def test_models_name_a_missing_required_field() -> None:
    from pydantic import ValidationError

    body = {"items": [{"code": "out", "data": [{"name": "x", "dataType": "FILE"}]}]}
    with pytest.raises(ValidationError, match=r"items\.0\.data\.0\.dataId"):
        AnalysisOutputList.model_validate(body)


def test_output_records_keep_the_top_level_of_each_output_parameter() -> None:
    records = output_records(AnalysisOutputList.model_validate(OUTPUTS))
    assert records == [
        {"code": "outdir", "data_id": "fol.out1", "name": "sample-1_out", "data_type": "FOLDER"},
        {"code": "report", "data_id": "fil.rep1", "name": "report.pdf", "data_type": "FILE"},
    ]


def test_output_records_of_an_analysis_without_outputs_are_empty() -> None:
    assert output_records(AnalysisOutputList.model_validate({"items": []})) == []
