"""OpenLineage for a batch: datasets, namespaces and names, the run facet, and no OpenLineage at all."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import ica_airflow_provider
from ica_airflow_provider import openlineage as lineage
from ica_airflow_provider.models.request import CreateAnalysisCreationBatch

BASE_URL = "https://ICA.example.test/ica/rest"
NAMESPACE = "ica://ica.example.test"
PROJECT = "proj-1"
BATCH = "7d3c2a9e-55b4-4f5e-9c61-0a8f2b7e4d13"
UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# ICA data IDs the items read (fil./fol. and 32 hex digits), numbered for reading.
R1, R2, REF, J1, N1, F1, G1 = (f"fil.{n:032x}" for n in (1, 2, 3, 4, 5, 6, 7))
J2 = f"fol.{8:032x}"
PIPELINE_CWL, PIPELINE_NF, PIPELINE_NF_JSON = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))

# One item of each kind, in every place an item can name ICA data; REF is read by two
# items, and S1 names R1 twice. URLs, reference data and folders the analysis writes to
# are not data it reads.
REQUEST = CreateAnalysisCreationBatch.model_validate(
    {
        "cwlItems": [
            {
                "userReference": "S1",
                "pipelineId": PIPELINE_CWL,
                "outputParentFolderId": "fol.parent",
                "logs": {"logsFolderId": "fol.logs"},
                "analysisInput": {
                    "objectType": "STRUCTURED",
                    "inputs": [
                        {
                            "parameterCode": "reads",
                            "dataIds": [R1, R2, R1],
                            "mounts": [{"dataId": REF, "mountPath": "ref/genome.fa"}],
                            "externalData": [{"url": "s3://bucket/x.fastq", "type": "s3"}],
                        }
                    ],
                    "referenceDataParameters": [{"parameterCode": "ref", "referenceDataId": UUID}],
                },
            },
            {
                "userReference": "S2",
                "pipelineId": PIPELINE_CWL,
                "analysisInput": {
                    "objectType": "JSON",
                    "inputJson": json.dumps({"reads": {"class": "File", "dataId": "fil.not-parsed"}}),
                    "dataIds": [J1],
                    "mounts": [{"dataId": J2, "mountPath": "in/"}],
                },
            },
        ],
        "nextflowItems": [
            {
                "userReference": "S3",
                "pipelineId": PIPELINE_NF,
                "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": [N1, REF]}]},
            }
        ],
        "nextflowJsonItems": [
            {
                "userReference": "S4",
                "pipelineId": PIPELINE_NF_JSON,
                "inputFormValues": {
                    "fields": [{"id": "reads", "dataValues": [{"dataId": F1}], "values": ["x"]}],
                    "groups": [
                        {"id": "lanes", "values": [{"values": [{"id": "lane", "dataValues": [{"dataId": G1}]}]}]}
                    ],
                },
            }
        ],
    }
).to_ica()


def record(ref: str, analysis_id: str | None, status: str | None, **more: Any) -> dict[str, Any]:
    """An ``analyses`` XCom record, as the sensor pushes it."""
    item_status = "FAILED" if analysis_id is None else "SUCCEEDED"
    return {
        "item_id": f"item-{ref}",
        "user_reference": ref,
        "pipeline_id": "pipe",
        "item_status": item_status,
        "analysis_id": analysis_id,
        "analysis_status": status,
        "reason": None,
        **more,
    }


def out(code: str, data_id: str, name: str, data_type: str = "FOLDER") -> dict[str, str]:
    return {"code": code, "data_id": data_id, "name": name, "data_type": data_type}


# S1 and S3 succeeded (with outputs), S2 failed as an analysis, S4 was never created.
RECORDS = [
    record("S1", "an-1", "SUCCEEDED", outputs=[out("outdir", "fol.o1", "S1_out"), out("report", "fil.p1", "r.pdf", "FILE")]),
    record("S2", "an-2", "FAILED"),
    record("S3", "an-3", "SUCCEEDED", outputs=[out("outdir", "fol.o3", "S3_out")]),
    record("S4", None, None),
]


@pytest.fixture
def ol() -> Any:
    """The OpenLineage provider; its tests skip (saying so) in an environment without it."""
    return pytest.importorskip(
        "airflow.providers.openlineage.extractors",
        reason="apache-airflow-providers-openlineage is not installed (the 'openlineage' extra)",
    )


def names(datasets: list[Any]) -> list[str]:
    assert {d.namespace for d in datasets} <= {NAMESPACE}
    return [d.name for d in datasets]


# -- the scheme, without OpenLineage ----------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://ica.illumina.com/ica/rest", "ica://ica.illumina.com"),
        ("https://ICA.Illumina.com:443/ica/rest/", "ica://ica.illumina.com:443"),
        ("http://127.0.0.1:8642/ica/rest", "ica://127.0.0.1:8642"),
        ("http://[::1]:8642/ica/rest", "ica://[::1]:8642"),
        ("https://user@ica.example.test/ica/rest", "ica://ica.example.test"),
    ],
)
def test_namespace_is_the_api_host(base_url: str, namespace: str) -> None:
    assert lineage.dataset_namespace(base_url) == namespace


def test_namespace_needs_a_host() -> None:
    with pytest.raises(ValueError, match="base_url: no host in '/ica/rest'"):
        lineage.dataset_namespace("/ica/rest")


def test_dataset_name_is_project_and_data_id() -> None:
    assert lineage.dataset_name("proj-9", "fil.abc") == "proj-9/fil.abc"


def test_request_data_ids_per_item_from_every_kind_of_input() -> None:
    assert lineage.request_data_ids(REQUEST) == {
        "S1": [R1, R2, REF],
        "S2": [J1, J2],
        "S3": [N1, REF],
        "S4": [F1, G1],
    }
    assert lineage.request_data_ids(None) == {}


# -- the lineage ----------------------------------------------------------------------------------


def build(records: list[dict[str, Any]], batch_request: Any = REQUEST) -> Any:
    return lineage.batch_lineage(
        base_url=BASE_URL, project_id=PROJECT, batch_id=BATCH, batch_request=batch_request, records=records
    )


def test_inputs_are_what_the_created_analyses_read_and_outputs_what_they_wrote(ol: Any) -> None:
    result = build(RECORDS)

    assert isinstance(result, ol.OperatorLineage)
    # S4 was never created: its data was read by no analysis. REF appears once.
    assert names(result.inputs) == [
        f"{PROJECT}/{i}" for i in [R1, R2, REF, J1, J2, N1]
    ]
    assert names(result.outputs) == [f"{PROJECT}/{o}" for o in ["fol.o1", "fil.p1", "fol.o3"]]
    assert result.job_facets == {}


def test_the_run_facet_says_which_analysis_read_and_wrote_what(ol: Any) -> None:
    from openlineage.client.facet_v2 import RunFacet
    from openlineage.client.serde import Serde

    facet = build(RECORDS).run_facets[lineage.FACET_NAME]

    assert isinstance(facet, RunFacet)
    as_json = json.loads(Serde.to_json(facet))
    assert as_json["_schemaURL"] == lineage.FACET_SCHEMA_URL
    assert as_json["_producer"]
    assert as_json["projectId"] == PROJECT
    assert as_json["batchId"] == BATCH
    assert as_json["analyses"] == [
        {
            "analysisId": "an-1",
            "userReference": "S1",
            "status": "SUCCEEDED",
            "inputDataIds": [R1, R2, REF],
            "outputDataIds": ["fol.o1", "fil.p1"],
        },
        {
            "analysisId": "an-2",
            "userReference": "S2",
            "status": "FAILED",
            "inputDataIds": [J1, J2],
            "outputDataIds": [],
        },
        {
            "analysisId": "an-3",
            "userReference": "S3",
            "status": "SUCCEEDED",
            "inputDataIds": [N1, REF],
            "outputDataIds": ["fol.o3"],
        },
    ]


def test_without_records_every_requested_item_counts_and_nothing_is_known_of_outputs(ol: Any) -> None:
    """An operator that does not wait: the batch exists, no analysis is known yet."""
    result = build([])

    assert names(result.inputs) == [
        f"{PROJECT}/{i}" for i in [R1, R2, REF, J1, J2, N1, F1, G1]
    ]
    assert result.outputs == []
    assert result.run_facets[lineage.FACET_NAME].analyses == []


def test_without_a_request_a_sensor_reports_the_outputs_and_the_analyses(ol: Any) -> None:
    result = build(RECORDS, batch_request=None)

    assert result.inputs == []
    assert names(result.outputs) == [f"{PROJECT}/{o}" for o in ["fol.o1", "fil.p1", "fol.o3"]]
    facet = result.run_facets[lineage.FACET_NAME]
    assert [a.analysisId for a in facet.analyses] == ["an-1", "an-2", "an-3"]
    assert all(a.inputDataIds == [] for a in facet.analyses)


# -- from a task ----------------------------------------------------------------------------------


def test_task_lineage_is_the_batch_lineage_once_there_is_a_batch(ol: Any) -> None:
    result = lineage.task_lineage(
        base_url=BASE_URL, project_id=PROJECT, batch_id=BATCH, records=RECORDS, batch_request=REQUEST
    )

    assert result == build(RECORDS)
    assert result is not None
    assert result.run_facets[lineage.FACET_NAME].batchId == BATCH


def test_task_lineage_is_none_when_the_task_ended_before_it_had_a_batch(ol: Any) -> None:
    assert lineage.task_lineage(base_url=BASE_URL, project_id=PROJECT, batch_id=None, batch_request=REQUEST) is None
    assert lineage.task_lineage(base_url=BASE_URL, project_id=PROJECT, batch_id="", records=RECORDS) is None


def test_the_openlineage_extractor_takes_the_lineage_as_it_is(ol: Any) -> None:
    """Through the provider's own extractor, as its listener calls it at the end of a task."""
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    class Task:
        """What the operator keeps of its run, and the method the listener calls."""

        task_type = "IcaCreateAnalysisBatchOperator"
        batch_id, records = BATCH, RECORDS

        def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
            return lineage.task_lineage(
                base_url=BASE_URL,
                project_id=PROJECT,
                batch_id=self.batch_id,
                records=self.records,
                batch_request=REQUEST,
            )

    extracted = DefaultExtractor(Task()).extract_on_complete(object())

    assert extracted is not None
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-11-30T12:00:00+00:00",
        run=Run(runId="01939d3e-0000-7000-8000-000000000000", facets=extracted.run_facets),
        job=Job(namespace="default", name="dag.create"),
        inputs=extracted.inputs,
        outputs=extracted.outputs,
    )
    emitted = json.loads(Serde.to_json(event))
    assert [d["name"] for d in emitted["outputs"]] == [f"{PROJECT}/{o}" for o in ["fol.o1", "fil.p1", "fol.o3"]]
    assert {d["namespace"] for d in emitted["inputs"] + emitted["outputs"]} == {NAMESPACE}
    assert emitted["run"]["facets"][lineage.FACET_NAME]["batchId"] == BATCH


# -- without OpenLineage --------------------------------------------------------------------------


@pytest.fixture
def without_openlineage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """This module imported afresh where OpenLineage cannot be imported (restored afterwards)."""
    import importlib

    for name in [*sys.modules, "openlineage", "airflow.providers.openlineage"]:
        if name.split(".")[0] == "openlineage" or name.startswith("airflow.providers.openlineage"):
            monkeypatch.setitem(sys.modules, name, None)  # makes `import name` raise ImportError
    monkeypatch.delitem(sys.modules, lineage.__name__)
    monkeypatch.setattr(ica_airflow_provider, "openlineage", lineage)  # restored on the package too
    yield importlib.import_module(lineage.__name__)


def test_without_openlineage_the_module_imports_and_the_helper_answers_none(without_openlineage: Any) -> None:
    module = without_openlineage

    assert module is not lineage
    assert module.OPENLINEAGE_AVAILABLE is False
    assert not hasattr(module, "IcaBatchRunFacet")
    answer = module.task_lineage(
        base_url=BASE_URL, project_id=PROJECT, batch_id=BATCH, records=RECORDS, batch_request=REQUEST
    )
    assert answer is None
    # The scheme itself needs no OpenLineage.
    assert module.dataset_namespace(BASE_URL) == NAMESPACE
