"""The URLs the extra links point at, which analysis the analysis link picks, and what is pushed."""

from __future__ import annotations

from typing import Any

from ica_airflow_provider.core.tracker import ItemRecord
from ica_airflow_provider.links import (
    ANALYSES_URL_XCOM,
    ANALYSIS_URL_XCOM,
    WAIT_LINKS,
    PushedLinks,
    analyses_url,
    analysis_url,
    pick_analysis,
    push_links,
)

WEB = "https://ica.illumina.com/ica"


def record(item: str, analysis: str | None, status: str | None, item_status: str = "SUCCEEDED") -> ItemRecord:
    return ItemRecord(item, f"ref-{item}", "pipe", item_status, analysis, status)


class FakeTi:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_urls_follow_ica_web_ui_forms() -> None:
    assert analyses_url(WEB + "/", "p1") == "https://ica.illumina.com/ica/projects/p1/analyses"
    assert analysis_url(WEB, "p1", "a1") == "https://ica.illumina.com/ica/link/project/p1/analysis/a1"


def test_the_first_failed_analysis_wins_over_earlier_ones() -> None:
    records = [
        record("i1", None, None, item_status="FAILED"),  # creation failed: no analysis to open
        record("i2", "a2", "SUCCEEDED"),
        record("i3", "a3", "FAILED"),
        record("i4", "a4", "ABORTED"),
    ]
    assert pick_analysis(records) == "a3"


def test_without_a_failure_the_first_analysis_and_xcom_dicts_work_too() -> None:
    records = [record("i1", None, None, "RUNNING"), record("i2", "a2", "IN_PROGRESS"), record("i3", "a3", "SUCCEEDED")]
    assert pick_analysis(records) == "a2"
    assert pick_analysis([r.to_xcom() for r in records]) == "a2"
    assert pick_analysis([record("i1", None, None, "RUNNING")]) is None


def test_push_links_pushes_both_urls_once_an_analysis_exists() -> None:
    ti = FakeTi()
    push_links({"ti": ti}, WEB, "p1", [record("i1", None, None, "RUNNING")])
    assert ti.pushed == {ANALYSES_URL_XCOM: f"{WEB}/projects/p1/analyses"}

    push_links({"ti": ti}, WEB, "p1", [record("i1", "a1", "SUCCEEDED"), record("i2", "a2", "FAILED")])
    assert ti.pushed[ANALYSIS_URL_XCOM] == f"{WEB}/link/project/p1/analysis/a2"

    nothing = FakeTi()
    push_links({"ti": nothing}, WEB, None, [record("i1", "a1", "FAILED")])
    assert nothing.pushed == {}
    push_links({"ti": None}, WEB, "p1", [record("i1", "a1", "FAILED")])  # outside a task: no error


def test_a_connection_problem_costs_the_links_not_the_task() -> None:
    ti = FakeTi()

    def web_url() -> str:
        raise LookupError("The conn_id `ica_default` isn't defined")

    push_links({"ti": ti}, web_url, "p1", [record("i1", "a1", "FAILED")])
    assert ti.pushed == {}


def test_links_that_could_not_be_built_are_tried_again_next_time() -> None:
    ti, pushed = FakeTi(), PushedLinks()
    records = [record("i1", "a1", "FAILED")]

    def no_connection() -> str:
        raise LookupError("The conn_id `ica_default` isn't defined")

    push_links({"ti": ti}, no_connection, "p1", records, pushed)
    push_links({"ti": ti}, WEB, "p1", records, pushed)
    assert ti.pushed[ANALYSIS_URL_XCOM] == f"{WEB}/link/project/p1/analysis/a1"
    ti.pushed.clear()
    push_links({"ti": ti}, WEB, "p1", records, pushed)  # unchanged: not pushed again
    assert ti.pushed == {}


def test_each_link_reads_its_own_xcom() -> None:
    assert [(link.name, link.url_xcom) for link in WAIT_LINKS] == [
        ("ICA analyses", ANALYSES_URL_XCOM),
        ("ICA analysis", ANALYSIS_URL_XCOM),
    ]
