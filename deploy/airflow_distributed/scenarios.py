"""The crash scenarios, run together on one wave of concurrent runs of the example DAG.

1. Run 0 starts alone. As soon as its batch POST reaches the fake ICA (which answers it
   ``create_delay_seconds`` late), the Celery worker running ``create_batch`` is killed -9
   with everything under it, then started again (as a supervisor would). ICA still creates
   the batch; the task's retry, on whichever worker, must get that batch back through the
   Idempotency-Key.
2. Runs 1..N-1 start at once. When every wait is deferred, the triggerer holding most of
   them is killed -9; the other must take them over (``recovery_s``: from the kill until
   every orphaned wait is assigned to the survivor and has polled its batch again).
3. ICA revokes every token: the waits must get 401s, mint a new token and poll again.
4. The scheduler is stopped and started again while runs are still going.
5. Every run must end; ``collect`` gathers what the REST API and the fake server recorded.

Each step waits on what it can observe (the fake's request log, the REST API), never on a
fixed sleep; each wait has a timeout that fails the run with the components' log tails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploy.airflow_distributed.deployment import TRIGGERERS, WORKERS, DistributedDeployment
from deploy.airflow_distributed.hostname import component_of
from deploy.airflow_distributed.wait_lags import RequestTimes, WaitLag, wait_lag
from deploy.airflow_e2e.deployment import DAG_ID, DeploymentError

CREATE_TASK = "create_batch"
WAIT_TASK = "wait_for_analyses"
COLLECT_TASK = "collect_outputs"
CREATE_PATH = "/analysisCreationBatch"
TOKENS_PATH = "/api/tokens"
SAMPLES_PER_RUN = 2
TERMINAL = ("success", "failed")
STEP_TIMEOUT_SECONDS = 180.0
END_TIMEOUT_SECONDS = 360.0


def run_id(index: int) -> str:
    return f"dist-{index:02d}"


def samples_of(index: int) -> list[str]:
    return [f"D{index:02d}S{sample}" for sample in range(1, SAMPLES_PER_RUN + 1)]


def references_of(run: str) -> list[str]:
    """The userReferences of a run's batch (the example DAG's naming)."""
    return [f"{sample}-germline" for sample in samples_of(int(run.rsplit("-", 1)[1]))]


def batch_with(backend: Any, references: list[str]) -> str | None:
    """The id of the batch at ICA whose items have these userReferences, if any."""
    for batch in list(backend.batches.values()):
        if [item.user_reference for item in batch.items] == references:
            return str(batch.id)
    return None


@dataclass
class WorkerKill:
    run_id: str
    worker: str
    post_to_kill_s: float  # from the POST's arrival at ICA to the kill
    answered_at_kill: bool  # whether ICA had created the batch (and answered) when the worker died
    tries_when_created: int = 0  # create_batch's try number when ICA had created the batch


@dataclass
class TriggererKill:
    killed: str
    survivor: str
    orphans: dict[str, str]  # run id -> batch id of the waits the killed triggerer held
    taken_over: int  # of those, the waits that polled ICA again after the kill
    held_by_survivor: int  # waits the survivor already held
    recovery_s: float


@dataclass
class TokenRevocation:
    waits: int  # waits deferred when the tokens were revoked
    rejected: int  # requests ICA refused with "token has been revoked"
    mints_after: int  # new tokens minted after the revocation
    recovery_s: float  # until every such wait polled again with a new token


@dataclass
class SchedulerRestart:
    active_runs: int  # runs not yet finished when the scheduler stopped
    seconds: float  # stop, start and healthy again


@dataclass
class RunResult:
    run_id: str
    samples: list[str]
    state: str
    batch_id: str | None  # create_batch's XCom
    analysis_ids: list[str]  # wait_for_analyses' XCom
    analyses: list[dict[str, Any]]  # wait_for_analyses' "analyses" XCom
    collect_states: list[str]  # each mapped collect_outputs
    create_tries: int
    create_hostnames: list[str] = field(default_factory=list)


@dataclass
class Campaign:
    runs: dict[str, RunResult] = field(default_factory=dict)
    batches: dict[str, list[str]] = field(default_factory=dict)  # batch id -> userReferences, at ICA
    batch_analyses: dict[str, list[str]] = field(default_factory=dict)  # batch id -> analysis ids
    create_posts: int = 0
    worker_kills: list[WorkerKill] = field(default_factory=list)
    triggerer_kills: list[TriggererKill] = field(default_factory=list)
    token_revocations: list[TokenRevocation] = field(default_factory=list)
    scheduler_restarts: list[SchedulerRestart] = field(default_factory=list)
    wait_lags: dict[str, WaitLag] = field(default_factory=dict)  # run id -> its woken wait's end
    reconcile_interval: float | None = None  # of the woken waits; None: they polled
    seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return sum(result.state == "success" for result in self.runs.values())

    @property
    def recovery_s(self) -> float:
        return max((kill.recovery_s for kill in self.triggerer_kills), default=0.0)

    def summary_line(self) -> str:
        return (
            f"distributed: runs={len(self.runs)} succeeded={self.succeeded} batches={len(self.batches)} "
            f"triggerer_kills={len(self.triggerer_kills)} worker_kills={len(self.worker_kills)} "
            f"scheduler_restarts={len(self.scheduler_restarts)} recovery_s={self.recovery_s:.1f}"
        )


# --- observing ---------------------------------------------------------------------------


def until(
    deployment: DistributedDeployment,
    what: str,
    probe: Callable[[], Any],
    timeout: float = STEP_TIMEOUT_SECONDS,
    interval: float = 0.5,
) -> Any:
    """``probe()`` until truthy, every component checked alive; fails with the log tails."""

    def probe_alive() -> Any:
        deployment.check_alive()
        return probe()

    try:
        return deployment.client.wait_for(what, probe_alive, timeout, interval)
    except TimeoutError as error:
        raise DeploymentError(f"{error}\n{deployment.log_tails()}") from error


def task_instances(deployment: DistributedDeployment, task_id: str) -> dict[str, dict[str, Any]]:
    """run id -> the task's instance (unmapped tasks), across every run of the DAG."""
    body = deployment.client.get(
        f"/api/v2/dags/{DAG_ID}/dagRuns/~/taskInstances", params={"task_id": task_id, "limit": 100}
    )
    return {ti["dag_run_id"]: ti for ti in body["task_instances"]}


def triggerer_names(deployment: DistributedDeployment) -> dict[int, str]:
    """``TriggererJob`` id -> triggerer name, dead ones included."""
    body = deployment.client.get("/api/v2/jobs", params={"job_type": "TriggererJob", "limit": 100})
    return {job["id"]: component_of(job["hostname"]) or "?" for job in body["jobs"]}


def holder(ti: dict[str, Any]) -> int | None:
    """The id of the triggerer job a deferred task instance's trigger is assigned to."""
    trigger = ti.get("trigger") or {}
    return trigger.get("triggerer_id") if ti.get("state") == "deferred" else None


class RevocationCounter:
    """Counts the requests the fake refuses because their token was revoked (wraps ``verify``)."""

    def __init__(self, backend: Any) -> None:
        self.rejected = 0
        tokens = backend.tokens
        verify = tokens.verify

        def counting_verify(token: str, now: float) -> Any:
            try:
                return verify(token, now)
            except Exception as error:
                if "revoked" in str(getattr(error, "detail", "")):
                    self.rejected += 1
                raise

        tokens.verify = counting_verify


def requests_since(backend: Any, index: int) -> list[Any]:
    return list(backend.request_log[index:])


# --- the scenarios -----------------------------------------------------------------------


def kill_worker_after_post(deployment: DistributedDeployment, campaign: Campaign) -> str:
    """Start run 0 and kill its worker once the batch POST reached ICA; start the worker again."""
    client, backend = deployment.client, deployment.ica.backend
    posts_before = backend.count_requests("POST", CREATE_PATH)
    run = run_id(0)
    client.trigger(DAG_ID, run, {"samples": samples_of(0)})
    until(
        deployment,
        f"{run}: batch POST at ICA",
        lambda: backend.count_requests("POST", CREATE_PATH) > posts_before,
        interval=0.05,
    )
    arrived = time.monotonic()
    ti = client.task_instance(DAG_ID, run, CREATE_TASK)
    worker = component_of(ti.get("hostname")) or deployment.worker_of(ti.get("pid") or 0)
    if worker not in WORKERS:
        raise DeploymentError(f"{run}: {CREATE_TASK} runs on no known worker: {ti}")
    answered = batch_with(backend, references_of(run)) is not None
    killed_at = deployment.kill(worker)
    campaign.worker_kills.append(WorkerKill(run, worker, killed_at - arrived, answered))
    deployment.start_component(worker)
    return worker


def confirm_batch_of_lost_post(deployment: DistributedDeployment, kill: WorkerKill) -> None:
    """Until ICA has created the killed worker's batch; which try the task is at by then."""
    backend = deployment.ica.backend
    references = references_of(kill.run_id)
    until(
        deployment,
        f"{kill.run_id}: ICA created the batch of the lost POST",
        lambda: batch_with(backend, references),
        interval=0.1,
    )
    kill.tries_when_created = int(
        deployment.client.task_instance(DAG_ID, kill.run_id, CREATE_TASK)["try_number"]
    )


def wait_all_deferred(deployment: DistributedDeployment, runs: list[str]) -> dict[str, dict[str, Any]]:
    """Until every run's wait is deferred on a triggerer (or already past it)."""

    def all_deferred() -> dict[str, dict[str, Any]] | None:
        waits = task_instances(deployment, WAIT_TASK)
        ready = all(
            run in waits and (holder(waits[run]) is not None or waits[run]["state"] == "success")
            for run in runs
        )
        return waits if ready else None

    return until(deployment, f"waits of {len(runs)} runs deferred", all_deferred)  # type: ignore[no-any-return]


def kill_triggerer(deployment: DistributedDeployment, campaign: Campaign, runs: list[str]) -> None:
    """Kill -9 the triggerer holding most waits; time until the other one polls them all again."""
    client, backend = deployment.client, deployment.ica.backend
    waits = wait_all_deferred(deployment, runs)
    names = triggerer_names(deployment)
    held: dict[int, list[str]] = {}
    for run, ti in waits.items():
        job = holder(ti)
        if run in runs and job is not None:
            held.setdefault(job, []).append(run)
    victim_job = max(held, key=lambda job: len(held[job]))
    victim = names.get(victim_job)
    if victim not in TRIGGERERS:
        raise DeploymentError(f"the waits' triggerer job {victim_job} is no known triggerer: {names}")
    survivor = next(name for name in TRIGGERERS if name != victim)
    log_index = len(backend.request_log)
    killed_at = deployment.kill(victim)
    orphans = {run: client.xcom(DAG_ID, run, CREATE_TASK) for run in held[victim_job]}
    survivor_held = sum(len(r) for job, r in held.items() if job != victim_job)

    taken_over: set[str] = set()

    def resumed() -> bool:
        current = task_instances(deployment, WAIT_TASK)
        paths = [entry.path for entry in requests_since(backend, log_index)]
        alive = {job for job, name in triggerer_names(deployment).items() if name == survivor}
        for run, batch_id in orphans.items():
            if any(batch_id in path for path in paths):
                taken_over.add(run)  # only a live triggerer polls after the kill
            ti = current[run]
            # No longer deferred and never polled since: its event came just before the kill.
            if ti["state"] == "deferred" and (holder(ti) not in alive or run not in taken_over):
                return False
        return True

    until(deployment, f"waits of {victim} resumed on {survivor}", resumed, timeout=120, interval=0.25)
    recovery = time.monotonic() - killed_at
    kill = TriggererKill(victim, survivor, orphans, len(taken_over), survivor_held, recovery)
    campaign.triggerer_kills.append(kill)
    deployment.log(
        f"{len(taken_over)} of {len(orphans)} waits of {victim} resumed on {survivor} after {recovery:.1f} s"
    )


def revoke_tokens(deployment: DistributedDeployment, campaign: Campaign, runs: list[str]) -> None:
    """ICA revokes every token; until every deferred wait polled again after a new mint."""
    client, backend = deployment.client, deployment.ica.backend
    counter = RevocationCounter(backend)
    waits = task_instances(deployment, WAIT_TASK)
    deferred = [run for run in runs if run in waits and holder(waits[run]) is not None]
    batch_ids = {run: client.xcom(DAG_ID, run, CREATE_TASK) for run in deferred}
    log_index = len(backend.request_log)
    revoked_at = time.monotonic()
    backend.tokens.revoke_all()

    def recovered() -> bool:
        entries = requests_since(backend, log_index)
        mints = [
            i
            for i, entry in enumerate(entries)
            if entry.method == "POST" and entry.path.endswith(TOKENS_PATH)
        ]
        if not mints or not counter.rejected:
            return False
        after_mint = [entry.path for entry in entries[mints[0] + 1 :]]
        current = task_instances(deployment, WAIT_TASK)
        return all(
            current[run]["state"] != "deferred" or any(batch_id in path for path in after_mint)
            for run, batch_id in batch_ids.items()
        )

    until(deployment, "waits polling again after the token revocation", recovered, timeout=120, interval=0.25)
    mints_after = sum(
        1
        for entry in requests_since(backend, log_index)
        if entry.method == "POST" and entry.path.endswith(TOKENS_PATH)
    )
    revocation = TokenRevocation(len(deferred), counter.rejected, mints_after, time.monotonic() - revoked_at)
    campaign.token_revocations.append(revocation)
    deployment.log(
        f"tokens revoked: {revocation.rejected} requests refused, {mints_after} new tokens, "
        f"{len(deferred)} waits polling again after {revocation.recovery_s:.1f} s"
    )


def restart_scheduler(deployment: DistributedDeployment, campaign: Campaign, runs: list[str]) -> None:
    client = deployment.client
    active = [run for run in runs if client.dag_run(DAG_ID, run)["state"] not in TERMINAL]
    started = time.monotonic()
    deployment.restart("scheduler")
    deployment.wait_rest_healthy()
    campaign.scheduler_restarts.append(SchedulerRestart(len(active), time.monotonic() - started))
    deployment.log(
        f"scheduler restarted with {len(active)} runs going, healthy after {time.monotonic() - started:.1f} s"
    )


def wait_runs_ended(deployment: DistributedDeployment, runs: list[str]) -> None:
    def ended() -> bool:
        body = deployment.client.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})
        states = {run["dag_run_id"]: run["state"] for run in body["dag_runs"]}
        return all(states.get(run) in TERMINAL for run in runs)

    until(deployment, f"{len(runs)} runs ended", ended, timeout=END_TIMEOUT_SECONDS, interval=1.0)


def collect(
    deployment: DistributedDeployment, campaign: Campaign, runs: list[str], times: RequestTimes | None = None
) -> None:
    """What the REST API says of each run and what the fake ICA recorded (``times``: when)."""
    client, backend = deployment.client, deployment.ica.backend
    for index, run in enumerate(runs):
        tis = client.task_instances(DAG_ID, run)
        by_task: dict[str, list[dict[str, Any]]] = {}
        for ti in tis:
            by_task.setdefault(ti["task_id"], []).append(ti)
        create = by_task[CREATE_TASK][0]
        state = client.dag_run(DAG_ID, run)["state"]
        ok = state == "success"
        campaign.runs[run] = RunResult(
            run_id=run,
            samples=samples_of(index),
            state=state,
            batch_id=client.xcom(DAG_ID, run, CREATE_TASK) if create["state"] == "success" else None,
            analysis_ids=client.xcom(DAG_ID, run, WAIT_TASK) if ok else [],
            analyses=client.xcom(DAG_ID, run, WAIT_TASK, "analyses") if ok else [],
            collect_states=[str(ti["state"]) for ti in by_task.get(COLLECT_TASK, [])],
            create_tries=int(create["try_number"]),
            create_hostnames=_tries_hostnames(deployment, run),
        )
        batch_id = campaign.runs[run].batch_id
        if ok and times is not None and batch_id is not None:
            campaign.wait_lags[run] = wait_lag(backend, times, run, batch_id, by_task[WAIT_TASK][0])
    for batch_id, batch in list(backend.batches.items()):
        campaign.batches[batch_id] = [item.user_reference for item in batch.items]
        campaign.batch_analyses[batch_id] = [item.analysis_id for item in batch.items]
    campaign.create_posts = backend.count_requests("POST", CREATE_PATH)


def _tries_hostnames(deployment: DistributedDeployment, run: str) -> list[str]:
    """The host name of each try of ``create_batch`` (``/tries``: one record per try)."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances/{CREATE_TASK}/tries"
    tries = deployment.client.get(path)["task_instances"]
    return [str(ti.get("hostname") or "") for ti in sorted(tries, key=lambda ti: ti["try_number"])]


def run_campaign(deployment: DistributedDeployment, runs: int = 10) -> Campaign:
    """All scenarios on ``runs`` concurrent runs; the observations, for ``checks`` to judge."""
    if runs < 3:
        raise ValueError(f"runs: at least 3 (one for the worker kill, two for the triggerer), got {runs}")
    started = time.monotonic()
    campaign = Campaign()
    if deployment.sqs is not None:
        campaign.reconcile_interval = deployment.settings.reconcile_interval
    times = RequestTimes(deployment.ica.backend)
    client = deployment.client
    assert client.set_paused(DAG_ID, False)["is_paused"] is False
    run_ids = [run_id(index) for index in range(runs)]

    worker = kill_worker_after_post(deployment, campaign)
    for index in range(1, runs):
        client.trigger(DAG_ID, run_ids[index], {"samples": samples_of(index)})
    confirm_batch_of_lost_post(deployment, campaign.worker_kills[-1])
    deployment.log(f"worker kill: {campaign.worker_kills[-1]}; triggered {', '.join(run_ids[1:])}")

    kill_triggerer(deployment, campaign, run_ids[1:])
    revoke_tokens(deployment, campaign, run_ids)
    restart_scheduler(deployment, campaign, run_ids)
    deployment.wait_worker_ready(worker)
    wait_runs_ended(deployment, run_ids)
    collect(deployment, campaign, run_ids, times)
    campaign.seconds = deployment.timings["crash campaign"] = time.monotonic() - started
    if campaign.wait_lags:
        lags = sorted(campaign.wait_lags.values(), key=lambda lag: lag.wait_lag_s)
        deployment.log(
            "woken waits past their batch's end: wait (last listing) "
            + ", ".join(f"{lag.wait_lag_s:.1f}" for lag in lags)
            + " s; task " + ", ".join(f"{lag.task_lag_s:.1f}" for lag in lags) + " s"
        )
    deployment.log(campaign.summary_line())
    return campaign
