"""Extra links from a task to the ICA web UI: the project's analyses, and one analysis.

The task pushes each URL as an XCom while it runs (:func:`push_links`); the link classes
only read them back, so rendering a link needs neither the connection nor ICA.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider._compat import BaseOperatorLink
from ica_airflow_provider.core.status import Phase, analysis_phase

log = logging.getLogger(__name__)

ANALYSES_URL_XCOM = "analyses_url"
ANALYSIS_URL_XCOM = "analysis_url"


def analyses_url(web_url: str, project_id: str) -> str:
    """The project's analyses list in the ICA web UI."""
    return f"{web_url.rstrip('/')}/projects/{project_id}/analyses"


def analysis_url(web_url: str, project_id: str, analysis_id: str) -> str:
    """One analysis in the ICA web UI.

    ICA documents this stable form for links to an analysis: ``https://<ServerURL>/ica/link/
    project/<ProjectID>/analysis/<AnalysisID>`` (help.ica.illumina.com/project/p-data,
    "Data and analysis links"); ``web_url`` is ``https://<ServerURL>/ica``.
    """
    return f"{web_url.rstrip('/')}/link/project/{project_id}/analysis/{analysis_id}"


def pick_analysis(records: Iterable[Any]) -> str | None:
    """The analysis worth opening: the first failed one, else the batch's first analysis.

    ``records`` are ``ItemRecord``s or their XCom form (dicts).
    """
    first = None
    for record in records:
        analysis_id = _field(record, "analysis_id")
        if not analysis_id:
            continue
        if analysis_phase(str(_field(record, "analysis_status") or "")) is Phase.FAILED:
            return str(analysis_id)
        first = first or str(analysis_id)
    return first


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


@dataclass
class PushedLinks:
    """What one task pushed last, so that a poke that changes no link pushes nothing."""

    last: tuple[str, str | None] | None = None


def push_links(
    context: Any,
    web_url: str | Callable[[], str],
    project_id: str | None,
    records: Iterable[Any] = (),
    pushed: PushedLinks | None = None,
) -> None:
    """Push the URLs the extra links show; the analysis link only once an analysis exists.

    ``web_url`` may be a callable (it can need the connection). Links are a convenience: a
    failure to build them is logged, never raised over the task's own outcome. With
    ``pushed``, links already pushed as they are are not pushed again.
    """
    ti = context.get("ti") if isinstance(context, Mapping) else None
    if ti is None or not project_id:  # outside a task instance: nowhere to push
        return
    analysis_id = pick_analysis(records)
    if pushed is not None and pushed.last == (project_id, analysis_id):
        return
    try:
        root = web_url() if callable(web_url) else web_url
    except Exception as error:
        log.warning("No ICA links for this task: %s", error)
        return
    ti.xcom_push(key=ANALYSES_URL_XCOM, value=analyses_url(root, project_id))
    if analysis_id:
        ti.xcom_push(key=ANALYSIS_URL_XCOM, value=analysis_url(root, project_id, analysis_id))
    if pushed is not None:
        pushed.last = (project_id, analysis_id)


class _XComUrlLink(BaseOperatorLink):
    """A link whose URL the task pushed as the XCom ``url_xcom`` (empty until then)."""

    name = ""
    url_xcom = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from ica_airflow_provider._compat import XCom

        value = XCom.get_value(ti_key=ti_key, key=self.url_xcom)
        return str(value) if value else ""


class IcaProjectAnalysesLink(_XComUrlLink):
    """"ICA analyses": the project's analyses page."""

    name = "ICA analyses"
    url_xcom = ANALYSES_URL_XCOM


class IcaAnalysisLink(_XComUrlLink):
    """"ICA analysis": the batch's first failed analysis, else its first analysis."""

    name = "ICA analysis"
    url_xcom = ANALYSIS_URL_XCOM


# What a waiting task declares as ``operator_extra_links``.
WAIT_LINKS = (IcaProjectAnalysesLink(), IcaAnalysisLink())
