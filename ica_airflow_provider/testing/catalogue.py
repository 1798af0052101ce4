"""What exists in the fake ICA: pipelines and data, so a batch naming anything else fails as in ICA.

A ``Catalogue`` starts with the seeded records of ``seed`` and grows from a JSON/YAML file
(``ica-fake-server --catalogue-file``), the pytest plugin (``factory(catalogue=...)``), the
admin endpoint (``POST /_fake/catalogue``) or ``add_pipeline``/``add_data``. The same
mapping shape serves all of them::

    {"pipelines": [{"id": "<uuid>", "code": "my-pipeline", "language": "NEXTFLOW",
                    "inputs": [{"code": "reads", "required": true}, {"code": "ref", "required": false}]}],
     "data": [{"path": "/fastq/S1_R1.fastq.gz"},                   # id derived from the path
              {"id": "fol.<32 hex>", "path": "/private/", "project_id": "other-project"}]}

A path ending in ``/`` is a folder. Data without ``project_id`` is visible in every
project; with one, only there (ICA's projects own their data).

How an item fails (checked when the batch is created; the item's creation then ends FAILED
with these reasons in ``additionalStatusInformation``, as ICA reports what goes wrong while
its batch job creates an analysis):

- its pipeline is not in the catalogue, or has another language than the item list's;
- a data ID it names is unknown, or belongs to another project;
- a required input parameter of the pipeline gets no value, or (structured inputs) an
  input parameter code is not one of the pipeline's.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ica_airflow_provider.testing.problems import IcaProblem, bad_request
from ica_airflow_provider.testing.validation import ItemRequest

T = TypeVar("T")
LANGUAGES = ("CWL", "NEXTFLOW")
FILE = "FILE"
FOLDER = "FOLDER"
# (file name suffix, DataFormat code) of the files in an analysis's output folder by default.
DEFAULT_OUTPUTS: tuple[tuple[str, str], ...] = ((".bam", "BAM"), (".vcf.gz", "VCF"), ("_report.html", "HTML"))
_FORMATS = {".fastq.gz": "FASTQ", ".fq.gz": "FASTQ", ".bam": "BAM", ".vcf.gz": "VCF", ".csv": "CSV", ".fa": "FASTA"}


@dataclass(frozen=True, slots=True)
class InputParameter:
    """An input parameter of a pipeline (the data it reads), as ICA's inputParameters list them."""

    code: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A pipeline the fake tenant can run."""

    id: str  # a UUID, as ICA's pipeline IDs are
    code: str
    language: str  # CWL or NEXTFLOW
    inputs: tuple[InputParameter, ...] = ()
    description: str = ""
    outputs: tuple[tuple[str, str], ...] = DEFAULT_OUTPUTS

    @property
    def required_codes(self) -> list[str]:
        """Codes of the inputs an analysis must give a value."""
        return [parameter.code for parameter in self.inputs if parameter.required]


@dataclass(frozen=True, slots=True)
class Data:
    """A file or folder stored in ICA."""

    id: str  # fil./fol. + 32 hex
    path: str  # absolute; a folder's ends with "/"
    project_id: str | None = None  # None: visible in every project
    linked_to: tuple[str, ...] = ()  # other projects it was linked to (``data_events.link``)
    size: int | None = None  # bytes, for uploaded files
    user_tags: tuple[str, ...] = ()
    technical_tags: tuple[str, ...] = ()
    uploaded_at: float | None = None  # backend clock; None for catalogue records

    @property
    def data_type(self) -> str:
        """FILE or FOLDER."""
        return FOLDER if self.path.endswith("/") else FILE

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "/"

    @property
    def format_code(self) -> str | None:
        """FASTQ, BAM, ... from the name; None for folders and unknown suffixes."""
        if self.data_type == FOLDER:
            return None
        return next((code for suffix, code in _FORMATS.items() if self.name.endswith(suffix)), "UNKNOWN")

    def visible_in(self, project_id: str) -> bool:
        """Whether a project can use this data."""
        return self.project_id is None or self.project_id == project_id or project_id in self.linked_to


def data_id_for(path: str, project_id: str | None = None) -> str:
    """The stable data ID of a catalogue path (of a project's upload): ``fol.`` for a folder (``/`` at the end), else ``fil.``."""
    name = f"catalogue:{path}" if project_id is None else f"upload:{project_id}:{path}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"{'fol' if path.endswith('/') else 'fil'}.{digest}"


class Catalogue:
    """The pipelines and data of the fake tenant; thread-safe, records replaced by ID."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pipelines: dict[str, Pipeline] = {}
        self.data: dict[str, Data] = {}

    # --- adding ------------------------------------------------------------------------

    def add_pipeline(self, pipeline: Pipeline) -> Pipeline:
        """Add (or replace) a pipeline."""
        with self._lock:
            self.pipelines[pipeline.id] = pipeline
        return pipeline

    def add_data(self, data: Data) -> Data:
        """Add (or replace) a file or folder."""
        with self._lock:
            self.data[data.id] = data
        return data

    def load(self, source: Mapping[str, Any]) -> tuple[list[Pipeline], list[Data]]:
        """Add the records of a catalogue mapping (see the module doc); all or nothing.

        A bad record raises a 400 ``IcaProblem`` naming it (the admin endpoint sends it as is).
        """
        if not isinstance(source, Mapping) or set(source) - {"pipelines", "data"}:
            raise bad_request("A catalogue is an object with 'pipelines' and 'data' lists", {"body": "unknown keys"})
        errors: dict[str, str] = {}
        pipelines = _parse_all(source.get("pipelines"), "pipelines", _parse_pipeline, errors)
        data = _parse_all(source.get("data"), "data", _parse_data, errors)
        if errors:
            raise bad_request(f"Invalid catalogue ({len(errors)} problem(s))", errors)
        for pipeline in pipelines:
            self.add_pipeline(pipeline)
        for element in data:
            self.add_data(element)
        return pipelines, data

    def load_file(self, path: str | Path) -> None:
        """``load`` a JSON file, or a YAML one (``.yaml``/``.yml``, needs PyYAML)."""
        file = Path(path)
        text = file.read_text(encoding="utf-8")
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml  # Airflow depends on PyYAML; the fake alone needs it only for YAML files

            source = yaml.safe_load(text)
        else:
            source = json.loads(text)
        try:
            self.load(source)
        except IcaProblem as problem:
            details = "; ".join(f"{key}: {value}" for key, value in problem.parameters.items())
            raise ValueError(f"{file}: {problem.detail}: {details}") from None

    def dump(self) -> dict[str, Any]:
        """The whole catalogue in the shape ``load`` reads."""
        with self._lock:
            pipelines, data = list(self.pipelines.values()), list(self.data.values())
        return {
            "pipelines": [
                {
                    "id": p.id,
                    "code": p.code,
                    "language": p.language,
                    "description": p.description,
                    "inputs": [{"code": i.code, "required": i.required} for i in p.inputs],
                }
                for p in pipelines
            ],
            "data": [{"id": d.id, "path": d.path, "project_id": d.project_id} for d in data],
        }

    # --- reading -----------------------------------------------------------------------

    def visible_data(self, project_id: str, data_id: str) -> Data | None:
        """A file or folder the project can see, or None."""
        data = self.data.get(data_id)
        return data if data is not None and data.visible_in(project_id) else None

    def creation_error(self, project_id: str, request: ItemRequest) -> str | None:
        """Why ICA would fail to create this item's analysis in ``project_id``; None if it would not."""
        pipeline = self.pipelines.get(request.pipeline_id)
        if pipeline is None:
            return f"Pipeline with id '{request.pipeline_id}' not found"
        if pipeline.language != request.language:
            return (
                f"Pipeline '{pipeline.code}' is a {pipeline.language} pipeline and cannot run as a"
                f" {request.language} analysis"
            )
        problems: list[str] = []
        for data_id in dict.fromkeys(request.data_ids):  # each named once, in request order
            problem = self._data_problem(project_id, data_id)
            if problem is not None:
                problems.append(problem)
        missing = [code for code in pipeline.required_codes if code not in request.input_codes]
        if missing:
            problems.append(
                f"Pipeline input validation failed: required input parameter(s) {_quoted(missing)}"
                f" of pipeline '{pipeline.code}' have no value"
            )
        if request.structured:
            known = {parameter.code for parameter in pipeline.inputs}
            unknown = sorted(request.input_codes - known)
            if unknown:
                problems.append(
                    f"Pipeline input validation failed: pipeline '{pipeline.code}' has no input"
                    f" parameter(s) {_quoted(unknown)} (it has {_quoted(sorted(known)) or 'none'})"
                )
        return "; ".join(problems) or None

    def _data_problem(self, project_id: str, data_id: str) -> str | None:
        data = self.data.get(data_id)
        if data is None:
            return f"Data with id '{data_id}' not found"
        if not data.visible_in(project_id):
            return f"Data with id '{data_id}' is not accessible from project '{project_id}'"
        return None


def _quoted(codes: Iterable[str]) -> str:
    return ", ".join(f"'{code}'" for code in codes)


def _parse_all(raw: Any, name: str, parse: Callable[[Any], T], errors: dict[str, str]) -> list[T]:
    """Each entry of the list ``raw`` parsed; a bad one is noted in ``errors`` under ``name[i]``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors[name] = "must be an array"
        return []
    parsed: list[T] = []
    for index, entry in enumerate(raw):
        try:
            parsed.append(parse(entry))
        except (TypeError, ValueError, KeyError) as exc:
            errors[f"{name}[{index}]"] = str(exc).strip("'\"")
    return parsed


def _parse_pipeline(entry: Any) -> Pipeline:
    if not isinstance(entry, Mapping):
        raise TypeError("must be an object")
    try:
        pipeline_id = str(uuid.UUID(str(entry["id"])))
    except (KeyError, ValueError):
        raise ValueError("id: must be a UUID") from None
    code = entry.get("code")
    if not isinstance(code, str) or not code:
        raise ValueError("code: must be a non-empty string")
    language = str(entry.get("language", "")).upper()
    if language not in LANGUAGES:
        raise ValueError(f"language: must be one of {', '.join(LANGUAGES)}")
    inputs = []
    for raw in entry.get("inputs") or ():
        parameter = {"code": raw} if isinstance(raw, str) else raw
        if not isinstance(parameter, Mapping) or not isinstance(parameter.get("code"), str):
            raise ValueError("inputs: each must be a code or an object with a 'code'")
        inputs.append(InputParameter(parameter["code"], bool(parameter.get("required", True))))
    description = str(entry.get("description") or f"{code} ({language.title()} pipeline of the fake ICA)")
    return Pipeline(pipeline_id, code, language, tuple(inputs), description)


def _parse_data(entry: Any) -> Data:
    if not isinstance(entry, Mapping):
        raise TypeError("must be an object")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/") or "//" in path or path == "/":
        raise ValueError("path: must be an absolute path such as /fastq/S1_R1.fastq.gz (a folder ends with '/')")
    data_id = entry.get("id") or data_id_for(path)
    expected = "fol." if path.endswith("/") else "fil."
    if not (isinstance(data_id, str) and data_id.startswith(expected) and _is_hex32(data_id[4:])):
        raise ValueError(f"id: must be '{expected}' and 32 hexadecimal digits for this path")
    project_id = entry.get("project_id", entry.get("projectId"))
    return Data(data_id, path, None if project_id is None else str(project_id))


def _is_hex32(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text)
