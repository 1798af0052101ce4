"""What an analysis produced: ``GET /api/projects/{projectId}/analyses/{analysisId}/outputs``.

ICA answers an ``AnalysisOutputList`` (v3 media type): per output parameter of the
pipeline its ``code`` and the data it produced, usually one output folder whose
``children`` list the files. The ``analyses`` XCom keeps only the top level of that
tree (:func:`output_records`): enough to find the folder, and small for 10,000 analyses.
Lenient like every response model: unknown fields are kept, ``dataType`` stays a string.
"""

from __future__ import annotations

from typing import Any

from ica_airflow_provider.models._base import IcaResponseModel

__all__ = ["AnalysisData", "AnalysisDataFormat", "AnalysisOutput", "AnalysisOutputList", "output_records"]


class AnalysisDataFormat(IcaResponseModel):
    """The format of a file (schema ``DataFormat``); only ``code`` (``BAM``, ``VCF``, ...) is read."""

    code: str
    id: str | None = None
    description: str | None = None
    mime_type: str | None = None


class AnalysisData(IcaResponseModel):
    """A file or folder an analysis read or wrote; a folder may list its ``children``."""

    data_id: str
    name: str
    data_type: str  # FILE or FOLDER
    format: AnalysisDataFormat | None = None  # required by the spec; tolerated when absent
    mount_path: str | None = None
    children: list[AnalysisData] | None = None


class AnalysisOutput(IcaResponseModel):
    """The data produced for one output parameter (``code``) of the pipeline."""

    code: str
    project_id: str | None = None
    data: list[AnalysisData] | None = None


class AnalysisOutputList(IcaResponseModel):
    """The outputs of one analysis: one entry per output parameter."""

    items: list[AnalysisOutput]


def output_records(outputs: AnalysisOutputList) -> list[dict[str, Any]]:
    """The ``outputs`` of an ``analyses`` XCom record: one entry per top-level data element.

    Each is ``{"code", "data_id", "name", "data_type"}``; children are left out on purpose
    (an output folder may hold 200,000 files, and its ID is what the next task needs).
    """
    return [
        {"code": output.code, "data_id": data.data_id, "name": data.name, "data_type": data.data_type}
        for output in outputs.items
        for data in output.data or ()
    ]
