"""What a person does in the Airflow UI, in a real (headless) browser against the deployment.

Opens the DAG; in the trigger form sees *Failed samples tolerated* (``max_failures``) offered
and has a malformed pipeline ID, a dotted sample name and a box of blank lines refused, each
with the rule in words; fills it with two samples (one failing, and the trailing blank line a
textarea easily gets), triggers, waits for the run in the grid, opens the failed sensor task
(its error, then its extra links); triggers a well-formed pipeline ID the fake ICA does not
know and reads the wait's log naming the sample and ICA's reason; tests and opens ``ica_default``. Screenshots go to
``.e2e/screenshots/`` only, so a run leaves the clone clean; ``make screenshots`` (maintainers)
copies the ones the guides show to ``docs/`` (``--refresh-docs``).

Selectors are what the Airflow 3.3 UI exposes for people and tests: roles with accessible
names, ``data-testid`` attributes, and the form fields' ``name`` (``element_<param>``).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from deploy.airflow_e2e.browser import browser_page, ensure_chromium
from deploy.airflow_e2e.checks import EARLY_FAILED, LONG_RUNNING, STOP_RUN
from deploy.airflow_e2e.deployment import CONN_ID, DAG_ID, E2E_DIR, PROJECT_ID, REPO, Deployment

SCREENSHOTS = E2E_DIR / "screenshots"
DOCS = REPO / "docs"
# Shown in the guides: copied to docs/ by `make screenshots` (refresh_docs), never by a test run.
DOC_SHOTS = (
    "ui-trigger-form.png",
    "ui-grid.png",
    "ui-task-error.png",
    "ui-task-links.png",
    "ui-mapped-by-sample.png",  # only when check_successful_run ran first (not with e2e.py --only)
)
RUN_ID = "e2e-browser"
SUCCESS_RUN = "e2e-success"  # check_successful_run's, when it ran before
WAIT_TASK = "wait_for_analyses"
SAMPLES = ("UI1", "UI2-fail-analysis")
FAILED_REFERENCE = "UI2-fail-analysis-germline"
RUN_TIMEOUT_SECONDS = 240.0
# Refused by the form (the params' rules, ica_airflow_provider.forms): the value typed, the field,
# the rule's words the message must show, and the screenshot.
REFUSED = (
    ("pipeline_id", "not a pipeline id!", "an ICA pipeline ID is a UUID", "ui-form-bad-pipeline.png"),
    ("samples", "HG002.lane1\nHG003", "a sample name has only letters", "ui-form-dotted-sample.png"),
    ("samples", "\n \n", "only blank lines: give at least one sample name", "ui-form-blank-samples.png"),
)
# Well-formed, so the form and the operator accept it; not in the fake ICA's catalogue.
UNKNOWN_PIPELINE = "0b6e1f3a-9c2d-4e8f-a1b2-c3d4e5f6a7b8"
UNKNOWN_RUN = "e2e-browser-unknown-pipeline"
UNKNOWN_SAMPLE = "UI3"


class Walkthrough:
    def __init__(self, deployment: Deployment, page: Any) -> None:
        self.deployment = deployment
        self.page = page
        self.base = deployment.api_url
        self.shots: list[Path] = []

    def shot(self, name: str, target: Any = None) -> None:
        path = SCREENSHOTS / name
        (target or self.page).screenshot(path=str(path))
        self.shots.append(path)

    def open(self, path: str) -> None:
        self.page.goto(self.base + path, wait_until="networkidle")

    # --- the steps -----------------------------------------------------------------------

    def trigger(self) -> None:
        """The DAG page's Trigger button, the params form filled as a person would."""
        self.open(f"/dags/{DAG_ID}")
        # The DAG's doc_md, behind the DAG page's Docs button, explains the fake server's markers.
        self.page.get_by_test_id("markdown-button").click()
        docs = self.page.get_by_role("dialog")
        docs.get_by_text("awaiting-input", exact=True).first.wait_for()
        self.shot("ui-dag-docs.png", docs)
        docs.get_by_role("button", name="Close").click()
        docs.wait_for(state="hidden")
        self.page.get_by_test_id("trigger-dag-button").click()
        dialog = self.page.get_by_role("dialog")
        samples = dialog.locator("textarea[name=element_samples]")
        # Help text under the field: the param's description.
        dialog.get_by_text("Blank lines and spaces around a name are ignored").first.wait_for()
        samples.fill("\n".join(SAMPLES) + "\n")  # the trailing newline a textarea easily gets
        self.shot("ui-trigger-form.png", dialog)
        self.submit(dialog, RUN_ID)
        dialog.wait_for(state="hidden")

    def trigger_form(self) -> Any:
        """The DAG page's Trigger button: the params form, open."""
        self.open(f"/dags/{DAG_ID}")
        self.page.get_by_test_id("trigger-dag-button").click()
        dialog = self.page.get_by_role("dialog")
        dialog.locator("textarea[name=element_samples]").wait_for()
        return dialog

    def submit(self, dialog: Any, run_id: str) -> None:
        dialog.get_by_role("button", name="Advanced Options").click()
        dialog.locator("input[name=dagRunId]").fill(run_id)
        dialog.get_by_test_id("trigger-dag-submit").click()

    def form_refusals(self) -> list[str]:
        """``max_failures`` is offered, described; bad values are refused with the rule in words, no run made."""
        client = self.deployment.client
        runs_before = len(client.dag_runs(DAG_ID))
        dialog = self.trigger_form()
        tolerated = dialog.locator("input[name=element_max_failures]")
        dialog.get_by_text("Failed samples tolerated", exact=False).first.wait_for()
        dialog.get_by_text("How many samples may fail", exact=False).first.wait_for()
        # The field and its description above the fold: the next heading in view.
        dialog.get_by_role("button", name="Advanced Options").scroll_into_view_if_needed()
        assert tolerated.input_value() == "0", tolerated.input_value()
        self.page.mouse.move(0, 0)
        self.shot("ui-form-max-failures.png")  # the viewport: the dialog is taller than it
        messages = []
        defaults: dict[str, str] = {}
        for param, value, rule, name in REFUSED:
            field = dialog.locator(f"[name=element_{param}]")
            for other, default in defaults.items():  # only this value is wrong
                dialog.locator(f"[name=element_{other}]").fill(default)
            defaults.setdefault(param, field.input_value())
            field.fill(value)
            field.blur()
            with self.page.expect_response(lambda r: r.url.endswith(f"/dags/{DAG_ID}/dagRuns")) as sent:
                dialog.get_by_test_id("trigger-dag-submit").click()
            detail = str(sent.value.json().get("detail"))
            assert sent.value.status == 400 and f"param {param}:" in detail and rule in detail, (value, detail)
            shown = dialog.get_by_text(rule, exact=False).first  # the API's refusal, shown in the form
            shown.wait_for()
            message = " ".join(shown.inner_text().split())
            dialog.get_by_text("400 Bad Request").first.scroll_into_view_if_needed()  # the message's top
            self.page.mouse.move(0, 0)
            self.shot(name)
            messages.append(message)
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="hidden")
        assert len(client.dag_runs(DAG_ID)) == runs_before, "a refused form made a run"
        return messages

    def trigger_unknown_pipeline(self) -> None:
        """A well-formed pipeline ID that ICA does not know: the form accepts it, ICA will not."""
        dialog = self.trigger_form()
        dialog.locator("textarea[name=element_samples]").fill(UNKNOWN_SAMPLE)
        dialog.locator("input[name=element_pipeline_id]").fill(UNKNOWN_PIPELINE)
        self.submit(dialog, UNKNOWN_RUN)
        dialog.wait_for(state="hidden")

    def unknown_pipeline_task(self) -> str:
        """The wait's log names the sample whose creation failed, and ICA's reason."""
        client = self.deployment.client

        def ended() -> str | None:
            self.deployment.check_alive()
            state = str(client.dag_run(DAG_ID, UNKNOWN_RUN)["state"])
            return state if state in ("success", "failed") else None

        state = client.wait_for(f"run {UNKNOWN_RUN} ended", ended, RUN_TIMEOUT_SECONDS)
        assert state == "failed", f"run {UNKNOWN_RUN} with an unknown pipeline ended {state}"
        self.open(f"/dags/{DAG_ID}/runs/{UNKNOWN_RUN}/tasks/{WAIT_TASK}")  # lines wrapped: failed_task's "w"
        reason = f"Pipeline with id '{UNKNOWN_PIPELINE}' not found"
        named = self.page.get_by_text(f"ICA sample failed: {UNKNOWN_SAMPLE}-germline: creation FAILED: {reason}", exact=False).first
        named.wait_for()
        self.fold_traceback()
        named.scroll_into_view_if_needed()
        self.page.mouse.move(0, 0)
        self.shot("ui-unknown-pipeline.png")
        return " ".join(named.inner_text().split())

    def wait_for_run(self) -> str:
        """Until the REST API says the run ended, then until the grid shows it ended too."""
        client = self.deployment.client

        def ended() -> str | None:
            self.deployment.check_alive()
            state = str(client.dag_run(DAG_ID, RUN_ID)["state"])
            return state if state in ("success", "failed") else None

        state = client.wait_for(f"run {RUN_ID} ended", ended, RUN_TIMEOUT_SECONDS)
        self.open(f"/dags/{DAG_ID}/runs/{RUN_ID}")
        badge = self.page.get_by_test_id(f"grid-{RUN_ID}-{WAIT_TASK}").get_by_test_id("task-state-badge")
        badge.wait_for()
        self.page.get_by_role("row").filter(has_text=WAIT_TASK).get_by_text("Failed").wait_for()
        self.shot("ui-grid.png")
        return str(state)

    def failed_task(self) -> tuple[str, dict[str, str]]:
        """The sensor's log names the failed sample; its Details tab has the extra links."""
        self.open(f"/dags/{DAG_ID}/runs/{RUN_ID}/tasks/{WAIT_TASK}")
        # Named as soon as the wait saw it fail (a warning), then first in the task's error.
        self.page.get_by_text(f"ICA sample failed: {FAILED_REFERENCE}: analysis FAILED", exact=False).first.wait_for()
        error = self.page.get_by_text(f"{FAILED_REFERENCE}: analysis FAILED", exact=False).last
        error.wait_for()
        message = " ".join(error.inner_text().split())
        assert FAILED_REFERENCE in message and "analysis FAILED" in message, message
        self.readable_log()
        self.shot("ui-task-error.png")

        self.page.get_by_role("link", name="Details", exact=True).click()
        links = {}
        for name in ("ICA analyses", "ICA analysis"):
            link = self.page.get_by_role("link", name=name, exact=True)
            link.wait_for()
            links[name] = str(link.get_attribute("href"))
        self.shot("ui-task-links.png")
        return message, links

    def readable_log(self) -> None:
        """Long lines wrapped and the traceback folded: the error message is what a person reads."""
        self.page.keyboard.press("w")  # the log view's "toggle wrap" shortcut
        self.fold_traceback()
        self.page.mouse.move(0, 0)  # no tooltip over the log

    def fold_traceback(self) -> None:
        folded = self.page.locator("[data-testid^=summary-IcaBatchFailedError]")
        if folded.count():
            folded.first.click()  # a <summary>: hides the frames (they name this machine's paths)
            self.page.get_by_text('File "', exact=False).first.wait_for(state="hidden")

    def stopped_task(self, run_id: str, failed: str, aborted: str) -> str:
        """The stopped wait's log, as a person reads it: the early failure and the stop line are there."""
        self.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/{WAIT_TASK}")  # lines wrapped: failed_task's "w" stays on
        named = self.page.get_by_text(f"ICA sample failed: {failed}", exact=False).first
        named.wait_for()
        stop = self.page.get_by_text(f"asked ICA to abort 1 running analysis: {aborted}", exact=False).first
        stop.wait_for()
        stop.scroll_into_view_if_needed()
        self.page.mouse.move(0, 0)
        self.shot("ui-stop-line.png")
        return " ".join(stop.inner_text().split())

    def mapped_by_sample(self, run_id: str, samples: list[str]) -> None:
        """A successful run's mapped ``collect_outputs`` are listed by sample (map_index_template)."""
        self.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/collect_outputs/mapped")
        for sample in samples:
            self.page.get_by_test_id("table-cell-rendered_map_index").filter(has_text=sample).first.wait_for()
        self.shot("ui-mapped-by-sample.png")

    def link_page(self, url: str, *expected: str) -> str:
        """Open a link's target (the fake ICA server's web page for it): it shows ``expected``."""
        response = self.page.goto(url, wait_until="load")
        status = response.status if response is not None else 0
        if status != 200:
            raise AssertionError(f"{url} answered {status}")
        text = self.page.locator("body").inner_text()
        missing = [word for word in expected if word not in text]
        assert not missing, f"{url} does not show {missing}: {text[:500]!r}"
        self.shot("ui-ica-analysis-page.png")
        return f"{url} -> 200"

    def connection(self) -> str:
        """``ica_default`` is listed; its Test button succeeds; its edit form opens."""
        self.open("/connections")
        row = self.page.get_by_role("row").filter(has_text=CONN_ID)
        with self.page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as tested:
            row.get_by_role("button", name="Test Connection").click()
        result = tested.value.json()
        assert tested.value.status == 200 and result.get("status") is True, (tested.value.status, result)
        row.get_by_role("button", name="Edit Connection").click()
        dialog = self.page.get_by_role("dialog")
        host = dialog.locator("input[name=host]")
        host.wait_for()
        assert host.input_value() == self.deployment.ica.url, host.input_value()
        dialog.get_by_text("Illumina Connected Analytics").first.wait_for()
        self.shot("ui-connection-form.png", dialog)
        return str(result.get("message"))


def check_browser_walkthrough(deployment: Deployment) -> str:
    """Trigger from the form, watch the grid, read the failed task and its links, test the connection."""
    deployment.timings.update(ensure_chromium())
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    started = time.monotonic()
    with browser_page() as page:
        walk = Walkthrough(deployment, page)
        try:
            refused = walk.form_refusals()
            walk.trigger()
            run = deployment.client.dag_run(DAG_ID, RUN_ID)
            assert run["conf"]["samples"] == [*SAMPLES, ""], run["conf"]  # as typed, blank line included
            state = walk.wait_for_run()
            assert state == "failed", f"run {RUN_ID} ended {state}"
            message, links = walk.failed_task()
            walk.trigger_unknown_pipeline()
            unknown = walk.unknown_pipeline_task()
            tested = walk.connection()
            earlier = {run["dag_run_id"]: run for run in deployment.client.dag_runs(DAG_ID)}
            if earlier.get(SUCCESS_RUN, {}).get("state") == "success":  # not with e2e.py --only
                walk.mapped_by_sample(SUCCESS_RUN, list(earlier[SUCCESS_RUN]["conf"]["samples"]))
            stopped = ""
            if STOP_RUN in earlier:  # check_failure_named_early_and_stop_line ran first
                stopped = walk.stopped_task(STOP_RUN, EARLY_FAILED, LONG_RUNNING)
        except Exception:
            with contextlib.suppress(Exception):  # never hide the failure behind a failed screenshot
                walk.shot("ui-failure.png")  # what the page showed when it went wrong
            raise
        # The task's extra links: the project's analyses, and the analysis that failed.
        batch_id = deployment.client.xcom(DAG_ID, RUN_ID, "create_batch")
        batch = deployment.ica.backend.batches[batch_id]
        failed = next(item.analysis_id for item in batch.items if item.user_reference == FAILED_REFERENCE)
        web = deployment.ica.url.removesuffix("/rest")
        expected = {
            "ICA analyses": f"{web}/projects/{PROJECT_ID}/analyses",
            "ICA analysis": f"{web}/link/project/{PROJECT_ID}/analysis/{failed}",
        }
        assert links == expected, f"extra links {links}, expected {expected}"
        assert [item.user_reference for item in batch.items] == ["UI1-germline", FAILED_REFERENCE]
        opened = walk.link_page(links["ICA analysis"], failed)
    return (
        f"in {time.monotonic() - started:.0f} s: run {RUN_ID} from the form failed; the task shows "
        f"{message[:100]!r}; links {sorted(links)} right; {opened}; "
        f"the form offers max_failures and refused {len(refused)} values: "
        + "; ".join(repr(m[:90]) for m in refused)
        + f"; unknown pipeline: {unknown[:120]!r}; "
        f"Test connection: {tested}; " + (f"stopped run's log shows {stopped[:120]!r}; " if stopped else "")
        + f"{len(walk.shots)} screenshots in {SCREENSHOTS.relative_to(REPO)}"
    )


def refresh_docs() -> list[str]:
    """Copy the last run's screenshots that the guides show over the ones in ``docs/``."""
    missing = [name for name in DOC_SHOTS if not (SCREENSHOTS / name).exists()]
    if missing:
        raise SystemExit(f"no {', '.join(missing)} in {SCREENSHOTS}: run make e2e first")
    for name in DOC_SHOTS:
        shutil.copyfile(SCREENSHOTS / name, DOCS / name)
    return list(DOC_SHOTS)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="The UI walkthrough's screenshots")
    parser.add_argument("--refresh-docs", action="store_true", help="copy the last run's screenshots to docs/")
    if parser.parse_args().refresh_docs:
        print("refreshed docs/" + ", docs/".join(refresh_docs()))
