"""Request bodies of ``POST /api/projects/{projectId}/analysisCreationBatch`` (v3).

Field names and constraints follow the ICA OpenAPI schema ``CreateAnalysisCreationBatch``.
Build a body with ``CreateAnalysisCreationBatch.model_validate(data)`` (camelCase or
snake_case keys) and send ``batch.to_ica()``.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ica_airflow_provider.models._base import IcaRequestModel

__all__ = [
    "BATCH_ITEM_FIELDS",
    "AnalysisDataInput",
    "AnalysisInputBaseSpaceDetails",
    "AnalysisInputDataMount",
    "AnalysisInputExternalData",
    "AnalysisInputS3Details",
    "AnalysisOutputMapping",
    "AnalysisParameterInput",
    "AnalysisReferenceDataParameter",
    "CreateAnalysisBase",
    "CreateAnalysisCreationBatch",
    "CreateAnalysisItem",
    "CreateAnalysisLogs",
    "CreateAnalysisTag",
    "CreateCwlAnalysis",
    "CreateNextflowAnalysis",
    "CreateNextflowJsonAnalysis",
    "CwlAnalysisInput",
    "CwlAnalysisJsonInput",
    "CwlAnalysisStructuredInput",
    "InputFormData",
    "InputFormFieldValues",
    "InputFormGroup",
    "InputFormGroupFieldValues",
    "NextflowAnalysisInput",
    "NextflowJsonAnalysisInput",
    "format_validation_error",
]

# --- constrained strings ---------------------------------------------------------------

# The spec's pattern ^[a-zA-Z0-9 _-]*(/[a-zA-Z0-9 _-]+)*$ ; fullmatch, because Python's
# "$" would also accept a trailing newline.
_USER_REFERENCE = re.compile(r"[a-zA-Z0-9 _-]*(?:/[a-zA-Z0-9 _-]+)*")
_USER_REFERENCE_CHARS = re.compile(r"[^a-zA-Z0-9 _/-]")


def _check_user_reference(value: str) -> str:
    if _USER_REFERENCE.fullmatch(value):
        return value
    bad = _USER_REFERENCE_CHARS.search(value)
    if bad:
        problem = f"character {bad.group()!r} is not allowed"
    elif "//" in value:
        problem = "'//' is not allowed"
    else:
        problem = "it must not end with '/'"
    raise PydanticCustomError(
        "user_reference",
        "{problem}: a userReference may contain only ASCII letters, digits, space, '_' and '-',"
        " with '/' only as a separator between parts",
        {"problem": problem},
    )


def _check_folder_path(value: str) -> str:
    # The spec's ^/([^/]+/?)* read as a whole-string match (ICA's patterns only make sense
    # that way; otherwise it would just mean "starts with /"), which is exactly these two
    # checks. Not done by regex: that nested quantifier backtracks exponentially.
    if value.startswith("/") and "//" not in value:
        return value
    raise PydanticCustomError("folder_path", "must start with '/' and must not contain '//'")


def _to_uuid_str(value: object) -> object:
    """Validate a UUID but keep it a string, in the canonical lower-case form ICA uses."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise PydanticCustomError(
                "uuid_string", "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6"
            ) from None
    return value  # not a string: let the str validation report it


def _to_pipeline_id(value: object) -> object:
    """A pipeline ID is a UUID in ICA; say which value is not one."""
    try:
        return _to_uuid_str(value)
    except PydanticCustomError:
        raise PydanticCustomError(
            "pipeline_id",
            "{value} is not an ICA pipeline ID: a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6"
            " (ICA: Pipelines > the pipeline's details)",
            {"value": _shown(value)},
        ) from None


# ICA data IDs: "fil." (a file) or "fol." (a folder) and 32 hexadecimal digits.
_DATA_ID = re.compile(r"(?:fil|fol)\.[0-9a-fA-F]{32}")


def _check_data_id(value: str) -> str:
    if _DATA_ID.fullmatch(value):
        return value
    raise PydanticCustomError(
        "data_id",
        "{value} is not an ICA data ID: 'fil.' (a file) or 'fol.' (a folder) and 32 hexadecimal digits,"
        " e.g. fol.5f3e9b1c2d4a4e6f8a7b9c0d1e2f3a4b",
        {"value": _shown(value)},
    )


def _shown(value: object) -> str:
    """A value quoted for a message, cut short: a message must stay readable."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _scalar_to_str(value: object) -> object:
    """ICA takes parameter values as strings; accept numbers and booleans and say them as ICA would."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _to_json_text(value: object) -> object:
    """``inputJson`` is JSON *inside a string*: serialise a dict/list, check a given string."""
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PydanticCustomError(
                "json_serialisable", "cannot be turned into JSON: {error}", {"error": str(exc)}
            ) from None
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "json_text", "is not valid JSON text: {error}", {"error": str(exc)}
            ) from None
    return value


UserReference = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_check_user_reference)]
UuidStr = Annotated[str, BeforeValidator(_to_uuid_str)]
PipelineId = Annotated[str, BeforeValidator(_to_pipeline_id)]
DataId = Annotated[str, AfterValidator(_check_data_id)]
ValueStr = Annotated[str, BeforeValidator(_scalar_to_str)]
FolderPath = Annotated[str, AfterValidator(_check_folder_path)]
JsonText = Annotated[str, BeforeValidator(_to_json_text)]

# --- inputs ------------------------------------------------------------------------------


class AnalysisInputDataMount(IcaRequestModel):
    """Mount ICA data at a path on the pipeline's machine."""

    data_id: DataId
    mount_path: str


class AnalysisInputS3Details(IcaRequestModel):
    """S3 access for external data (schema ``AnalysisS3DataDetails``)."""

    storage_credentials_id: UuidStr | None = None


class AnalysisInputBaseSpaceDetails(IcaRequestModel):
    """BaseSpace access for external data (schema ``AnalysisBaseSpaceDataDetails``)."""

    workgroup_id: str | None = None
    extensions: str | None = None
    path_prefix: str | None = None


class AnalysisInputExternalData(IcaRequestModel):
    """Data outside ICA (S3, HTTP or BaseSpace) given to the analysis."""

    url: str
    # The spec's pattern "s3|http|basespace" as a whole-string match: one of these three.
    type: Literal["s3", "http", "basespace"]
    mount_path: str | None = None
    s3_details: AnalysisInputS3Details | None = None
    basespace_details: AnalysisInputBaseSpaceDetails | None = None


class AnalysisDataInput(IcaRequestModel):
    """The data given to one input parameter of the pipeline."""

    parameter_code: str
    data_ids: list[DataId] | None = None
    mounts: list[AnalysisInputDataMount] | None = None
    external_data: list[AnalysisInputExternalData] | None = None


class AnalysisParameterInput(IcaRequestModel):
    """A pipeline setting: ``value`` for single-value parameters, ``multiValue`` otherwise."""

    code: str | None = None  # not required by the spec
    value: ValueStr | None = None
    multi_value: list[ValueStr | None] | None = None

    @model_validator(mode="after")
    def _one_of_value_or_multi_value(self) -> AnalysisParameterInput:
        if self.value is not None and self.multi_value is not None:
            raise PydanticCustomError(
                "value_and_multi_value", "give only one of value or multiValue, not both"
            )
        return self


class AnalysisReferenceDataParameter(IcaRequestModel):
    """Reference data given to a parameter (neither field is required by the spec)."""

    parameter_code: str | None = None
    reference_data_id: UuidStr | None = None


class CwlAnalysisStructuredInput(IcaRequestModel):
    """CWL input as ICA-structured inputs and parameters (``objectType`` ``STRUCTURED``)."""

    object_type: Literal["STRUCTURED"] = "STRUCTURED"
    inputs: list[AnalysisDataInput]
    parameters: list[AnalysisParameterInput] | None = None
    reference_data_parameters: list[AnalysisReferenceDataParameter] | None = None


class CwlAnalysisJsonInput(IcaRequestModel):
    """CWL input as a CWL input JSON document (``objectType`` ``JSON``).

    ``input_json`` may be given as a dict or list; it is sent as the JSON string ICA wants.
    """

    object_type: Literal["JSON"] = "JSON"
    input_json: JsonText
    data_ids: list[DataId] | None = None
    mounts: list[AnalysisInputDataMount] | None = None
    external_data: list[AnalysisInputExternalData] | None = None


CwlAnalysisInput = Annotated[
    CwlAnalysisStructuredInput | CwlAnalysisJsonInput, Field(discriminator="object_type")
]


class NextflowAnalysisInput(IcaRequestModel):
    """Nextflow input as ICA-structured inputs and parameters."""

    inputs: list[AnalysisDataInput]
    parameters: list[AnalysisParameterInput] | None = None
    reference_data_parameters: list[AnalysisReferenceDataParameter] | None = None


class InputFormData(IcaRequestModel):
    """ICA data given to a data field of a JSON input form."""

    data_id: DataId
    mount_path: str | None = None


class InputFormFieldValues(IcaRequestModel):
    """The values of one JSON input form field (numbers and booleans become strings)."""

    id: str
    values: list[ValueStr | None] | None = None
    data_values: list[InputFormData] | None = None
    external_data_values: list[AnalysisInputExternalData] | None = None


class InputFormGroupFieldValues(IcaRequestModel):
    """One repetition of a field group."""

    values: list[InputFormFieldValues] | None = None


class InputFormGroup(IcaRequestModel):
    """The values of a field group of a JSON input form."""

    id: str
    values: list[InputFormGroupFieldValues] | None = None


class NextflowJsonAnalysisInput(IcaRequestModel):
    """The values of a Nextflow pipeline's JSON input form."""

    fields: list[InputFormFieldValues] | None = None
    groups: list[InputFormGroup] | None = None


# --- analyses and the batch ----------------------------------------------------------------


class CreateAnalysisTag(IcaRequestModel):
    """Tags put on the created analysis."""

    technical_tags: list[str] | None = None
    user_tags: list[str] | None = None
    reference_tags: list[str] | None = None


class CreateAnalysisLogs(IcaRequestModel):
    """Where the analysis logs go (default: inside the output folder)."""

    logs_folder_id: str | None = None
    logs_folder_path: FolderPath | None = None


class AnalysisOutputMapping(IcaRequestModel):
    """Copy part of the analysis output to another place."""

    source_path: str
    type: Literal["FILE", "FOLDER"] | None = None
    target_project_id: str
    target_path: str
    action_on_exist: Literal["OVERWRITE", "RENAME", "SKIP"] | None = None


class CreateAnalysisBase(IcaRequestModel):
    """The fields every kind of batch item has."""

    user_reference: UserReference
    pipeline_id: PipelineId
    tags: CreateAnalysisTag | None = None
    analysis_storage_id: UuidStr | None = None
    output_parent_folder_id: str | None = None  # an id or a URN
    logs: CreateAnalysisLogs | None = None
    analysis_output: list[AnalysisOutputMapping] | None = None


class CreateCwlAnalysis(CreateAnalysisBase):
    """A CWL analysis to create (``cwlItems``)."""

    analysis_input: CwlAnalysisInput
    activation_code_detail_id: UuidStr | None = None


class CreateNextflowAnalysis(CreateAnalysisBase):
    """A Nextflow analysis to create from structured input (``nextflowItems``)."""

    analysis_input: NextflowAnalysisInput
    activation_code_detail_id: UuidStr | None = None


class CreateNextflowJsonAnalysis(CreateAnalysisBase):
    """A Nextflow analysis to create from JSON input form values (``nextflowJsonItems``)."""

    # The spec gives this variant no activationCodeDetailId.
    input_form_values: NextflowJsonAnalysisInput


CreateAnalysisItem = CreateCwlAnalysis | CreateNextflowAnalysis | CreateNextflowJsonAnalysis

#: The batch's item lists, in ICA's order: Python name -> item model.
BATCH_ITEM_FIELDS: Mapping[str, type[CreateAnalysisBase]] = {
    "cwl_items": CreateCwlAnalysis,
    "nextflow_items": CreateNextflowAnalysis,
    "nextflow_json_items": CreateNextflowJsonAnalysis,
}


class CreateAnalysisCreationBatch(IcaRequestModel):
    """The body of a create-batch request: at least one item, user references all distinct."""

    cwl_items: list[CreateCwlAnalysis] | None = None
    nextflow_items: list[CreateNextflowAnalysis] | None = None
    nextflow_json_items: list[CreateNextflowJsonAnalysis] | None = None

    def all_items(self) -> list[CreateAnalysisItem]:
        """Every item, in ICA's order: CWL, Nextflow, Nextflow JSON."""
        return [*(self.cwl_items or ()), *(self.nextflow_items or ()), *(self.nextflow_json_items or ())]

    @model_validator(mode="after")
    def _check_items(self) -> CreateAnalysisCreationBatch:
        where: dict[str, list[str]] = {}
        for name in BATCH_ITEM_FIELDS:
            items: Sequence[CreateAnalysisBase] = getattr(self, name) or ()
            for index, item in enumerate(items):
                where.setdefault(item.user_reference, []).append(f"{name}[{index}]")
        if not where:
            raise PydanticCustomError(
                "empty_batch",
                "the batch has no items: give cwl_items, nextflow_items or nextflow_json_items",
            )
        # ICA echoes back only userReference and pipelineId per item, so duplicates
        # would leave us unable to tell which created analysis belongs to which item.
        duplicates = [f"{ref!r} ({', '.join(at)})" for ref, at in where.items() if len(at) > 1]
        if duplicates:
            raise PydanticCustomError(
                "duplicate_user_reference",
                "userReference must be unique in the batch (ICA's answer identifies items"
                " only by it); duplicated: {duplicates}",
                {"duplicates": "; ".join(duplicates)},
            )
        return self


# --- error messages ------------------------------------------------------------------------

_TOP_LEVEL_NAMES = {to_camel(name): name for name in BATCH_ITEM_FIELDS}
# pydantic puts the tag of a discriminated union into the error location; it is not a key.
_UNION_TAGS = {"analysisInput": frozenset({"STRUCTURED", "JSON"})}


@functools.cache
def _spellings() -> dict[str, frozenset[str]]:
    """Every field name of every request model -> its two spellings (Python, ICA)."""
    found: dict[str, frozenset[str]] = {}
    pending = IcaRequestModel.__subclasses__()
    while pending:
        model = pending.pop()
        for name, field in model.model_fields.items():
            both = frozenset((name, field.alias or name))
            found.update(dict.fromkeys(both, both))
        pending.extend(model.__subclasses__())
    return found


def _typo_hint(key: str) -> str:
    names = _spellings()
    if key in names:  # a real field, only not of this object: a guess would mislead
        return ""
    folded = key.replace("_", "").lower()
    # Differs only in case or underscores: offer the spelling in the key's own style.
    same = sorted(
        (name for name in names if name.replace("_", "").lower() == folded),
        key=lambda name: ("_" in name) != ("_" in key),
    )
    guess = same[:1] or difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.8)
    return f" (did you mean {guess[0]!r}?)" if guess else ""


def _path(loc: tuple[int | str, ...], root: str) -> str:
    path = root
    previous: int | str | None = None
    for position, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(previous, str) and part in _UNION_TAGS.get(previous, ()):
            previous = None  # skip the tag; the next part is a real key again
            continue
        else:
            name = _TOP_LEVEL_NAMES.get(part, part) if position == 0 else part
            path += f".{name}" if path else name
        previous = part
    return path


def _item_label(loc: tuple[int | str, ...], batch: Mapping[str, object] | None) -> str:
    """`` (userReference 'S1')`` for an error inside a batch item that has a usable one."""
    if batch is None or len(loc) < 2 or not isinstance(loc[1], int):
        return ""
    name = _TOP_LEVEL_NAMES.get(str(loc[0]), str(loc[0]))
    items = batch.get(name, batch.get(to_camel(name)))
    if not isinstance(items, Sequence) or isinstance(items, str) or not 0 <= loc[1] < len(items):
        return ""
    item = items[loc[1]]
    reference = item.get("userReference", item.get("user_reference")) if isinstance(item, Mapping) else None
    if not isinstance(reference, str) or loc[2:3] in (("userReference",), ("user_reference",)):
        return ""  # an error of the reference itself already shows it
    return f" (userReference {_shown(reference)})"


def format_validation_error(
    exc: ValidationError, root: str = "", batch: Mapping[str, object] | None = None
) -> list[str]:
    """One ``path: message`` line per error, e.g.
    ``nextflow_items[1].analysisInput.inputs[0].parameterCode: Field required``.

    The batch's item lists use their Python names (as the operator's arguments do),
    everything below them ICA's camelCase names. ``root`` is prefixed to every path,
    for errors of a model validated on its own (``root="nextflow_items"`` for a list).
    ``batch``, the validated input, lets a line name its item's userReference (the sample).
    """
    lines = []
    for error in exc.errors(include_url=False):
        message = error["msg"]
        if error["type"] == "extra_forbidden" and error["loc"]:
            message += _typo_hint(str(error["loc"][-1]))
        path = _path(error["loc"], root) + _item_label(error["loc"], batch)
        lines.append(f"{path}: {message}" if path else message)
    return lines
