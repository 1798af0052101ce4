"""What the running deployment must do, checked from outside: REST API, UI metadata, fake ICA.

Each check takes a started ``Deployment``, raises ``AssertionError`` with what it saw on
failure, and returns a one-line summary on success. The same functions back
``python deploy/e2e.py`` and ``tests/deployment``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from deploy.airflow_e2e.deployment import (
    API_KEY,
    CONN_ID,
    DAG_ID,
    MANY_WAITS_DAG_ID,
    PROJECT_ID,
    Deployment,
    DeploymentError,
)
from deploy.airflow_e2e.rest import AirflowClient, log_line
from deploy.airflow_e2e.woken import batch_requests, check_woken_waits

WAIT_TASK = "wait_for_analyses"
CREATE_TASK = "create_batch"
COLLECT_TASK = "collect_outputs"
SUCCESS_SAMPLES = ("E2E1", "E2E2", "E2E3")
FAILING_SAMPLES = ("E2E4", "E2E5-fail-analysis")
RUN_TIMEOUT_SECONDS = 240.0
POLL_SECONDS = 1.0
TERMINAL_RUN_STATES = ("success", "failed")
MANY_WAITS_TASK = "create_and_wait"
MANY_WAITS_PREFIX = "wait-"  # userReference of every item of MANY_WAITS_DAG_ID
# What Airflow 3.3's TriggerRunner.block_watchdog logs when the triggerer's event loop was blocked
# (its 0.1 s sleep took over [triggerer] blocked_main_thread_warning_threshold, default 0.2 s).
BLOCKED_WARNING = "Triggerer's async thread was blocked"
BLOCKED_SECONDS = re.compile(r"blocked for ([0-9.]+) seconds")
# A trigger that blocks its loop (a sync request per poll) blocks it on every poll of each of the
# 100 waits: hundreds of warnings. A machine busy with other work delays the loop now and then
# (0.39 s, and 1.93 s while other test suites ran on the same 2 cores). Tolerated: a few
# delays of a starved process; more, or one a trigger's own work could not explain, fail.
BLOCKS_TOLERATED = 3
BLOCK_TOLERATED_SECONDS = 5.0
ALL_DEFERRED_TIMEOUT_SECONDS = 300.0


@dataclass
class RunObservation:
    """A DAG run watched through the REST API until it ended."""

    run_id: str
    state: str
    seconds: float
    # Each task's states in the order they were seen (consecutive repeats collapsed).
    states_seen: dict[str, list[str]] = field(default_factory=dict)
    # The wait task's REST record while it was deferred (trigger, triggerer_job), if seen.
    deferred_record: dict[str, Any] | None = None
    batches_before: int = 0
    batches_after: int = 0


def run_and_watch(
    deployment: Deployment, run_id: str, samples: Sequence[str], timeout: float = RUN_TIMEOUT_SECONDS
) -> RunObservation:
    """Unpause, trigger with ``{"samples": [...]}``, and poll until the run ends."""
    client = deployment.client
    backend = deployment.ica.backend
    assert client.set_paused(DAG_ID, False)["is_paused"] is False
    observation = RunObservation(run_id, "queued", 0.0, batches_before=backend.count_batches())
    started = time.monotonic()
    run = client.trigger(DAG_ID, run_id, {"samples": list(samples)})
    assert run["conf"] == {"samples": list(samples)}, run
    while True:
        deployment.check_alive()
        state = client.dag_run(DAG_ID, run_id)["state"]
        for ti in client.task_instances(DAG_ID, run_id):
            seen = observation.states_seen.setdefault(ti["task_id"], [])
            ti_state = str(ti["state"])
            if not seen or seen[-1] != ti_state:
                seen.append(ti_state)
            if ti["task_id"] == WAIT_TASK and ti_state == "deferred" and ti.get("triggerer_job"):
                observation.deferred_record = ti
        if state in TERMINAL_RUN_STATES:
            break
        if time.monotonic() - started > timeout:
            raise DeploymentError(
                f"run {run_id} still {state} after {timeout:.0f} s; task states seen: "
                f"{observation.states_seen}\n{deployment.log_tails()}"
            )
        time.sleep(POLL_SECONDS)
    observation.state = state
    observation.seconds = time.monotonic() - started
    observation.batches_after = backend.count_batches()
    return observation


# --- the checks -------------------------------------------------------------------------


def check_health(deployment: Deployment) -> str:
    health = deployment.client.health()
    statuses = {name: (value or {}).get("status") for name, value in health.items()}
    assert all(status == "healthy" for status in statuses.values()), health
    version = deployment.client.version()["version"]
    return f"Airflow {version}: " + ", ".join(f"{name} {status}" for name, status in statuses.items())


def check_rest_api_without_login(deployment: Deployment) -> str:
    """Simple auth manager with all admins: the API server authorizes requests that carry no token."""
    anonymous = AirflowClient(deployment.api_url)
    assert "Authorization" not in anonymous.session.headers
    dags = anonymous.get("/api/v2/dags", params={"dag_id_pattern": DAG_ID})
    assert [dag["dag_id"] for dag in dags["dags"]] == [DAG_ID], dags
    # The token endpoint hands out an admin token without credentials too (for other clients).
    token = anonymous.request("GET", "/auth/token", expect=(200, 201))
    assert token.get("access_token"), token
    return "REST API answers without a token; GET /auth/token gives one without credentials"


def check_connection_form(deployment: Deployment) -> str:
    """The ``ica`` form the UI renders, from ``/ui/connections/hook_meta`` on the API server."""
    from ica_airflow_provider.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR

    metas = deployment.client.connection_hook_meta()
    ica = [meta for meta in metas if meta["connection_type"] == "ica"]
    assert len(ica) == 1, f"no single 'ica' entry among {[m['connection_type'] for m in metas]}"
    meta = ica[0]
    assert meta["hook_class_name"] == "ica_airflow_provider.hooks.ica.IcaHook", meta
    assert meta["hook_name"] == "Illumina Connected Analytics", meta

    standard = meta["standard_fields"]
    assert standard["host"] == {
        "hidden": False,
        "title": "ICA API base URL",
        "placeholder": "https://ica.illumina.com/ica/rest",
    }, standard["host"]
    assert standard["password"] == {"hidden": False, "title": "API key", "placeholder": "ICA API key"}, (
        standard["password"]
    )
    for hidden in ("login", "port", "url_schema"):  # url_schema is the form's "schema"
        assert (standard.get(hidden) or {}).get("hidden") is True, (hidden, standard.get(hidden))

    extra = meta["extra_fields"]
    required_labels = {
        "project_id": "Default project ID",
        "timeout": "Timeout (seconds)",
        "max_retries": "Max retries",
        "verify": "Verify TLS",
        "allow_insecure_http": "Allow plain http",
    }
    missing = sorted(set(required_labels) - set(extra))
    assert not missing, f"extra fields {missing} not served; served: {sorted(extra)}"
    # Every field the provider declares is served, with its label, description and type.
    assert set(extra) == set(CONN_FIELDS), f"served {sorted(extra)}, declared {sorted(CONN_FIELDS)}"
    for name, declared in CONN_FIELDS.items():
        served = extra[name]
        label = required_labels.get(name, declared["label"])
        assert served["schema"]["title"] == declared["label"] == label, (name, served)
        assert served["description"] == declared["description"], (name, served)
        assert served["schema"]["type"] == declared["schema"]["type"], (name, served)
    assert extra["verify"]["value"] is True and extra["allow_insecure_http"]["value"] is False, extra
    assert extra["max_retries"]["schema"].get("minimum") == 0, extra["max_retries"]

    # Airflow 3.3's form shows placeholders of standard fields only: the extra fields'
    # placeholders that the provider declares (for Airflow 2) are not served. Say so.
    extra_placeholders = sorted(set(UI_FIELD_BEHAVIOUR["placeholders"]) & set(CONN_FIELDS))
    note = (
        f"; extra-field placeholders {extra_placeholders} not served by this Airflow"
        if extra_placeholders
        else ""
    )
    return f"'ica' form: host/password relabelled with placeholders, login/port/schema hidden, {len(extra)} extra fields{note}"


def check_successful_run(deployment: Deployment, run_id: str = "e2e-success") -> str:
    observation = run_and_watch(deployment, run_id, SUCCESS_SAMPLES)
    client, backend = deployment.client, deployment.ica.backend
    assert observation.state == "success", (
        f"run {run_id} ended {observation.state}: {observation.states_seen}\n"
        + failed_task_logs(deployment, run_id)
    )

    # The sensor waited on the real triggerer (default_deferrable=True), not on a worker slot.
    wait_states = observation.states_seen.get(WAIT_TASK, [])
    assert "deferred" in wait_states, f"{WAIT_TASK} never seen deferred: {wait_states}"
    record = observation.deferred_record
    assert record is not None, f"{WAIT_TASK} deferred but never assigned to a triggerer: {wait_states}"
    assert record["trigger"]["classpath"].startswith("ica_airflow_provider.triggers."), record["trigger"]
    triggerer = record["triggerer_job"]
    assert triggerer["job_type"] == "TriggererJob" and triggerer["state"] == "running", triggerer
    assert record["trigger"]["triggerer_id"] == triggerer["id"], record["trigger"]

    # Exactly one batch, holding one analysis per sample, and the XComs name its analyses.
    assert observation.batches_after - observation.batches_before == 1, observation
    batch_id = client.xcom(DAG_ID, run_id, CREATE_TASK)
    batch = backend.batches[batch_id]
    assert batch.project_id == PROJECT_ID, batch.project_id
    references = [f"{sample}-germline" for sample in SUCCESS_SAMPLES]
    assert [item.user_reference for item in batch.items] == references
    analysis_ids = [item.analysis_id for item in batch.items]

    assert client.xcom(DAG_ID, run_id, WAIT_TASK) == analysis_ids
    records = client.xcom(DAG_ID, run_id, WAIT_TASK, "analyses")
    assert [r["user_reference"] for r in records] == references, records
    assert [r["analysis_id"] for r in records] == analysis_ids, records
    assert {r["analysis_status"] for r in records} == {"SUCCEEDED"}, records

    collected = [ti for ti in client.task_instances(DAG_ID, run_id) if ti["task_id"] == COLLECT_TASK]
    assert sorted(ti["map_index"] for ti in collected) == [0, 1, 2], collected
    # Listed by sample in the UI (the example's map_index_template).
    labels = [ti["rendered_map_index"] for ti in sorted(collected, key=lambda ti: ti["map_index"])]
    assert labels == list(SUCCESS_SAMPLES), labels
    assert {ti["state"] for ti in collected} == {"success"}, collected
    return (
        f"run {run_id} succeeded in {observation.seconds:.0f} s; {WAIT_TASK} went "
        f"{' -> '.join(wait_states)} (trigger {record['trigger']['id']} on triggerer job {triggerer['id']}); "
        f"1 batch {batch_id} with {len(analysis_ids)} analyses, the same IDs in XCom"
    )


def check_failed_run(deployment: Deployment, run_id: str = "e2e-failure") -> str:
    observation = run_and_watch(deployment, run_id, FAILING_SAMPLES)
    client = deployment.client
    assert observation.state == "failed", (
        f"run {run_id} ended {observation.state}: {observation.states_seen}\n"
        + failed_task_logs(deployment, run_id)
    )
    assert observation.batches_after - observation.batches_before == 1, observation
    states = {ti["task_id"]: ti for ti in client.task_instances(DAG_ID, run_id)}
    wait = states[WAIT_TASK]
    assert wait["state"] == "failed", wait
    assert states[COLLECT_TASK]["state"] == "upstream_failed", states[COLLECT_TASK]

    # The task log (task and trigger parts) shows the analysis failing, then the task's error
    # listing the failure: 'E2E5-fail-analysis-germline (item ..., analysis ...): analysis FAILED: ...'.
    events = client.task_log_events(DAG_ID, run_id, WAIT_TASK, wait["try_number"])
    lines = [log_line(event) for event in events]
    assert any("E2E5-fail-analysis-germline: analysis IN_PROGRESS -> FAILED" in line for line in lines), (
        "no progress line shows the analysis failing:\n" + "\n".join(lines[-40:])
    )
    errors = [
        detail.get("exc_value", "")
        for event in events
        if isinstance(event, dict) and event.get("level") == "error"
        for detail in event.get("error_detail") or [{"exc_value": event.get("event", "")}]
    ]
    failure = [e for e in errors if "E2E5-fail-analysis-germline" in e and "analysis FAILED" in e]
    assert failure, f"no error in the log lists the failed analysis; errors: {errors}\n" + "\n".join(
        lines[-40:]
    )
    # The error's first line: the sample and ICA's reason, what a person reads first.
    assert failure[0].startswith("E2E5-fail-analysis-germline: analysis FAILED: "), failure[0]

    records = {r["user_reference"]: r for r in client.xcom(DAG_ID, run_id, WAIT_TASK, "analyses")}
    assert records["E2E5-fail-analysis-germline"]["analysis_status"] == "FAILED", records
    assert records["E2E4-germline"]["analysis_status"] == "SUCCEEDED", records
    return (
        f"run {run_id} failed in {observation.seconds:.0f} s; {WAIT_TASK} log (try {wait['try_number']}) "
        f"ends with: {_shorten(' '.join(failure[0].split()))}"
    )


STOP_RUN = "e2e-stop"
# One analysis fails early, one runs for an hour of the fake's clock: the batch is far from done.
STOP_SAMPLES = ("E2E6-fail-analysis", "E2E7-run-long")
EARLY_FAILED = "E2E6-fail-analysis-germline"
LONG_RUNNING = "E2E7-run-long-germline"
STOP_TIMEOUT_SECONDS = 120.0


def wait_log_line(deployment: Deployment, run_id: str, text: str, timeout: float = STOP_TIMEOUT_SECONDS) -> list[str]:
    """Poll the wait task's log until a line holds ``text``; the log's lines then."""
    client = deployment.client

    def logged() -> list[str] | None:
        deployment.check_alive()
        try_number = client.task_instance(DAG_ID, run_id, WAIT_TASK)["try_number"]
        lines = [log_line(e) for e in client.task_log_events(DAG_ID, run_id, WAIT_TASK, try_number)] if try_number else []
        return lines if any(text in line for line in lines) else None

    return client.wait_for(f"{text!r} in the log of {WAIT_TASK} in run {run_id}", logged, timeout)  # type: ignore[no-any-return]


def check_failure_named_early_and_stop_line(deployment: Deployment, run_id: str = STOP_RUN) -> str:
    """A sample that failed is named while the batch still runs; marking the wait failed says what it aborts.

    The example's sensor states ``abort_on_kill=True``: Airflow 3.3+ calls its trigger's
    ``on_kill``, which aborts the analysis still running and logs one line naming it.
    """
    client, backend = deployment.client, deployment.ica.backend
    assert client.set_paused(DAG_ID, False)["is_paused"] is False
    client.trigger(DAG_ID, run_id, {"samples": list(STOP_SAMPLES)})
    lines = wait_log_line(deployment, run_id, f"ICA sample failed: {EARLY_FAILED}: analysis FAILED")
    named = next(line for line in lines if f"ICA sample failed: {EARLY_FAILED}" in line)
    assert client.dag_run(DAG_ID, run_id)["state"] == "running", "the run ended before the check could stop it"
    wait = client.task_instance(DAG_ID, run_id, WAIT_TASK)
    assert wait["state"] == "deferred", f"{WAIT_TASK} is {wait['state']}, not deferred, when the failure is named"

    batch = backend.batches[client.xcom(DAG_ID, run_id, CREATE_TASK)]
    running = next(item.analysis_id for item in batch.items if item.user_reference == LONG_RUNNING)
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{WAIT_TASK}"
    client.request("PATCH", path, json={"new_state": "failed"})  # the UI's "Mark as failed"
    stop = f"asked ICA to abort 1 running analysis: {LONG_RUNNING} ({running})"
    lines = wait_log_line(deployment, run_id, stop)
    assert running in backend.abort_calls, f"{running} not aborted on the fake; aborted: {backend.abort_calls}"
    stop_line = next(line for line in lines if stop in line)
    return f"named while deferred: {_shorten(named, 140)}; marked failed: {_shorten(stop_line, 160)}"


def check_openlineage_in_task_logs(deployment: Deployment, run_id: str = "e2e-success") -> str:
    """The OpenLineage console transport logged each task's COMPLETE event: its ICA batch and data."""
    client = deployment.client
    if run_id not in {run["dag_run_id"] for run in client.dag_runs(DAG_ID)}:
        run_and_watch(deployment, run_id, SUCCESS_SAMPLES)
    namespace = "ica://" + deployment.ica.url.split("://", 1)[1].split("/", 1)[0]  # ica://127.0.0.1:<port>
    batch_id = client.xcom(DAG_ID, run_id, CREATE_TASK, "batch_id")
    seen = []
    for task_id in (CREATE_TASK, WAIT_TASK):
        try_number = client.task_instance(DAG_ID, run_id, task_id)["try_number"]
        messages = [e.get("event") if isinstance(e, dict) else e for e in client.task_log_events(DAG_ID, run_id, task_id, try_number)]
        emitted = []
        for message in messages:
            if isinstance(message, str) and '"eventType"' in message:
                with contextlib.suppress(ValueError):
                    emitted.append(json.loads(message[message.index("{"):]))
        complete = [e for e in emitted if e.get("eventType") == "COMPLETE"]
        assert complete, f"{task_id}: no OpenLineage COMPLETE event in its log; {len(emitted)} other events"
        event = complete[-1]
        facet = event["run"]["facets"].get("icaBatch") or {}
        assert facet.get("batchId") == batch_id, f"{task_id}: icaBatch facet {facet} is not batch {batch_id}"
        datasets = event["inputs"] + event["outputs"]
        assert datasets and {d["namespace"] for d in datasets} == {namespace}, (task_id, datasets)
        seen.append(f"{task_id} ({len(event['inputs'])} inputs, {len(event['outputs'])} outputs)")
    return f"OpenLineage COMPLETE events with the icaBatch facet of {batch_id} and {namespace} data: {', '.join(seen)}"


def failed_task_logs(deployment: Deployment, run_id: str, lines: int = 40, dag_id: str = DAG_ID) -> str:
    """The end of each failed task's log, through the REST API (for assertion messages)."""
    client = deployment.client
    parts = []
    failed = [
        ti for ti in client.task_instances(dag_id, run_id) if ti["state"] == "failed" and ti["try_number"]
    ]
    for ti in failed[:10]:  # of many failed map indexes, the first ten tell enough
        try:
            log = client.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
        except Exception as error:
            log = f"(log not readable: {error})"
        tail = "\n".join(log.splitlines()[-lines:])
        parts.append(f"----- {ti['task_id']}[{ti['map_index']}] try {ti['try_number']} -----\n{tail}")
    return "\n".join(parts)


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_connection_in_database(deployment: Deployment) -> str:
    """``ica_default`` lives in the metadata DB (listed, editable) and the Test button's endpoint works."""
    client = deployment.client
    stored = client.connection(CONN_ID)
    assert stored["conn_type"] == "ica" and stored["host"] == deployment.ica.url, stored
    assert stored["port"] == urlsplit(deployment.ica.url).port, f"port {stored['port']}: not the host URL's"
    assert stored["password"] == "***", "the API returned the API key unmasked"
    listed = [c["connection_id"] for c in client.get("/api/v2/connections")["connections"]]
    assert CONN_ID in listed, listed
    result = client.test_connection(CONN_ID, "ica")
    assert result["status"] is True, result
    assert API_KEY not in result["message"], "the test message shows the API key"
    return f"{CONN_ID} listed by /api/v2/connections; POST /api/v2/connections/test: {result['message']}"


def check_many_waits_on_one_triggerer(deployment: Deployment, run_id: str = "e2e-many-waits") -> str:
    """``settings.many_waits`` waits deferred onto the one triggerer at once; all succeed; never "blocked".

    The fake's clock is held until every map index is deferred (no analysis can end
    before), then released; the triggerer's log over that time must not say its event
    loop was blocked. The waits are woken by notifications: the triggerer's consumer
    receives, parses and routes every transition of the 100 batches meanwhile, and none
    of the waits asks ICA about a single transition.
    """
    client, backend, clock = deployment.client, deployment.ica.backend, deployment.ica_clock
    waits = deployment.settings.many_waits
    triggerer_log = next(c.log_path for c in deployment.components if c.name == "triggerer")
    log_start = triggerer_log.stat().st_size
    assert client.set_paused(MANY_WAITS_DAG_ID, False)["is_paused"] is False
    batches_before, mints_before = backend.count_batches(), backend.counters.token_mints
    log_index = len(backend.request_log)
    started = time.monotonic()
    with clock.held():  # the analyses stand still: no wait can end before all have deferred
        client.trigger(MANY_WAITS_DAG_ID, run_id, {})
        deferred = wait_all_deferred(deployment, run_id, waits)
        all_deferred = time.monotonic() - started
    triggerers = {ti["triggerer_job"]["id"] for ti in deferred}
    assert len(triggerers) == 1, f"the waits were spread over triggerer jobs {triggerers}"
    assert {ti["triggerer_job"]["job_type"] for ti in deferred} == {"TriggererJob"}, deferred[0]
    triggers = {ti["trigger"]["id"] for ti in deferred}
    assert len(triggers) == waits, f"{waits} waits but {len(triggers)} triggers"
    classpaths = {ti["trigger"]["classpath"] for ti in deferred}
    assert classpaths == {"ica_airflow_provider.triggers.ica.IcaAnalysisBatchTrigger"}, classpaths

    state = wait_run_end(deployment, MANY_WAITS_DAG_ID, run_id)
    finished = time.monotonic() - started
    states = Counter(str(ti["state"]) for ti in client.task_instances(MANY_WAITS_DAG_ID, run_id))
    assert state == "success" and states == {"success": waits}, (
        f"run {run_id} ended {state}; task instances: {dict(states)}\n"
        + failed_task_logs(deployment, run_id, dag_id=MANY_WAITS_DAG_ID)
    )

    # One batch per map index, every analysis of it SUCCEEDED on the fake.
    assert backend.count_batches() - batches_before == waits
    now = backend.now()
    batches = [b for b in backend.batches.values() if b.items[0].user_reference.startswith(MANY_WAITS_PREFIX)]
    statuses = Counter(
        backend.get_analysis(b.project_id, item.analysis_id, now)[1].status
        for b in batches
        for item in b.items
    )
    assert len(batches) == waits and set(statuses) == {"SUCCEEDED"}, (len(batches), dict(statuses))

    mints = backend.counters.token_mints - mints_before
    # Woken by notifications (reconcile interval longer than the run): no request per transition.
    entries = list(backend.request_log[log_index:])
    counted = [batch_requests(backend, b.id, entries) for b in batches]
    costly = [f"{c.batch_id}: {c.per_transition()}" for c in counted if c.per_transition()]
    assert not costly, f"{len(costly)} woken waits made requests per transition: {costly[:5]}"
    listings = Counter(c.listings for c in counted)
    summary = (
        f"{waits} map indexes of {MANY_WAITS_DAG_ID} deferred together on triggerer job {triggerers.pop()}"
        f" ({all_deferred:.0f} s after the trigger), all succeeded {finished:.0f} s after it;"
        f" {waits} batches, {sum(statuses.values())} analyses SUCCEEDED; {mints} token mints;"
        f" woken by notifications: {sum(c.analysis_transitions for c in counted)} analysis transitions,"
        f" 0 analysis GETs, listings per batch {dict(sorted(listings.items()))}"
    )
    logged = triggerer_log.read_bytes()[log_start:].decode(errors="replace").splitlines()
    blocked = [line for line in logged if BLOCKED_WARNING in line]
    seconds = loop_blocks(blocked)
    assert blocks_tolerated(seconds), (
        f"{summary}; but the triggerer's event loop was blocked {len(blocked)} times"
        f" (tolerated: {BLOCKS_TOLERATED}, each under {BLOCK_TOLERATED_SECONDS:g} s):\n"
        + "\n".join(_shorten(line, 160) for line in blocked[:20])
    )
    if blocked:
        delays = ", ".join(f"{s:.2f} s" for s in seconds)
        return f"{summary}; the triggerer's loop was late {len(blocked)} times ({delays}) in {len(logged)} log lines"
    return f"{summary}; no '{BLOCKED_WARNING}' in {len(logged)} triggerer log lines"


def loop_blocks(lines: Sequence[str]) -> list[float]:
    """How long each "blocked" warning among ``lines`` says the triggerer's loop was blocked."""
    return [float(m.group(1)) for line in lines if BLOCKED_WARNING in line and (m := BLOCKED_SECONDS.search(line))]


def blocks_tolerated(seconds: Sequence[float]) -> bool:
    return len(seconds) <= BLOCKS_TOLERATED and max(seconds, default=0.0) < BLOCK_TOLERATED_SECONDS


def wait_all_deferred(deployment: Deployment, run_id: str, waits: int) -> list[dict[str, Any]]:
    """Poll until ``waits`` task instances of the run are deferred on a triggerer; fail fast on a failure."""
    started = time.monotonic()
    while True:
        deployment.check_alive()
        tis = deployment.client.task_instances(MANY_WAITS_DAG_ID, run_id)
        deferred = [
            ti
            for ti in tis
            if ti["task_id"] == MANY_WAITS_TASK and ti["state"] == "deferred" and ti.get("triggerer_job")
        ]
        if len(deferred) >= waits:
            return deferred
        states = Counter(str(ti["state"]) for ti in tis)
        if states["failed"] or states["upstream_failed"]:
            raise DeploymentError(
                f"run {run_id}: task instances failed before all deferred: {dict(states)}\n"
                + failed_task_logs(deployment, run_id, dag_id=MANY_WAITS_DAG_ID)
            )
        if time.monotonic() - started > ALL_DEFERRED_TIMEOUT_SECONDS:
            raise DeploymentError(
                f"run {run_id}: {len(deferred)} of {waits} waits deferred on a triggerer after"
                f" {ALL_DEFERRED_TIMEOUT_SECONDS:.0f} s; states {dict(states)}\n{deployment.log_tails()}"
            )
        time.sleep(POLL_SECONDS)


def wait_run_end(
    deployment: Deployment, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT_SECONDS
) -> str:
    """Poll until the run is success or failed; its state."""
    started = time.monotonic()
    while True:
        deployment.check_alive()
        state = str(deployment.client.dag_run(dag_id, run_id)["state"])
        if state in TERMINAL_RUN_STATES:
            return state
        if time.monotonic() - started > timeout:
            raise DeploymentError(
                f"run {run_id} still {state} after {timeout:.0f} s\n{deployment.log_tails()}"
            )
        time.sleep(POLL_SECONDS)


def check_browser_walkthrough(deployment: Deployment) -> str:
    from deploy.airflow_e2e.ui_walkthrough import check_browser_walkthrough as walk

    return walk(deployment)


CHECKS = (
    check_health,
    check_rest_api_without_login,
    check_connection_form,
    check_connection_in_database,
    check_successful_run,
    check_failed_run,
    check_openlineage_in_task_logs,
    check_woken_waits,
    check_many_waits_on_one_triggerer,
    check_failure_named_early_and_stop_line,
    check_browser_walkthrough,
)
