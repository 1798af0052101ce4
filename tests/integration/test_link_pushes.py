"""A sensor poking in one process pushes its link XComs only when a link changes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ica_airflow_provider.links import ANALYSES_URL_XCOM, ANALYSIS_URL_XCOM
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from tests.integration.batches import create_batch

LINKS = (ANALYSES_URL_XCOM, ANALYSIS_URL_XCOM)


def test_pokes_push_each_link_when_it_changes_and_a_new_run_pushes_again(
    ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, analysis_step_seconds=5)
    connect(server)
    batch_id = create_batch("links", "ok", "bad-fail-analysis")
    pushes: list[tuple[str, Any]] = []
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda key, value: pushes.append((key, value)))}
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", max_failures=2)

    pokes = 0
    while not sensor.poke(context):
        pokes += 1
        assert pokes < 200, "the batch never finished"
        clock.advance(1)

    analysis = {i.user_reference: i.analysis_id for i in server.backend.batches[batch_id].items}
    web = server.url.removesuffix("/rest")
    first, failed = (f"{web}/link/project/proj/analysis/{analysis[ref]}" for ref in ("ok", "bad-fail-analysis"))
    analyses = f"{web}/projects/proj/analyses"
    # Before any analysis, then the first one, then the failed one: three pushes of the
    # project's page, two of the analysis link, over many more pokes.
    assert [p for p in pushes if p[0] in LINKS] == [
        (ANALYSES_URL_XCOM, analyses),
        (ANALYSES_URL_XCOM, analyses),
        (ANALYSIS_URL_XCOM, first),
        (ANALYSES_URL_XCOM, analyses),
        (ANALYSIS_URL_XCOM, failed),
    ]
    assert pokes > 10

    # A retry (or a reschedule) run by the same object, as dag.test does, or by a copy:
    # Airflow cleared the XComs, so the links are pushed again.
    pushes.clear()
    again = copy.copy(sensor)
    again.execute(context)
    assert [p for p in pushes if p[0] in LINKS] == [(ANALYSES_URL_XCOM, analyses), (ANALYSIS_URL_XCOM, failed)]
