"""What a succeeded analysis produced: one output folder with a few files, derived, not stored.

Everything is computed from the item, so outputs cost no memory and are the same on every
call: data IDs are hashes of the analysis ID and the path (``fol.``/``fil.`` + 32 hex, the
shape of ICA's data IDs). Before the analysis has SUCCEEDED it has no outputs (a failed or
aborted one neither): ICA fills the output folder while GENERATING_OUTPUTS and the fake
only shows it once complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from ica_airflow_provider.testing.catalogue import DEFAULT_OUTPUTS, FILE, FOLDER
from ica_airflow_provider.testing.entities import Item

OUTPUT_CODE = "output"  # the pipelines' one output parameter


@dataclass(frozen=True, slots=True)
class OutputData:
    """One file or folder an analysis produced (an ``AnalysisData``)."""

    data_id: str
    name: str
    data_type: str  # FILE or FOLDER
    format_code: str | None  # None for folders
    children: tuple[OutputData, ...] = ()


def data_id(kind: str, analysis_id: str, path: str) -> str:
    """A stable ICA-shaped data ID for ``path`` in the analysis's outputs."""
    digest = hashlib.sha256(f"{analysis_id}/{path}".encode()).hexdigest()[:32]
    return f"{'fol' if kind == FOLDER else 'fil'}.{digest}"


def analysis_outputs(item: Item) -> tuple[tuple[str, tuple[OutputData, ...]], ...]:
    """(output parameter code, its data) of the item's analysis once SUCCEEDED: one folder
    holding a file per output of its pipeline (``Pipeline.outputs``), named after the sample."""
    folder_name = item.reference.replace("/", "_")
    sample = item.user_reference.replace("/", "_").strip() or "sample"
    files = tuple(
        OutputData(
            data_id(FILE, item.analysis_id, f"{folder_name}/{sample}{suffix}"), sample + suffix, FILE, code
        )
        for suffix, code in (item.pipeline.outputs if item.pipeline is not None else DEFAULT_OUTPUTS)
    )
    folder = OutputData(data_id(FOLDER, item.analysis_id, folder_name), folder_name, FOLDER, None, files)
    return ((OUTPUT_CODE, (folder,)),)


def walk(data: tuple[OutputData, ...]) -> Iterator[OutputData]:
    """Every element of ``data`` and of its children, depth first."""
    for element in data:
        yield element
        yield from walk(element.children)
