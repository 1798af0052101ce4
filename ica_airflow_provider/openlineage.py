"""OpenLineage for a batch: the ICA data its analyses read, and the data they wrote.

Used only where ``apache-airflow-providers-openlineage`` is installed (the ``openlineage``
extra): the operator and the sensor import this module inside
``get_openlineage_facets_on_complete``, which the OpenLineage listener calls when the
task ends, so DAG files never load it or OpenLineage.

The scheme (also in docs/openlineage.md):

- A dataset is one ICA file or folder. Its namespace is ``ica://<host>``, the host (and
  port, when the URL gives one) of the connection's API base URL, e.g.
  ``ica://ica.illumina.com``; its name is ``<project id>/<data id>``, e.g.
  ``0b6e1a7c-…/fil.8f2e…``. Data IDs are ICA's own (``fil.…``, ``fol.…``).
- Inputs: the data IDs the batch request gives the items (``dataIds`` and ``mounts`` of
  ``analysisInput``, ``dataValues`` of ``inputFormValues``), for the items whose analysis
  was created; for every item when the task has no records (an operator that does not
  wait). External data (S3, HTTP, BaseSpace URLs) and reference data are not listed.
- Outputs: the top-level data of each analysis's ``outputs`` in the ``analyses`` records
  (present with ``include_outputs``), in the batch's project.
- Run facet ``icaBatch`` (:data:`FACET_NAME`): the project and batch IDs, and per created
  analysis its ID, user reference, status and the data IDs it read and wrote: which
  FASTQs made which BAMs, where the datasets alone say only "this batch".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ica_airflow_provider import __version__

__all__ = [
    "FACET_NAME",
    "FACET_SCHEMA_URL",
    "OPENLINEAGE_AVAILABLE",
    "batch_lineage",
    "dataset_name",
    "dataset_namespace",
    "request_data_ids",
    "task_lineage",
]

FACET_NAME = "icaBatch"
#: Where the facet's fields are documented: the README, which is the package's PyPI page.
FACET_SCHEMA_URL = f"https://pypi.org/project/ica-airflow-provider/{__version__}/#openlineage"
_INPUT_FIELDS = ("analysisInput", "inputFormValues")  # where an item names the data it reads

try:
    import attrs
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import RunFacet

    from ica_airflow_provider._compat import OperatorLineage
except ImportError:  # no OpenLineage provider: nothing will ask, and task_lineage answers None
    OPENLINEAGE_AVAILABLE = False
else:
    OPENLINEAGE_AVAILABLE = True

    @attrs.define
    class IcaAnalysisLineage:
        """One created analysis of the batch, in the ``icaBatch`` run facet."""

        analysisId: str  # OpenLineage JSON is camelCase
        userReference: str
        status: str | None = None
        inputDataIds: list[str] = attrs.field(factory=list)
        outputDataIds: list[str] = attrs.field(factory=list)

    @attrs.define
    class IcaBatchRunFacet(RunFacet):
        """The ICA batch a task created or waited for, and its analyses."""

        projectId: str
        batchId: str
        analyses: list[IcaAnalysisLineage] = attrs.field(factory=list)

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL


def dataset_namespace(base_url: str) -> str:
    """``ica://<host>[:<port>]`` of an ICA API base URL."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise ValueError(f"base_url: no host in {base_url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"ica://{host}" + (f":{parts.port}" if parts.port else "")


def dataset_name(project_id: str, data_id: str) -> str:
    """``<project id>/<data id>``: an ICA data ID within the project it was used in."""
    return f"{project_id}/{data_id}"


def request_data_ids(batch_request: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The ICA data IDs each item of a batch request reads, by ``userReference``.

    ``batch_request`` is ICA's JSON (camelCase), as the operator's ``build_batch()`` gives it.
    """
    found: dict[str, list[str]] = {}
    for items in (batch_request or {}).values():  # cwlItems, nextflowItems, nextflowJsonItems
        for item in items if isinstance(items, list) else ():
            if isinstance(item, Mapping):
                ids = _walk_data_ids([item.get(name) for name in _INPUT_FIELDS])
                found[str(item.get("userReference"))] = _unique(ids)
    return found


def batch_lineage(
    *,
    base_url: str,
    project_id: str,
    batch_id: str,
    batch_request: Mapping[str, Any] | None,
    records: Sequence[Mapping[str, Any]],
) -> OperatorLineage[Dataset, RunFacet]:
    """The lineage of one batch, from its request and the ``analyses`` XCom records."""
    reads = request_data_ids(batch_request)
    created = [r for r in records if isinstance(r, Mapping) and r.get("analysis_id")]
    analyses = [
        IcaAnalysisLineage(
            analysisId=str(r["analysis_id"]),
            userReference=str(r.get("user_reference")),
            status=r.get("analysis_status"),
            inputDataIds=reads.get(str(r.get("user_reference")), []),
            outputDataIds=_unique(str(o["data_id"]) for o in r.get("outputs") or () if o.get("data_id")),
        )
        for r in created
    ]
    # Without records nothing says which analyses exist: every requested item counts.
    inputs = [a.inputDataIds for a in analyses] if records else list(reads.values())
    namespace = dataset_namespace(base_url)

    def datasets(id_lists: Iterable[list[str]]) -> list[Dataset]:
        unique = _unique(data_id for ids in id_lists for data_id in ids)
        return [Dataset(namespace=namespace, name=dataset_name(project_id, i)) for i in unique]

    return OperatorLineage(
        inputs=datasets(inputs),
        outputs=datasets(a.outputDataIds for a in analyses),
        run_facets={FACET_NAME: IcaBatchRunFacet(projectId=project_id, batchId=batch_id, analyses=analyses)},
    )


def task_lineage(
    *,
    base_url: str,
    project_id: str,
    batch_id: str | None,
    records: Sequence[Mapping[str, Any]] | None = None,
    batch_request: Mapping[str, Any] | None = None,
) -> OperatorLineage[Dataset, RunFacet] | None:
    """The body of ``get_openlineage_facets_on_complete`` for the operator and the sensor.

    ``None`` when OpenLineage is not installed, or when the task ended before it had a batch.
    Takes what the task kept in memory rather than pulling its XComs: the listener runs the
    extraction in a forked process, where a call to Airflow's API can hang (it does under
    ``dag.test``), and re-reading 10,000 records would cost for nothing.
    """
    if not OPENLINEAGE_AVAILABLE or not batch_id:
        return None
    return batch_lineage(
        base_url=base_url,
        project_id=project_id,
        batch_id=batch_id,
        batch_request=batch_request,
        records=records or [],
    )


def _walk_data_ids(node: Any) -> Iterator[str]:
    """Every ``dataIds`` entry and ``dataId`` value in a piece of ICA JSON."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "dataIds" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key == "dataId" and isinstance(value, str):
                yield value
            else:
                yield from _walk_data_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_data_ids(value)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
