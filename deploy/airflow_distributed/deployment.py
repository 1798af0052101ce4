"""A distributed Airflow 3 on this machine: CeleryExecutor, two workers, two triggerers.

PostgreSQL (as ``deploy.airflow_e2e`` runs it, another database), Redis as the Celery broker
(a child process, see ``redis``), the fake ICA server in this process, and seven Airflow
processes on loopback: scheduler, dag-processor, api-server, ``triggerer-1``, ``triggerer-2``,
``worker-1``, ``worker-2``. Each component reports its own host name
(``hostname.component_hostname``), so the REST API tells which worker ran a task and which
triggerer holds a trigger. Components can be killed (``kill -9`` of the whole process tree,
as when a machine dies) and started again while the deployment runs.

    with DistributedDeployment() as deployment:
        deployment.kill("triggerer-1")

Whatever happens (an exception, Ctrl-C, SIGTERM), leaving the block stops every component,
Redis, the fake server and the database. Logs stay in ``.e2e/distributed/logs/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from deploy.airflow_distributed import redis
from deploy.airflow_distributed.hostname import COMPONENT_VARIABLE, component_of
from deploy.airflow_e2e import postgres
from deploy.airflow_e2e.deployment import (
    API_KEY,
    DAG_ID,
    PROJECT_ID,
    REPO,
    Deployment,
    DeploymentError,
    Settings,
    _healthy,
    airflow_env,
    free_port,
)
from deploy.airflow_e2e.events import AWS_CONN_ID, SqsEndpoint
from deploy.airflow_e2e.procs import Component, _kill_all, run, tail

WORK_DIR = REPO / ".e2e" / "distributed"
AIRFLOW_HOME = WORK_DIR / "airflow-home"
LOG_DIR = WORK_DIR / "logs"
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")
COMPONENTS = ("scheduler", "dag-processor", "api-server", *TRIGGERERS, *WORKERS)
# Not the single-node deployment's database: both can run from one checkout.
DATABASE = f"{postgres.NAME_PREFIX}_dist_{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"
# Every process this run starts carries it: the teardown looks for them all by it.
RUN_VARIABLE = "ICA_E2E_RUN"
HOSTNAME_CALLABLE = "deploy.airflow_distributed.hostname.component_hostname"


@dataclass(frozen=True)
class DistributedSettings(Settings):
    analysis_step_seconds: float = 8.0  # six phases: a wait lasts ~50 s, long enough to kill things
    create_delay_seconds: float = 6.0  # the batch POST's answer comes this late: a kill lands in time
    components: tuple[str, ...] = COMPONENTS
    ready_timeout: float = 240.0
    worker_concurrency: int = 4
    # A dead triggerer's triggers go to the other one once its heartbeat is this old.
    triggerer_heartbeat_seconds: int = 1
    triggerer_health_check_threshold: int = 6
    # A task whose worker died is failed (and retried) once its heartbeat is this old.
    task_heartbeat_timeout: int = 20
    task_retries: int = 2
    task_retry_delay: int = 2
    # Every wait is woken by notifications from the queue both triggerers read; a wait whose
    # notifications went to the other triggerer (or were lost) lists its batch this often.
    reconcile_interval: float = 20.0


def distributed_env(
    settings: DistributedSettings, db_url: str, broker_url: str, api_port: int, ica_url: str, sqs: SqsEndpoint | None = None
) -> dict[str, str]:
    """The single-node environment, with the CeleryExecutor and fast failure detection.

    With ``sqs``: ``ica_default`` wakes its waits from that queue, read through the AWS
    connection ``AWS_CONN_ID`` (both from the environment, as every component reads them).
    """
    wake = sqs.wake_extras(settings.reconcile_interval) if sqs is not None else {}
    env = airflow_env(db_url, api_port, settings.poke_interval)
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CORE__PARALLELISM="16",
        AIRFLOW__CORE__HOSTNAME_CALLABLE=HOSTNAME_CALLABLE,
        AIRFLOW__CELERY__BROKER_URL=broker_url,
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + db_url,
        AIRFLOW__CELERY__WORKER_CONCURRENCY=str(settings.worker_concurrency),
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=str(settings.triggerer_heartbeat_seconds),
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=str(settings.triggerer_health_check_threshold),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(settings.task_heartbeat_timeout),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="2",
        # The example DAG has no retries of its own; a worker lost mid-task needs one.
        AIRFLOW__CORE__DEFAULT_TASK_RETRIES=str(settings.task_retries),
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY=str(settings.task_retry_delay),
        # The hostname callable lives in this repository.
        PYTHONPATH=str(REPO),
        # Every worker and triggerer reads the connection from its environment, as in `make e2e`.
        AIRFLOW_CONN_ICA_DEFAULT=json.dumps(
            {"conn_type": "ica", "host": ica_url, "password": API_KEY, "extra": {"project_id": PROJECT_ID, **wake}}
        ),
    )
    if sqs is not None:
        env[f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"] = sqs.aws_connection_uri_json()
    return env


def component_argv(airflow: str, name: str, api_port: int, concurrency: int) -> list[str]:
    pid_file = str(AIRFLOW_HOME / f"airflow-{name}.pid")  # each its own: two of a kind on one host
    if name in WORKERS:
        return [
            airflow, "celery", "worker", "--skip-serve-logs", "--pid", pid_file,
            "--celery-hostname", f"{name}@%h", "--concurrency", str(concurrency),
        ]  # fmt: skip
    if name in TRIGGERERS:
        return [airflow, "triggerer", "--skip-serve-logs", "--pid", pid_file]
    if name == "api-server":
        return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"]
    if name == "scheduler":
        return [airflow, "scheduler", "--skip-serve-logs"]
    return [airflow, name]


class DistributedDeployment(Deployment):
    settings: DistributedSettings

    def __init__(
        self, settings: DistributedSettings | None = None, log: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(settings or DistributedSettings(), log)
        self.redis: redis.RedisServer | None = None
        self.run_mark = secrets.token_hex(8)
        self.leftovers: list[str] = []

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._begin(AIRFLOW_HOME, LOG_DIR, DATABASE)
        self.log("Redis")
        self.redis, timings = redis.up(
            free_port(), LOG_DIR, REPO, {**os.environ, RUN_VARIABLE: self.run_mark}
        )
        self._record(timings)

        from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer

        settings = self.settings
        self.ica = FakeIcaServer(
            FakeIcaConfig(
                api_key=API_KEY,
                analysis_step_seconds=settings.analysis_step_seconds,
                create_delay_seconds=settings.create_delay_seconds,
            )
        ).start()
        self.log(f"fake ICA server at {self.ica.url}; Redis at {self.redis.url}")
        if settings.notifications:
            self.start_sqs()

        self.api_port = free_port()
        self.env = distributed_env(settings, self.cluster.url, self.redis.url, self.api_port, self.ica.url, self.sqs)
        self.env[RUN_VARIABLE] = self.run_mark
        started = time.monotonic()
        migrate = run([self.airflow, "db", "migrate"], env=self.env, cwd=REPO, timeout=600, check=False)
        (LOG_DIR / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise DeploymentError(
                f"airflow db migrate exited {migrate.returncode}:\n{tail(LOG_DIR / 'db-migrate.log', 30)}"
            )
        self._timed("airflow db migrate", started)
        if self.sqs is not None:
            self.subscribe_project(LOG_DIR)

        started = time.monotonic()
        for name in settings.components:
            self.start_component(name)
        self.log(f"started {', '.join(settings.components)}; API server at {self.api_url}")
        self.wait_healthy()
        self._timed("components healthy", started)
        started = time.monotonic()
        self.wait_dag_parsed(DAG_ID)
        self._timed(f"{DAG_ID} parsed", started)

    def stop(self) -> None:
        if self._stopped:
            return
        try:
            super().stop()  # components, fake server, database
        except BaseException as error:
            self.log(f"teardown interrupted: {error!r}")
            raise
        finally:
            if self.redis is not None:
                self.redis.stop()
            left = self.running_processes()
            self.leftovers = [f"{p.pid} {' '.join(_cmdline(p))[:120]}" for p in left]
            if left:
                self.log(f"teardown left {len(left)} processes running, killing them: {self.leftovers}")
                for process in left:
                    with contextlib.suppress(psutil.Error):
                        process.kill()

    def running_processes(self) -> list[psutil.Process]:
        """Every process of this deployment still running, found by the run's mark in its environment."""
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.pid != os.getpid() and process.environ().get(RUN_VARIABLE) == self.run_mark:
                    found.append(process)
        return found

    # --- components ----------------------------------------------------------------------

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"no running component {name!r}")

    def start_component(self, name: str) -> Component:
        argv = component_argv(self.airflow, name, self.api_port, self.settings.worker_concurrency)
        component = Component(name, argv, {**self.env, COMPONENT_VARIABLE: name}, LOG_DIR, REPO)
        component.start()
        self.components.append(component)
        return component

    def kill(self, name: str) -> float:
        """``kill -9`` the component and every process under it (a lost machine); when it happened."""
        component = self.component(name)
        assert component.process is not None
        pid = component.process.pid
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        killed_at = time.monotonic()
        _kill_all(pid, processes)
        component.process.wait(10)
        component.pid_path.unlink(missing_ok=True)
        self.components.remove(component)
        self.log(f"killed -9 {name} (pid {pid} and {len(processes) - 1} processes under it)")
        return killed_at

    def restart(self, name: str) -> None:
        """Stop the component (SIGTERM, as a rolling restart does) and start it again."""
        component = self.component(name)
        component.stop()
        self.components.remove(component)
        self.log(f"stopped {name} (exit code {component.returncode}); starting it again")
        self.start_component(name)

    def worker_of(self, pid: int) -> str | None:
        """The Celery worker a process runs under, by its ancestry."""
        try:
            ancestors = {p.pid for p in psutil.Process(pid).parents()} | {pid}
        except psutil.Error:
            return None
        for component in self.components:
            if component.name in WORKERS and component.process and component.process.pid in ancestors:
                return component.name
        return None

    # --- readiness -----------------------------------------------------------------------

    def wait_healthy(self) -> None:
        """The REST health (database, scheduler, triggerer, dag-processor), both triggerers
        alive as ``TriggererJob``s and both workers ready."""
        self.wait_rest_healthy()
        self._wait("both triggerers alive", lambda: set(self.alive_triggerers().values()) >= set(TRIGGERERS))
        for name in WORKERS:
            self.wait_worker_ready(name)

    def wait_worker_ready(self, name: str) -> None:
        component = self.component(name)
        self._wait(
            f"{name} ready", lambda: f"{name}@" in component.tail(200) and " ready." in component.tail(200)
        )

    def wait_component_healthy(self, name: str) -> None:
        """After a restart: the REST health for the scheduler; the log for a worker."""
        if name in WORKERS:
            self.wait_worker_ready(name)
        else:
            self.wait_rest_healthy()

    def wait_rest_healthy(self) -> None:
        wanted = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
        self._wait("Airflow healthy", lambda: _healthy(self.client.health(), wanted))

    def alive_triggerers(self) -> dict[int, str]:
        """``TriggererJob`` id -> triggerer name, for the triggerers the REST API says are alive."""
        body = self.client.get(
            "/api/v2/jobs", params={"job_type": "TriggererJob", "is_alive": "true", "limit": 100}
        )
        return {job["id"]: component_of(job["hostname"]) or "?" for job in body["jobs"]}


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(part) for part in process.cmdline()]
    except psutil.Error:
        return ["?"]
