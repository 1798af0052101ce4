"""Files "uploaded" into, or linked to, a project of the fake ICA, and the data events announcing them.

:func:`upload` adds a file to the catalogue (so its data id is usable in a batch of that
project at once) and publishes, through the same emitter and fault knobs as the analysis
events, ``ICA_DATA_107`` (created, status PARTIAL), then ``ICA_DATA_108`` (uploaded) and
``ICA_DATA_100`` (status changed), both AVAILABLE. :func:`link` makes an existing file or
folder visible in another project and publishes ``ICA_DATA_104``. Each event goes only to
the queues of enabled subscriptions of its code; the payload is a ``ProjectData`` in ICA's
shape (``details.path`` is the full path, as ICA's API returns it). ICA documents no
``eventParameters`` for data events: the fake sends none.

HTTP: ``POST /_fake/projects/{projectId}/data:upload`` ``{"path", "sizeInBytes"?,
"userTags"?, "technicalTags"?}`` and ``POST /_fake/projects/{projectId}/data:link``
``{"dataId"}`` (see ``notification_api``); both answer the ``ProjectData``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ica_airflow_provider.testing.catalogue import FOLDER, Data, data_id_for
from ica_airflow_provider.testing.problems import bad_request, not_found
from ica_airflow_provider.testing.render import data_format, iso, stable_uuid
from ica_airflow_provider.testing.transitions import envelope

if TYPE_CHECKING:
    from ica_airflow_provider.testing.backend import FakeIcaBackend

JSON = dict[str, Any]
CREATED, UPLOADED, LINKED, STATUS_CHANGED = "ICA_DATA_107", "ICA_DATA_108", "ICA_DATA_104", "ICA_DATA_100"
_TAG_MAX = 255


def upload(
    backend: FakeIcaBackend,
    project_id: str,
    path: str,
    size: int = 1024,
    user_tags: Iterable[str] = (),
    technical_tags: Iterable[str] = (),
) -> Data:
    """Add the file ``path`` to ``project_id`` and announce it (107, then 108 and 100); the record."""
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "//" in path:
        raise bad_request("path must be an absolute file path such as /runs/r1/S1_R1.fastq.gz", {"path": "invalid"})
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_request("sizeInBytes must be a non-negative integer", {"sizeInBytes": "invalid"})
    data = Data(
        data_id_for(path, project_id),
        path,
        project_id,
        size=size,
        user_tags=_tags(user_tags, "userTags"),
        technical_tags=_tags(technical_tags, "technicalTags"),
        uploaded_at=backend.now(),
    )
    backend.catalogue.add_data(data)
    _announce(backend, project_id, data, CREATED, "PARTIAL")
    _announce(backend, project_id, data, UPLOADED, "AVAILABLE")
    _announce(backend, project_id, data, STATUS_CHANGED, "AVAILABLE")
    return data


def link(backend: FakeIcaBackend, project_id: str, data_id: str) -> Data:
    """Make an existing file or folder visible in ``project_id`` too and announce it (104); the record."""
    data = backend.catalogue.data.get(data_id) if isinstance(data_id, str) else None
    if data is None:
        raise not_found("Data", str(data_id))
    if not data.visible_in(project_id):
        data = backend.catalogue.add_data(dataclasses.replace(data, linked_to=(*data.linked_to, project_id)))
    _announce(backend, project_id, data, LINKED, "AVAILABLE")
    return data


def project_data(backend: FakeIcaBackend, project_id: str, data: Data, status: str = "AVAILABLE") -> JSON:
    """The ``ProjectData`` of ``data`` seen from ``project_id``."""
    identity = backend.identity
    at = data.uploaded_at if data.uploaded_at is not None else backend.now()
    # created a moment before it became available: the PARTIAL and AVAILABLE events differ in timeModified
    created = iso(backend.to_wall(at - 0.001))
    modified = created if status == "PARTIAL" else iso(backend.to_wall(at))
    owner = data.project_id or project_id
    details: JSON = {
        "timeCreated": created,
        "timeModified": modified,
        "creatorId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
        "owningProjectId": stable_uuid(owner),
        "name": data.name,
        "path": data.path,
        "fileSizeInBytes": None if data.data_type == FOLDER else data.size,
        "status": status,
        "tags": {
            "technicalTags": list(data.technical_tags),
            "userTags": list(data.user_tags),
            "connectorTags": [],
            "runInTags": [],
            "runOutTags": [],
            "referenceTags": [],
        },
        "format": None if data.format_code is None else data_format(data.format_code, identity),
        "dataType": data.data_type,
    }
    body: JSON = {"id": data.id, "urn": f"urn:ilmn:ica:region:fake:data:{data.id}#{data.path}", "details": details}
    return {"data": body, "projectId": stable_uuid(project_id)}


def _announce(backend: FakeIcaBackend, project_id: str, data: Data, code: str, status: str) -> None:
    payload = project_data(backend, project_id, data, status)
    backend.emitter.announce(
        project_id,
        code,
        lambda version, wall, correlation: envelope(code, project_id, wall, correlation, version, payload),
    )


def _tags(values: Iterable[str], name: str) -> tuple[str, ...]:
    tags = tuple(values) if not isinstance(values, str) else (values,)
    if not all(isinstance(tag, str) and 0 < len(tag) <= _TAG_MAX for tag in tags):
        raise bad_request(f"{name} must be a list of texts of 1 to {_TAG_MAX} characters", {name: "invalid"})
    return tags
