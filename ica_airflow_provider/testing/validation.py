"""Minimal validation of a ``CreateAnalysisCreationBatch`` body.

Checks what a client most plausibly gets wrong (required fields, the userReference rule,
the CWL input discriminator) and reports each violation under its JSON path in the
problem's ``parameters``, Bean-Validation style, as the real API does. Of a valid item it
keeps what the ``catalogue`` checks later: the input codes given a value and the data IDs named.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.testing.problems import IcaProblem, bad_request

USER_REFERENCE_PATTERN = r"^[a-zA-Z0-9 _-]*(/[a-zA-Z0-9 _-]+)*$"
_USER_REFERENCE_RE = re.compile(USER_REFERENCE_PATTERN)
TAG_KINDS = ("technicalTags", "userTags", "referenceTags")

# Item list field -> (pipeline language, name of the required input field).
ITEM_KINDS = {
    "cwlItems": ("CWL", "analysisInput"),
    "nextflowItems": ("NEXTFLOW", "analysisInput"),
    "nextflowJsonItems": ("NEXTFLOW", "inputFormValues"),
}


@dataclass(frozen=True, slots=True)
class ItemRequest:
    """The parts of one requested analysis that the fake keeps."""

    language: str
    user_reference: str
    pipeline_id: str
    tags: dict[str, list[str]]
    input_codes: frozenset[str] = frozenset()  # the input parameters given a value
    data_ids: tuple[str, ...] = ()  # every ICA data ID the item names
    structured: bool = False  # inputs by parameterCode: every code must be the pipeline's


def parse_batch_request(body: Any) -> list[ItemRequest]:
    """Return the items of a valid body in request order, or raise a 400 problem."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object", {"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    items: list[ItemRequest] = []
    for field_name, (language, input_field) in ITEM_KINDS.items():
        raw = body.get(field_name)
        if raw is None:
            continue
        if not isinstance(raw, list):
            errors[field_name] = "must be an array"
            continue
        for index, item in enumerate(raw):
            path = f"{field_name}[{index}]"
            parsed = _parse_item(item, path, language, input_field, errors)
            if parsed is not None:
                items.append(parsed)
    if errors:
        raise _invalid(errors)
    if not items:
        raise bad_request(
            "The batch does not contain any analysis",
            {"body": "at least one of cwlItems, nextflowItems or nextflowJsonItems must not be empty"},
        )
    return items


def _invalid(errors: dict[str, str]) -> IcaProblem:
    return bad_request(f"Request body validation failed ({len(errors)} violation(s))", errors)


def _parse_item(
    item: Any, path: str, language: str, input_field: str, errors: dict[str, str]
) -> ItemRequest | None:
    if not isinstance(item, dict):
        errors[path] = "must be a JSON object"
        return None
    before = len(errors)
    user_reference = item.get("userReference")
    if not isinstance(user_reference, str):
        errors[f"{path}.userReference"] = "must not be null" if user_reference is None else "must be a string"
    elif not 1 <= len(user_reference) <= 255:
        errors[f"{path}.userReference"] = "size must be between 1 and 255"
    elif not _USER_REFERENCE_RE.fullmatch(user_reference):
        errors[f"{path}.userReference"] = f'must match "{USER_REFERENCE_PATTERN}"'
    pipeline_id = item.get("pipelineId")
    if not isinstance(pipeline_id, str) or not pipeline_id:
        errors[f"{path}.pipelineId"] = "must not be null"
    _check_input(item.get(input_field), f"{path}.{input_field}", language, input_field, errors)
    storage_id = item.get("analysisStorageId")
    if storage_id is not None and not _is_uuid(storage_id):
        errors[f"{path}.analysisStorageId"] = "must be a valid UUID"
    tags = _parse_tags(item.get("tags"), f"{path}.tags", errors)
    if len(errors) > before or not isinstance(user_reference, str) or not isinstance(pipeline_id, str):
        return None
    codes, data_ids, structured = _inputs_of(item[input_field], input_field)
    return ItemRequest(language, user_reference, pipeline_id, tags, codes, data_ids, structured)


def _inputs_of(value: dict[str, Any], input_field: str) -> tuple[frozenset[str], tuple[str, ...], bool]:
    """(input codes given, data IDs named, whether inputs are structured) of a valid item's input."""
    codes: set[str] = set()
    data_ids: list[str] = []
    if input_field == "inputFormValues":  # JSON forms: field IDs, data in dataValues
        fields = list(_dicts(value.get("fields")))
        for group in _dicts(value.get("groups")):
            for repetition in _dicts(group.get("values")):
                fields += _dicts(repetition.get("values"))
        for field in fields:
            if isinstance(field.get("id"), str) and (field.get("values") or field.get("dataValues")):
                codes.add(field["id"])
            data_ids += _ids(field.get("dataValues"), "dataId")
        return frozenset(codes), tuple(data_ids), False
    if value.get("objectType") == "JSON":  # CWL input JSON: its keys name the inputs
        try:
            document = json.loads(value.get("inputJson") or "")
        except ValueError:
            document = None
        if isinstance(document, dict):
            codes.update(key for key, given in document.items() if given is not None)
        data_ids += _strings(value.get("dataIds")) + _ids(value.get("mounts"), "dataId")
        return frozenset(codes), tuple(data_ids), False
    for entry in _dicts(value.get("inputs")):
        named = _strings(entry.get("dataIds")) + _ids(entry.get("mounts"), "dataId")
        if isinstance(entry.get("parameterCode"), str) and (named or entry.get("externalData")):
            codes.add(entry["parameterCode"])
        data_ids += named
    return frozenset(codes), tuple(data_ids), True


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [entry for entry in value if isinstance(entry, str)] if isinstance(value, list) else []


def _ids(value: Any, key: str) -> list[str]:
    return [entry[key] for entry in _dicts(value) if isinstance(entry.get(key), str)]


def _check_input(value: Any, path: str, language: str, input_field: str, errors: dict[str, str]) -> None:
    if value is None:
        errors[path] = "must not be null"
    elif not isinstance(value, dict):
        errors[path] = "must be a JSON object"
    elif input_field == "inputFormValues":
        return  # fields and groups are both optional
    elif language == "CWL":
        object_type = value.get("objectType")
        if object_type not in ("STRUCTURED", "JSON"):
            errors[f"{path}.objectType"] = "must be one of [STRUCTURED, JSON]"
        elif object_type == "JSON" and not isinstance(value.get("inputJson"), str):
            errors[f"{path}.inputJson"] = "must not be null"
        elif object_type == "STRUCTURED" and not isinstance(value.get("inputs"), list):
            errors[f"{path}.inputs"] = "must not be null"
    elif not isinstance(value.get("inputs"), list):
        errors[f"{path}.inputs"] = "must not be null"


def _parse_tags(value: Any, path: str, errors: dict[str, str]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {kind: [] for kind in TAG_KINDS}
    if value is None:
        return tags
    if not isinstance(value, dict):
        errors[path] = "must be a JSON object"
        return tags
    for kind in TAG_KINDS:
        raw = value.get(kind)
        if raw is None:
            continue
        if not isinstance(raw, list) or not all(tag is None or isinstance(tag, str) for tag in raw):
            errors[f"{path}.{kind}"] = "must be an array of strings"
            continue
        tags[kind] = [tag for tag in raw if tag is not None]
    return tags


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
