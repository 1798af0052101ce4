"""The request models (strict, ICA camelCase JSON) and the response models (lenient)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from ica_airflow_provider.models import (
    BATCH_ITEM_FIELDS,
    AnalysisCreationBatch,
    AnalysisCreationBatchItem,
    AnalysisCreationBatchItemPage,
    AnalysisParameterInput,
    CreateAnalysisCreationBatch,
    CreateNextflowAnalysis,
    CwlAnalysisJsonInput,
    InputFormFieldValues,
    Token,
    format_validation_error,
)
from ica_airflow_provider.models import request as request_models
from tests.fake_server.spec import load_spec

UUID_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
UUID_B = "0b6e1a7c-9d2f-4c3e-8a51-2f7d9e4b6c10"

# Every request field, in ICA's own names, with values already in the form we send
# (strings, canonical UUIDs), so that the dump must give back exactly this.
RICH_BATCH: dict[str, Any] = {
    "cwlItems": [
        {
            "userReference": "sample-1/cwl structured",
            "pipelineId": "6a0a1f1e-2c3b-4d5e-8f90-a1b2c3d4e5f6",
            "tags": {"technicalTags": ["t1"], "userTags": ["u1"], "referenceTags": ["r1"]},
            "analysisStorageId": UUID_A,
            "outputParentFolderId": "fol.123",
            "logs": {"logsFolderId": "fol.456", "logsFolderPath": "/logs/run_1/"},
            "analysisOutput": [
                {
                    "sourcePath": "out/",
                    "type": "FOLDER",
                    "targetProjectId": "proj-2",
                    "targetPath": "/copies/",
                    "actionOnExist": "RENAME",
                }
            ],
            "analysisInput": {
                "objectType": "STRUCTURED",
                "inputs": [
                    {
                        "parameterCode": "reads",
                        "dataIds": ["fil.00000000000000000000000000000001", "fil.00000000000000000000000000000002"],
                        "mounts": [{"dataId": "fil.00000000000000000000000000000003", "mountPath": "ref/genome.fa"}],
                        "externalData": [
                            {
                                "url": "s3://bucket/key.fastq.gz",
                                "type": "s3",
                                "mountPath": "in/key.fastq.gz",
                                "s3Details": {"storageCredentialsId": UUID_B},
                            },
                            {
                                "url": "https://api.basespace.illumina.com/v1pre3/runs/1",
                                "type": "basespace",
                                "basespaceDetails": {
                                    "workgroupId": "wg",
                                    "extensions": ".fastq.gz",
                                    "pathPrefix": "Data/",
                                },
                            },
                        ],
                    }
                ],
                "parameters": [
                    {"code": "threads", "value": "4"},
                    {"code": "modes", "multiValue": ["a", "b"]},
                ],
                "referenceDataParameters": [{"parameterCode": "genome", "referenceDataId": UUID_B}],
            },
            "activationCodeDetailId": UUID_A,
        },
        {
            "userReference": "sample-1/cwl json",
            "pipelineId": "6a0a1f1e-2c3b-4d5e-8f90-a1b2c3d4e5f6",
            "analysisInput": {
                "objectType": "JSON",
                "inputJson": '{"reads":{"class":"File","location":"in/r1.fq"}}',
                "dataIds": ["fil.00000000000000000000000000000009"],
                "mounts": [{"dataId": "fil.00000000000000000000000000000009", "mountPath": "in/r1.fq"}],
                "externalData": [{"url": "https://example.org/x.txt", "type": "http"}],
            },
        },
    ],
    "nextflowItems": [
        {
            "userReference": "sample_1 nextflow",
            "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
            "analysisInput": {
                "inputs": [{"parameterCode": "input", "dataIds": ["fil.00000000000000000000000000000004"]}],
                "parameters": [{"code": "genome", "value": "GRCh38"}],
            },
            "activationCodeDetailId": UUID_B,
        }
    ],
    "nextflowJsonItems": [
        {
            "userReference": "/sample-1/nextflow json",
            "pipelineId": "0f8d3c2b-7a61-4e59-9b1d-2c4e6a8f0b13",
            "tags": {"userTags": []},
            "inputFormValues": {
                "fields": [
                    {"id": "min_quality", "values": ["30"]},
                    {"id": "samplesheet", "dataValues": [{"dataId": "fil.00000000000000000000000000000005", "mountPath": "ss.csv"}]},
                    {"id": "remote", "externalDataValues": [{"url": "s3://b/k", "type": "s3"}]},
                ],
                "groups": [
                    {
                        "id": "lanes",
                        "values": [{"values": [{"id": "lane", "values": ["1", "2"]}]}],
                    }
                ],
            },
        }
    ],
}


def _snake(data: Any) -> Any:
    """The same data with every key in Python naming (values untouched)."""
    if isinstance(data, list):
        return [_snake(item) for item in data]
    if isinstance(data, dict):
        return {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in key): _snake(value)
            for key, value in data.items()
        }
    return data


def _nextflow_item(ref: str = "s1", **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "userReference": ref,
        "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
        "analysisInput": {"inputs": [{"parameterCode": "input", "dataIds": ["fil.00000000000000000000000000000001"]}]},
    }
    item.update(changes)
    return item


def _errors(data: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        CreateAnalysisCreationBatch.model_validate(data)
    return format_validation_error(info.value)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


# --- requests: round trip --------------------------------------------------------------------


def test_camel_case_input_dumps_to_the_same_ica_json() -> None:
    batch = CreateAnalysisCreationBatch.model_validate(copy.deepcopy(RICH_BATCH))
    assert batch.to_ica() == RICH_BATCH
    assert batch.model_dump(by_alias=True, exclude_none=True, mode="json") == RICH_BATCH


def test_snake_case_input_gives_the_same_ica_json() -> None:
    snake = _snake(RICH_BATCH)
    assert "user_reference" in snake["cwl_items"][0]
    assert CreateAnalysisCreationBatch.model_validate(snake).to_ica() == RICH_BATCH


def test_python_construction_gives_ica_json() -> None:
    item = CreateNextflowAnalysis(
        user_reference="s1",
        pipeline_id="5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
        analysis_input={"inputs": [{"parameter_code": "x"}]},  # type: ignore[arg-type]
    )
    batch = CreateAnalysisCreationBatch(nextflow_items=[item])
    assert batch.to_ica() == {
        "nextflowItems": [
            {"userReference": "s1", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "analysisInput": {"inputs": [{"parameterCode": "x"}]}}
        ]
    }


def test_all_items_follow_icas_order() -> None:
    batch = CreateAnalysisCreationBatch.model_validate(
        {
            "nextflowJsonItems": [{"userReference": "j", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "inputFormValues": {}}],
            "nextflowItems": [_nextflow_item("n")],
            "cwlItems": [
                {
                    "userReference": "c",
                    "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
                    "analysisInput": {"objectType": "JSON", "inputJson": "{}"},
                }
            ],
        }
    )
    assert [item.user_reference for item in batch.all_items()] == ["c", "n", "j"]
    assert list(batch.to_ica()) == ["cwlItems", "nextflowItems", "nextflowJsonItems"]


def test_request_aliases_match_the_spec(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    renamed = {"AnalysisInputS3Details": "AnalysisS3DataDetails"}
    renamed["AnalysisInputBaseSpaceDetails"] = "AnalysisBaseSpaceDataDetails"
    for name in request_models.__all__:
        model = getattr(request_models, name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or name == "CreateAnalysisBase":
            continue
        schema = schemas[renamed.get(name, name)]
        aliases = {field.alias: field for field in model.model_fields.values()}
        assert set(aliases) == set(schema["properties"]), name
        required = {alias for alias, field in aliases.items() if field.is_required()}
        # objectType has a default for Python callers; in dicts the discriminator demands it.
        assert required == set(schema.get("required", [])) - {"objectType"}, name


# --- requests: strictness and messages -----------------------------------------------------------


def test_unknown_field_is_reported_with_its_path_and_a_hint() -> None:
    item = _nextflow_item()
    item["userRefrence"] = item.pop("userReference")
    assert _errors({"nextflowItems": [item]}) == [
        "nextflow_items[0].userReference: Field required",
        "nextflow_items[0].userRefrence: Extra inputs are not permitted (did you mean 'userReference'?)",
    ]


def test_unknown_nested_and_top_level_fields_are_rejected() -> None:
    item = _nextflow_item()
    item["analysisInput"]["inputs"][0]["dataIDs"] = ["fil.00000000000000000000000000000002"]
    assert _errors({"nextflowItems": [item], "cwlItem": []}) == [
        "nextflow_items[0].analysisInput.inputs[0].dataIDs: Extra inputs are not permitted"
        " (did you mean 'dataIds'?)",
        "cwlItem: Extra inputs are not permitted (did you mean 'cwlItems'?)",
    ]


def test_a_field_of_another_object_gets_no_misleading_hint() -> None:
    item = {"userReference": "j", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "inputFormValues": {}, "analysisInput": {}}
    assert _errors({"nextflowJsonItems": [item]}) == [
        "nextflow_json_items[0].analysisInput: Extra inputs are not permitted"
    ]


def test_the_same_field_under_both_names_is_rejected() -> None:
    item = _nextflow_item(pipeline_id="other")
    assert _errors({"nextflowItems": [item]}) == [
        "nextflow_items[0].pipeline_id: Extra inputs are not permitted"
    ]


def test_nested_error_format() -> None:
    items = [_nextflow_item("a"), _nextflow_item("b", analysisInput={"inputs": [{"dataIds": []}]})]
    assert _errors({"nextflow_items": items}) == [
        "nextflow_items[1].analysisInput.inputs[0].parameterCode: Field required"
    ]


def test_error_format_with_root_for_one_item() -> None:
    model = BATCH_ITEM_FIELDS["nextflow_items"]
    with pytest.raises(ValidationError) as info:
        model.model_validate(_nextflow_item(pipelineId="", analysisInput={"inputs": [{}]}))
    assert format_validation_error(info.value, root="nextflow_items[1]") == [
        "nextflow_items[1].pipelineId: '' is not an ICA pipeline ID: a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6 (ICA: Pipelines > the pipeline's details)",
        "nextflow_items[1].analysisInput.inputs[0].parameterCode: Field required",
    ]


def test_error_format_with_root_for_one_list() -> None:
    adapter: TypeAdapter[list[CreateNextflowAnalysis]] = TypeAdapter(list[CreateNextflowAnalysis])
    with pytest.raises(ValidationError) as info:
        adapter.validate_python([_nextflow_item(), _nextflow_item(pipelineId="")])
    assert format_validation_error(info.value, root="nextflow_items") == [
        "nextflow_items[1].pipelineId: '' is not an ICA pipeline ID: a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6 (ICA: Pipelines > the pipeline's details)"
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "String should have at least 1 character"),
        ("x" * 256, "String should have at most 255 characters"),
        ("run:1", "character ':' is not allowed"),
        ("héllo", "character 'é' is not allowed"),
        ("abc\n", "character '\\n' is not allowed"),
        ("a//b", "'//' is not allowed"),
        ("a/b/", "it must not end with '/'"),
        ("/", "it must not end with '/'"),
    ],
)
def test_bad_user_reference(ref: str, message: str) -> None:
    [error] = _errors({"nextflowItems": [_nextflow_item(ref)]})
    assert error.startswith(f"nextflow_items[0].userReference: {message}")
    if "not allowed" in message or "end with" in message:
        assert error.endswith(
            "a userReference may contain only ASCII letters, digits, space, '_' and '-',"
            " with '/' only as a separator between parts"
        )


@pytest.mark.parametrize("ref", ["a", "x" * 255, "Sample 1_b-2", "a/b/c", "/a", " "])
def test_good_user_reference(ref: str) -> None:
    CreateAnalysisCreationBatch.model_validate({"nextflowItems": [_nextflow_item(ref)]})


@pytest.mark.parametrize(
    "data", [{}, {"cwlItems": []}, {"cwl_items": None, "nextflowItems": [], "nextflowJsonItems": []}]
)
def test_empty_batch_is_rejected(data: dict[str, Any]) -> None:
    assert _errors(data) == ["the batch has no items: give cwl_items, nextflow_items or nextflow_json_items"]


def test_duplicate_user_references_are_rejected_across_lists() -> None:
    cwl = {
        "userReference": "dup",
        "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
        "analysisInput": {"objectType": "JSON", "inputJson": "{}"},
    }
    data = {
        "cwlItems": [cwl],
        "nextflowItems": [_nextflow_item("x"), _nextflow_item("dup"), _nextflow_item("x")],
    }
    assert _errors(data) == [
        "userReference must be unique in the batch (ICA's answer identifies items only by it);"
        " duplicated: 'dup' (cwl_items[0], nextflow_items[1]); 'x' (nextflow_items[0], nextflow_items[2])"
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [(3, "3"), (True, "true"), (False, "false"), (1.5, "1.5"), ("already", "already"), (0, "0")],
)
def test_parameter_values_are_coerced_to_strings(given: Any, sent: str) -> None:
    assert AnalysisParameterInput.model_validate({"code": "c", "value": given}).to_ica() == {
        "code": "c",
        "value": sent,
    }
    multi = AnalysisParameterInput.model_validate({"code": "c", "multiValue": [given, None]})
    assert multi.to_ica() == {"code": "c", "multiValue": [sent, None]}
    field = InputFormFieldValues.model_validate({"id": "f", "values": [given]})
    assert field.to_ica() == {"id": "f", "values": [sent]}


def test_values_that_are_not_scalars_are_not_coerced() -> None:
    with pytest.raises(ValidationError, match="Input should be a valid string"):
        AnalysisParameterInput.model_validate({"code": "c", "value": {"a": 1}})


def test_data_ids_are_not_coerced() -> None:
    item = _nextflow_item(analysisInput={"inputs": [{"parameterCode": "x", "dataIds": [3]}]})
    assert _errors({"nextflowItems": [item]}) == [
        "nextflow_items[0].analysisInput.inputs[0].dataIds[0]: Input should be a valid string"
    ]


def test_value_and_multi_value_together_are_rejected() -> None:
    item = _nextflow_item()
    item["analysisInput"]["parameters"] = [{"code": "c", "value": "1", "multiValue": ["1"]}]
    assert _errors({"nextflowItems": [item]}) == [
        "nextflow_items[0].analysisInput.parameters[0]: give only one of value or multiValue, not both"
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (
            {"reads": {"class": "File", "location": "a b/é.fq"}, "n": 1},
            '{"reads":{"class":"File","location":"a b/é.fq"},"n":1}',
        ),
        ([1, "x"], '[1,"x"]'),
        ('{"kept": "as given"}', '{"kept": "as given"}'),
    ],
)
def test_input_json_is_sent_as_a_json_string(given: Any, sent: str) -> None:
    model = CwlAnalysisJsonInput.model_validate({"objectType": "JSON", "inputJson": given})
    assert model.input_json == sent
    assert json.loads(model.to_ica()["inputJson"]) == (json.loads(given) if isinstance(given, str) else given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("{not json", "is not valid JSON text"),
        ({"when": object()}, "cannot be turned into JSON"),
        ({"x": float("nan")}, "cannot be turned into JSON"),
    ],
)
def test_bad_input_json_is_rejected(given: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CwlAnalysisJsonInput.model_validate({"objectType": "JSON", "inputJson": given})


def _cwl_item(analysis_input: dict[str, Any]) -> dict[str, Any]:
    return {"userReference": "c", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "analysisInput": analysis_input}


def test_missing_object_type_is_reported_by_name() -> None:
    [error] = _errors({"cwlItems": [_cwl_item({"inputs": []})]})
    assert error.startswith("cwl_items[0].analysisInput: Unable to extract tag")
    assert "'objectType'" in error


def test_unknown_object_type_is_reported_by_name() -> None:
    [error] = _errors({"cwlItems": [_cwl_item({"objectType": "YAML", "inputs": []})]})
    assert error.startswith("cwl_items[0].analysisInput: Input tag 'YAML' found using")
    assert "'objectType'" in error and "'STRUCTURED', 'JSON'" in error


def test_errors_inside_a_cwl_variant_do_not_show_the_tag() -> None:
    assert _errors({"cwlItems": [_cwl_item({"objectType": "STRUCTURED"})]}) == [
        "cwl_items[0].analysisInput.inputs: Field required"
    ]
    assert _errors({"cwlItems": [_cwl_item({"objectType": "JSON", "inputJson": "{}", "JSON": 1})]}) == [
        "cwl_items[0].analysisInput.JSON: Extra inputs are not permitted"
    ]


def test_uuid_fields_are_checked_and_sent_canonical() -> None:
    item = _nextflow_item(analysisStorageId=UUID_A.upper())
    batch = CreateAnalysisCreationBatch.model_validate({"nextflowItems": [item]})
    assert batch.to_ica()["nextflowItems"][0]["analysisStorageId"] == UUID_A
    assert _errors({"nextflowItems": [_nextflow_item(activationCodeDetailId="abc")]}) == [
        "nextflow_items[0].activationCodeDetailId: must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6"
    ]


def test_nextflow_json_items_have_no_activation_code() -> None:
    item = {"userReference": "j", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "inputFormValues": {}, "activationCodeDetailId": UUID_A}
    assert _errors({"nextflowJsonItems": [item]}) == [
        "nextflow_json_items[0].activationCodeDetailId: Extra inputs are not permitted"
    ]


def test_enumerated_and_patterned_fields() -> None:
    item = _nextflow_item(
        logs={"logsFolderPath": "logs"},
        analysisOutput=[
            {
                "sourcePath": "a",
                "targetProjectId": "p",
                "targetPath": "/b",
                "type": "DIR",
                "actionOnExist": "overwrite",
            }
        ],
    )
    item["analysisInput"]["inputs"][0]["externalData"] = [{"url": "ftp://x", "type": "ftp"}]
    assert _errors({"nextflowItems": [item]}) == [
        "nextflow_items[0].logs.logsFolderPath: must start with '/' and must not contain '//'",
        "nextflow_items[0].analysisOutput[0].type: Input should be 'FILE' or 'FOLDER'",
        "nextflow_items[0].analysisOutput[0].actionOnExist: Input should be 'OVERWRITE', 'RENAME' or 'SKIP'",
        "nextflow_items[0].analysisInput.inputs[0].externalData[0].type: Input should be 's3', 'http' or 'basespace'",
    ]


@pytest.mark.parametrize("path", ["/", "/logs", "/a/b/", "/a b/ü.x/"])
def test_good_logs_folder_paths(path: str) -> None:
    CreateAnalysisCreationBatch.model_validate(
        {"nextflowItems": [_nextflow_item(logs={"logsFolderPath": path})]}
    )


@pytest.mark.parametrize("path", ["", "logs/", "/a//b", "//", "/" + "a" * 50 + "//"])
def test_bad_logs_folder_paths(path: str) -> None:
    assert _errors({"nextflowItems": [_nextflow_item(logs={"logsFolderPath": path})]}) == [
        "nextflow_items[0].logs.logsFolderPath: must start with '/' and must not contain '//'"
    ]


def test_rich_example_conforms_to_the_spec_schema(spec: dict[str, Any]) -> None:
    validator_module = pytest.importorskip("openapi_schema_validator")
    schema = {"$ref": "#/components/schemas/CreateAnalysisCreationBatch", "components": spec["components"]}
    validator = validator_module.OAS30Validator(schema, format_checker=validator_module.oas30_format_checker)
    # Coerced and converted input, so that what is checked is our output, not the input.
    data = _snake(copy.deepcopy(RICH_BATCH))
    data["cwl_items"][1]["analysis_input"]["input_json"] = {"reads": {"class": "File"}}
    data["nextflow_items"][0]["analysis_input"]["parameters"] = [{"code": "n", "value": 3}]
    body = CreateAnalysisCreationBatch.model_validate(data).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == []
    # The validator is not vacuous: it does see a broken body.
    del body["cwlItems"][0]["userReference"]
    body["nextflowItems"][0]["analysisStorageId"] = "not-a-uuid"
    assert len(list(validator.iter_errors(body))) >= 1
    assert not validator.is_valid({"cwlItems": [{"pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f"}]})


# --- responses -------------------------------------------------------------------------------


def _item_v4(status: str = "SUCCEEDED") -> dict[str, Any]:
    return {
        "id": UUID_A,
        "request": {
            "userReference": "s1",
            "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f",
            "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
        },
        "processing": {"status": status, "additionalStatusInformation": None},
        "createdAnalysis": {
            "id": UUID_B,
            "timeCreated": "2025-11-03T10:00:00Z",
            "timeModified": "2025-11-03T10:01:00Z",
            "owner": {"id": "o"},
            "tenant": {"id": "t", "name": "tenant"},
            "reference": "s1-pipe-123",
            "userReference": "s1",
            "pipeline": {
                "id": "p",
                "code": "pipe",
                "language": "NEXTFLOW",
                "pipelineTags": {"technicalTags": []},
            },
            "status": "PREPARING_INPUTS",
            "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
            "analysisPriority": "MEDIUM",
        },
    }


def test_item_page_keeps_unknown_fields_and_statuses() -> None:
    item = _item_v4(status="SOME_NEW_STATUS")
    item["createdAnalysis"]["status"] = "HIBERNATING"
    item["createdAnalysis"]["pipeline"]["newPipelineField"] = {"x": 1}
    item["brandNew"] = [1, 2]
    page = AnalysisCreationBatchItemPage.model_validate(
        {"items": [item], "nextPageToken": "", "remainingRecords": None, "extra": True}
    )
    [parsed] = page.items
    assert parsed.processing.status == "SOME_NEW_STATUS"
    assert parsed.created_analysis is not None
    assert parsed.created_analysis.status == "HIBERNATING"
    assert parsed.created_analysis.pipeline is not None
    assert parsed.created_analysis.pipeline.code == "pipe"
    assert parsed.created_analysis.pipeline.model_extra == {
        "newPipelineField": {"x": 1},
        "pipelineTags": {"technicalTags": []},
    }
    assert parsed.model_extra == {"brandNew": [1, 2]}
    assert page.model_extra == {"extra": True}
    assert page.next_page_token == ""
    assert parsed.request.user_reference == "s1"


def test_v3_analysis_shape_is_accepted() -> None:
    item = _item_v4()
    analysis = item["createdAnalysis"]
    del analysis["owner"], analysis["tenant"]
    analysis.update(ownerId=UUID_A, tenantId=UUID_B, tenantName="tenant", status="INPROGRESS")
    parsed = AnalysisCreationBatchItem.model_validate(item).created_analysis
    assert parsed is not None
    assert (parsed.status, parsed.owner_id, parsed.owner) == ("INPROGRESS", UUID_A, None)


def test_item_without_created_analysis() -> None:
    item = _item_v4("RUNNING")
    del item["createdAnalysis"]
    assert AnalysisCreationBatchItem.model_validate(item).created_analysis is None


def test_batch_and_job() -> None:
    batch = AnalysisCreationBatch.model_validate(
        {
            "id": UUID_A,
            "job": {
                "id": UUID_B,
                "status": "PARTIALLY_SUCCEEDED",
                "subjectType": "AnalysisCreationBatch",
                "subjectId": UUID_A,
                "timeCreated": "2025-11-03T10:00:00Z",
                "owner": {"id": "o", "email": "someone@example.org"},
                "somethingNew": 1,
            },
        }
    )
    assert batch.job is not None
    assert (batch.job.status, batch.job.time_finished, batch.job.model_extra) == (
        "PARTIALLY_SUCCEEDED",
        None,
        {"somethingNew": 1},
    )
    assert AnalysisCreationBatch.model_validate({"id": UUID_A}).job is None


def test_token_is_not_shown() -> None:
    token = Token.model_validate({"token": "eyJ.secret.sig"})
    assert token.token == "eyJ.secret.sig"
    assert "secret" not in repr(token) and "secret" not in str(token)
    with pytest.raises(ValidationError) as info:
        Token.model_validate({"tokn": "eyJ.secret.sig"})
    assert "secret" not in str(info.value)
