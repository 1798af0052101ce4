"""Read-only HTML pages at the ICA web UI's URLs, so links built for ICA work against the fake.

The web root is the API base without ``/rest`` (``/ica``). URL forms, as ICA's help
(help.ica.illumina.com/project/p-data) documents its deep links:

- ``/ica/projects/{projectId}/analyses``: the project's analyses;
- ``/ica/link/project/{projectId}/analysis/{analysisId}``: one analysis;
- ``/ica/link/project/{projectId}/data/{dataId}``: one file or folder (of the catalogue, or
  an analysis's output).

No authentication (a browser has its session) and no rate limit or faults: these are not
API calls. Everything shown is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from ica_airflow_provider.testing.backend import FakeIcaBackend
from ica_airflow_provider.testing.catalogue import Data
from ica_airflow_provider.testing.lifecycle import analysis_state
from ica_airflow_provider.testing.outputs import OutputData
from ica_airflow_provider.testing.problems import IcaProblem, not_found
from ica_airflow_provider.testing.render import Renderer, pipeline_code

WEB_ROOT = "/ica"
MAX_ROWS = 1000  # the newest analyses of a project; the page says how many it left out


def analyses_path(project_id: str) -> str:
    """The project's analyses page."""
    return f"{WEB_ROOT}/projects/{quote(project_id, safe='')}/analyses"


def analysis_path(project_id: str, analysis_id: str) -> str:
    """One analysis's page."""
    return f"{WEB_ROOT}/link/project/{quote(project_id, safe='')}/analysis/{quote(analysis_id, safe='')}"


def data_path(project_id: str, data_id: str) -> str:
    """One data item's page."""
    return f"{WEB_ROOT}/link/project/{quote(project_id, safe='')}/data/{quote(data_id, safe='')}"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(href: str, text: object) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fields(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are already escaped."""
    return "<dl>" + "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in pairs) + "</dl>"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)} - Fake ICA</title></head>"
        f"<body><p>Fake ICA (read-only)</p><h1>{_e(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status)


def _not_found(problem: IcaProblem) -> HTMLResponse:
    return _page("Not found", f"<p>{_e(problem.detail)}</p>", problem.status)


def add_web_pages(app: FastAPI, backend: FakeIcaBackend, renderer: Renderer) -> None:
    """Serve the three web UI pages on ``app``."""

    @app.get(WEB_ROOT + "/projects/{project_id}/analyses", response_class=HTMLResponse)
    async def project_analyses(project_id: str) -> HTMLResponse:
        if not backend.has_project(project_id):
            return _not_found(not_found("Project", project_id))
        t = backend.now()
        items = backend.project_analyses(project_id, t)
        rows = [
            (
                _link(analysis_path(project_id, item.analysis_id), item.user_reference),
                _e(analysis_state(item, t).status),
                _e(pipeline_code(item)),
                _e(renderer.iso(item.created_at)),
                _e(item.analysis_id),
            )
            for item in items[:MAX_ROWS]
        ]
        shown = f"<p>{len(items)} analyses" + (
            f", the newest {MAX_ROWS} shown" if len(items) > MAX_ROWS else ""
        )
        table = _table(("User reference", "Status", "Pipeline", "Created", "Analysis ID"), rows)
        return _page(f"Analyses of project {project_id}", shown + "</p>" + table)

    @app.get(WEB_ROOT + "/link/project/{project_id}/analysis/{analysis_id}", response_class=HTMLResponse)
    async def analysis(project_id: str, analysis_id: str) -> HTMLResponse:
        t = backend.now()
        try:
            item, outputs = backend.get_analysis_outputs(project_id, analysis_id, t)
        except IcaProblem as problem:
            return _not_found(problem)
        state = analysis_state(item, t)
        fields = _fields(
            [
                ("Status", _e(state.status)),
                ("Analysis ID", _e(item.analysis_id)),
                ("User reference", _e(item.user_reference)),
                ("Reference", _e(item.reference)),
                ("Pipeline", _e(pipeline_code(item))),
                ("Summary", _e(state.summary or "")),
                ("Created", _e(renderer.iso(item.created_at))),
                ("Started", _e(renderer.iso_or_none(state.start_date) or "")),
                ("Ended", _e(renderer.iso_or_none(state.end_date) or "")),
                ("Batch", _e(item.batch.id)),
                ("Project", _link(analyses_path(project_id), project_id)),
            ]
        )
        rows = [
            (_e(code), _link(data_path(project_id, element.data_id), element.name), _e(element.data_type))
            for code, data in outputs
            for element in data
        ]
        body = fields + "<h2>Outputs</h2>"
        body += _table(("Output", "Name", "Type"), rows) if rows else f"<p>{_no_outputs(state.status)}</p>"
        return _page(f"Analysis {item.user_reference}", body)

    @app.get(WEB_ROOT + "/link/project/{project_id}/data/{data_id}", response_class=HTMLResponse)
    async def data(project_id: str, data_id: str) -> HTMLResponse:
        stored = backend.catalogue.visible_data(project_id, data_id)
        if stored is not None:
            return _catalogue_data_page(project_id, stored, backend.catalogue.data.values())
        try:
            item, element = backend.find_data(project_id, data_id, backend.now())
        except IcaProblem as problem:
            return _not_found(problem)
        fields = _fields(
            [
                ("Name", _e(element.name)),
                ("Type", _e(element.data_type)),
                ("Format", _e(element.format_code or "")),
                ("Data ID", _e(element.data_id)),
                ("Produced by", _link(analysis_path(project_id, item.analysis_id), item.user_reference)),
            ]
        )
        return _page(f"{element.data_type.title()} {element.name}", fields + _children(project_id, element))


def _children(project_id: str, element: OutputData) -> str:
    if not element.children:
        return ""
    rows = [
        (
            _link(data_path(project_id, child.data_id), child.name),
            _e(child.data_type),
            _e(child.format_code or ""),
        )
        for child in element.children
    ]
    return "<h2>Contents</h2>" + _table(("Name", "Type", "Format"), rows)


def _catalogue_data_page(project_id: str, data: Data, everything: Iterable[Data]) -> HTMLResponse:
    """A file or folder of the catalogue; a folder lists what the project sees directly inside it."""
    fields = _fields(
        [
            ("Name", _e(data.name)),
            ("Path", _e(data.path)),
            ("Type", _e(data.data_type)),
            ("Format", _e(data.format_code or "")),
            ("Data ID", _e(data.id)),
        ]
    )
    body = fields
    if data.data_type == "FOLDER":
        inside = sorted(
            (d for d in list(everything) if d.visible_in(project_id) and _parent(d.path) == data.path),
            key=lambda d: d.path,
        )
        rows = [(_link(data_path(project_id, d.id), d.name), _e(d.data_type), _e(d.format_code or "")) for d in inside]
        body += "<h2>Contents</h2>" + (_table(("Name", "Type", "Format"), rows) if rows else "<p>Empty folder.</p>")
    return _page(f"{data.data_type.title()} {data.name}", body)


def _parent(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0] + "/"


def _no_outputs(status: str) -> str:
    """What the outputs section says when there are none, by the analysis's status."""
    if status == "SUCCEEDED":
        return "No outputs."
    if status in ("FAILED", "FAILED_FINAL", "ABORTED"):
        return f"No outputs: the analysis ended {_e(status)}."
    return "No outputs yet: the analysis is still running."
