"""The read-only HTML pages at the ICA web UI's URLs (``/ica/...``, outside the API base)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests

from ica_airflow_provider.testing import ManualClock

from .helpers import IcaClient, batch_body

PROJECT = "web-project"


@pytest.fixture
def web(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, ManualClock, str]:
    """A client, its clock and the web root ``http://127.0.0.1:PORT/ica``."""
    clock = ManualClock()
    client = client_factory(clock=clock)
    return client, clock, client.url.removesuffix("/rest")


def page(url: str) -> requests.Response:
    """A GET as a browser sends it: no API credentials."""
    return requests.get(url, headers={"Accept": "text/html"})


def links(response: requests.Response) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', response.text)]


def analysis_ids(client: IcaClient, batch_id: str) -> list[str]:
    return [item.analysis_id for item in client.server.backend.batches[batch_id].items]


def test_project_analyses_page(web: tuple[IcaClient, ManualClock, str]) -> None:
    client, clock, root = web
    batch_id = client.create_batch(batch_body("NA12878", "NA12891-fail-analysis"), project_id=PROJECT).json()[
        "id"
    ]
    ok, failing = analysis_ids(client, batch_id)
    clock.advance(1)  # created, not finished
    listing = page(f"{root}/projects/{PROJECT}/analyses")
    assert listing.status_code == 200
    assert listing.headers["Content-Type"].startswith("text/html")
    assert "NA12878" in listing.text and "NA12891-fail-analysis" in listing.text
    assert "2 analyses" in listing.text and "SUCCEEDED" not in listing.text
    assert links(listing) == [
        f"/ica/link/project/{PROJECT}/analysis/{ok}",
        f"/ica/link/project/{PROJECT}/analysis/{failing}",
    ]
    clock.advance(100)
    later = page(f"{root}/projects/{PROJECT}/analyses").text
    assert "SUCCEEDED" in later and "FAILED" in later
    for href in links(listing):
        assert page(root.removesuffix("/ica") + href).status_code == 200


def test_analysis_page_shows_status_summary_pipeline_and_outputs(
    web: tuple[IcaClient, ManualClock, str],
) -> None:
    client, clock, root = web
    batch_id = client.create_batch(batch_body("S1", "S2-fail-analysis"), project_id=PROJECT).json()["id"]
    ok, failing = analysis_ids(client, batch_id)
    clock.advance(1)
    running = page(f"{root}/link/project/{PROJECT}/analysis/{ok}")
    assert running.status_code == 200 and "No outputs yet: the analysis is still running." in running.text
    clock.advance(100)
    done = page(f"{root}/link/project/{PROJECT}/analysis/{ok}")
    analysis = client.get_analysis(ok, project_id=PROJECT).json()
    assert "SUCCEEDED" in done.text and html.escape(analysis["pipeline"]["code"]) in done.text
    assert batch_id in done.text and ok in done.text
    outputs = client.session.get(
        f"{client.url}/api/projects/{PROJECT}/analyses/{ok}/outputs", headers=client.headers(3)
    ).json()
    folder = outputs["items"][0]["data"][0]
    assert f"/ica/link/project/{PROJECT}/data/{folder['dataId']}" in links(done)
    assert f"/ica/projects/{PROJECT}/analyses" in links(done)
    failed = page(f"{root}/link/project/{PROJECT}/analysis/{failing}")
    assert "FAILED" in failed.text and "No outputs: the analysis ended FAILED." in failed.text
    # The summary quotes the marker: shown escaped, never as raw markup.
    assert html.escape("(ica-fake marker 'fail-analysis')", quote=True) in failed.text


def test_data_pages_for_the_folder_and_its_files(web: tuple[IcaClient, ManualClock, str]) -> None:
    client, clock, root = web
    batch_id = client.create_batch(batch_body("S1"), project_id=PROJECT).json()["id"]
    (ok,) = analysis_ids(client, batch_id)
    clock.advance(100)
    outputs = client.session.get(
        f"{client.url}/api/projects/{PROJECT}/analyses/{ok}/outputs", headers=client.headers(3)
    ).json()
    folder = outputs["items"][0]["data"][0]
    folder_page = page(f"{root}/link/project/{PROJECT}/data/{folder['dataId']}")
    assert folder_page.status_code == 200
    assert html.escape(folder["name"]) in folder_page.text and "FOLDER" in folder_page.text
    child_links = [f"/ica/link/project/{PROJECT}/data/{child['dataId']}" for child in folder["children"]]
    assert set(child_links) <= set(links(folder_page))
    assert f"/ica/link/project/{PROJECT}/analysis/{ok}" in links(folder_page)
    bam = page(root.removesuffix("/ica") + child_links[0])
    assert bam.status_code == 200 and "S1.bam" in bam.text and "BAM" in bam.text and "FILE" in bam.text


def test_unknown_things_are_html_404s(web: tuple[IcaClient, ManualClock, str]) -> None:
    client, clock, root = web
    batch_id = client.create_batch(batch_body("S1"), project_id=PROJECT).json()["id"]
    (ok,) = analysis_ids(client, batch_id)
    assert page(f"{root}/link/project/{PROJECT}/analysis/{ok}").status_code == 404  # not created yet
    clock.advance(100)
    for url in (
        f"{root}/projects/no-such-project/analyses",
        f"{root}/link/project/{PROJECT}/analysis/no-such-analysis",
        f"{root}/link/project/other-project/analysis/{ok}",
        f"{root}/link/project/{PROJECT}/data/fil.0123456789abcdef0123456789abcdef",
    ):
        missing = page(url)
        assert missing.status_code == 404, url
        assert missing.headers["Content-Type"].startswith("text/html") and "not found" in missing.text


def test_everything_shown_is_escaped(web: tuple[IcaClient, ManualClock, str]) -> None:
    client, clock, root = web
    project = '<b onclick="x">&'  # no slash: a %2F would split the path
    client.create_batch(batch_body("S1"), project_id=quote(project, safe=""))
    clock.advance(100)
    listing = page(f"{root}/projects/{quote(project, safe='')}/analyses")
    assert listing.status_code == 200
    assert "<b " not in listing.text and html.escape(project) in listing.text
    # The link keeps the project ID percent-encoded inside the path.
    assert all(
        href.startswith(f"/ica/link/project/{quote(project, safe='')}/analysis/") for href in links(listing)
    )
    missing = page(f"{root}/link/project/{quote(project, safe='')}/analysis/{quote('<b>', safe='')}")
    assert missing.status_code == 404 and "<b>" not in missing.text


def test_pages_are_not_api_requests(client_factory: Callable[..., IcaClient]) -> None:
    client = client_factory(clock=ManualClock(), rate_limit=1)
    client.create_batch(batch_body("S1"), project_id=PROJECT)  # the one request of this second
    backend = client.server.backend
    before = backend.request_count
    root = client.url.removesuffix("/rest")
    assert all(page(f"{root}/projects/{PROJECT}/analyses").status_code == 200 for _ in range(3))
    assert backend.request_count == before and backend.counters.rate_limited == 0
