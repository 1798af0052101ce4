"""Operator extra link to the batch's analyses in the ICA web UI."""

from __future__ import annotations

from typing import Any

from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS, BaseOperatorLink

ANALYSES_URL_XCOM = "analyses_url"


def analyses_url(web_url: str, project_id: str) -> str:
    return f"{web_url.rstrip('/')}/projects/{project_id}/analyses"


class IcaProjectAnalysesLink(BaseOperatorLink):
    """"ICA analyses": the project's analyses page, from the URL the task pushed."""

    name = "ICA analyses"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk.execution_time.xcom import XCom
        else:
            from airflow.models.xcom import XCom  # type: ignore[no-redef]
        value = XCom.get_value(ti_key=ti_key, key=ANALYSES_URL_XCOM)
        return str(value) if value else ""
