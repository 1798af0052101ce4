"""A real Airflow 3 deployment on this machine, brought up and torn down by one context manager.

PostgreSQL metadata DB, LocalExecutor, and the four long-running components (scheduler,
triggerer, dag-processor, api-server on a free loopback port), all with one environment:
a project-local ``AIRFLOW_HOME`` under ``.e2e/``, the ``example_dags`` folder (and, as a second
DAG bundle, ``deploy/airflow_e2e/dags`` with the deployment-only DAGs), the simple auth
manager with everyone admin, deferrable operators by default, connection tests enabled, and
``ica_default`` (created in the metadata DB through the REST API, so the UI lists it) pointing
at a fake ICA server that runs in this process (so ``deployment.ica.backend`` can be inspected,
and ``deployment.ica_clock`` held: see ``clock``).

    with Deployment() as deployment:
        deployment.client.health()

Whatever happens (an exception, Ctrl-C, SIGTERM), leaving the block stops every component,
the fake server and the database. Component logs stay in ``.e2e/logs/`` for the post-mortem.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from deploy.airflow_e2e import postgres
from deploy.airflow_e2e.clock import HeldClock
from deploy.airflow_e2e.events import SqsEndpoint, subscribe_project
from deploy.airflow_e2e.procs import Component, kill_leftovers, run, tail
from deploy.airflow_e2e.rest import AirflowClient

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = REPO / ".e2e"
AIRFLOW_HOME = E2E_DIR / "airflow-home"
LOG_DIR = E2E_DIR / "logs"
DAGS_FOLDER = REPO / "example_dags"
DAG_ID = "example_ica_nextflow_batch"
E2E_DAGS_FOLDER = Path(__file__).resolve().parent / "dags"  # deployment-only DAGs, a bundle of their own
MANY_WAITS_DAG_ID = "ica_e2e_many_waits"
WOKEN_DAG_ID = "ica_e2e_woken_waits"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
SCHEDULER_NICENESS = 10
PROJECT_ID = "e2e-project"
API_KEY = "e2e-api-key"
CONN_ID = "ica_default"
# The same fake ICA, its waits woken by the notifications on the deployment's SQS queue.
WOKEN_CONN_ID = "ica_events"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")
# One database (and role) per checkout: deployments of two clones on one machine don't collide.
DATABASE = f"{postgres.NAME_PREFIX}_{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Settings:
    analysis_step_seconds: float = 3.0  # each analysis phase: keeps the sensor deferred ~15 s
    poke_interval: float = 2.0  # ICA_EXAMPLE_POKE_INTERVAL, the trigger's poll interval
    many_waits: int = 100  # ICA_E2E_WAITS: map indexes of MANY_WAITS_DAG_ID, all deferred at once
    # The deployment-only DAGs (MANY_WAITS_DAG_ID) as a second bundle: the checks need them;
    # a deployment for people (deploy/up.py) shows the example DAGs only.
    e2e_dags: bool = True
    # moto's SQS server, the project subscribed to it, and WOKEN_CONN_ID (with e2e_dags).
    notifications: bool = True
    # Longer than any run of the checks: only a notification can end a woken wait early.
    reconcile_interval: float = 600.0
    ready_timeout: float = 180.0  # all components healthy and the DAG parsed
    components: tuple[str, ...] = COMPONENTS
    airflow_bin: Path = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(db_url: str, api_port: int, poke_interval: float) -> dict[str, str]:
    """The one environment of every Airflow command: inherited AIRFLOW_* settings are dropped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    base_url = f"http://127.0.0.1:{api_port}"
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db_url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
        AIRFLOW__CORE__AUTH_MANAGER=SIMPLE_AUTH_MANAGER,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        # The example's sensor takes deferrable from here: it waits on the triggerer.
        AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE="True",
        AIRFLOW__API__BASE_URL=base_url,
        AIRFLOW__API__WORKERS="1",
        # LocalExecutor forks this many workers up front (default 32); the DAG needs a few.
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{base_url}/execution/",
        # Every component signs or checks the same JWTs.
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        # Log servers are skipped (-s), and would otherwise bind free ports, not 8793/8794.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
        # The connection form's Test button (off by default in Airflow 3).
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        ICA_EXAMPLE_POKE_INTERVAL=f"{poke_interval:g}",
        # OpenLineage events into the task logs, where check_openlineage_in_task_logs reads them.
        AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "console"}',
    )
    return env


def e2e_bundle_env(many_waits: int) -> dict[str, str]:
    """The ``example_dags`` folder plus the deployment-only DAGs, as two DAG bundles."""
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},  # [core] dags_folder
        {"name": "ica-e2e-dags", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(E2E_DAGS_FOLDER)}},
    ]
    return {
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "ICA_E2E_WAITS": str(many_waits),
    }


def ica_connection(ica_url: str, conn_id: str = CONN_ID, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``ica_default`` as stored in the metadata DB (REST API body): listed and editable in the UI."""
    return {
        "connection_id": conn_id,
        "conn_type": "ica",
        "description": "The fake ICA server of this e2e deployment",
        "host": ica_url,
        # The hook reads the port from the host URL and ignores this field (hidden in the form).
        # Left empty, Airflow 3.3.2's connection list would send port 0 when its Test button is
        # pressed, and the API server would refuse to reuse the stored API key ("host or port
        # differs": apache/airflow#73298, fixed after 3.3.2). So it holds the URL's own port,
        # which the list shows, rather than a 0.
        "port": urlsplit(ica_url).port,
        "password": API_KEY,
        "extra": json.dumps({"project_id": PROJECT_ID, **(extra or {})}),
    }


def component_argv(airflow: str, name: str, api_port: int) -> list[str]:
    if name == "scheduler":
        # LocalExecutor: its workers and every task process are the scheduler's children. At a
        # lower CPU priority, 100 task start-ups on two cores do not starve the triggerer, whose
        # event loop check_many_waits_on_one_triggerer watches for being blocked.
        return ["nice", "-n", str(SCHEDULER_NICENESS), airflow, name, "--skip-serve-logs"]
    if name == "api-server":
        return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"]
    if name in ("scheduler", "triggerer"):
        return [airflow, name, "--skip-serve-logs"]
    return [airflow, name]


class DeploymentError(RuntimeError):
    pass


class Deployment:
    def __init__(self, settings: Settings | None = None, log: Callable[[str], None] | None = None) -> None:
        self.settings = settings or Settings()
        self.log = log or (lambda message: print(message, flush=True))
        self.timings: dict[str, float] = {}
        self.components: list[Component] = []
        self.cluster: postgres.Cluster | None = None
        self.ica: Any = None  # FakeIcaServer
        self.sqs: SqsEndpoint | None = None  # moto's SQS server and the queue ICA notifies
        self.ica_clock = HeldClock()  # drives the fake's batches and analyses
        self.api_port = 0
        self.env: dict[str, str] = {}
        self._stopped = False
        self._previous_sigterm: Any = None
        self._client: AirflowClient | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def client(self) -> AirflowClient:
        if self._client is None:
            self._client = AirflowClient(self.api_url)
        return self._client

    @property
    def airflow(self) -> str:
        return str(self.settings.airflow_bin / "airflow")

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Deployment:
        self._trap_sigterm()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _timed(self, label: str, started: float) -> None:
        self.timings[label] = time.monotonic() - started
        self.log(f"  {label}: {self.timings[label]:.1f} s")

    def _record(self, timings: dict[str, float]) -> None:
        for label, seconds in timings.items():
            self.timings[label] = seconds
            self.log(f"  {label}: {seconds:.1f} s")

    def _begin(self, home: Path, logs: Path, database: str) -> None:
        """A clean slate (no component of an earlier run, a new ``home``, no old logs), PostgreSQL up."""
        if not Path(self.airflow).exists():
            raise DeploymentError(f"{self.airflow} not found: run with the Python of an Airflow venv")
        logs.mkdir(parents=True, exist_ok=True)
        leftovers = kill_leftovers(logs)
        if leftovers:
            self.log(f"killed components a previous run left running: {', '.join(leftovers)}")
        shutil.rmtree(home, ignore_errors=True)
        for old_log in logs.glob("*.log"):
            old_log.unlink()
        home.mkdir(parents=True)

        self.log("PostgreSQL")
        self.cluster = postgres.up(database)
        self._record(self.cluster.timings)

    def start(self) -> None:
        self._begin(AIRFLOW_HOME, LOG_DIR, DATABASE)

        from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer

        self.ica = FakeIcaServer(
            FakeIcaConfig(
                api_key=API_KEY,
                analysis_step_seconds=self.settings.analysis_step_seconds,
                clock=self.ica_clock,
            )
        ).start()
        self.log(f"fake ICA server at {self.ica.url}")
        if self.settings.notifications and self.settings.e2e_dags:
            self.start_sqs()

        self.api_port = free_port()
        self.env = airflow_env(self.cluster.url, self.api_port, self.settings.poke_interval)
        if self.settings.e2e_dags:
            self.env.update(e2e_bundle_env(self.settings.many_waits))
        started = time.monotonic()
        migrate = run([self.airflow, "db", "migrate"], env=self.env, cwd=REPO, timeout=600, check=False)
        (LOG_DIR / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise DeploymentError(
                f"airflow db migrate exited {migrate.returncode}:\n{tail(LOG_DIR / 'db-migrate.log', 30)}"
            )
        self._timed("airflow db migrate", started)

        started = time.monotonic()
        for name in self.settings.components:
            component = Component(
                name, component_argv(self.airflow, name, self.api_port), self.env, LOG_DIR, REPO
            )
            component.start()
            self.components.append(component)
        self.log(f"started {', '.join(self.settings.components)}; API server at {self.api_url}")
        self.wait_healthy()
        self._timed("components healthy", started)
        self.client.create_connection(ica_connection(self.ica.url))
        if self.sqs is not None:
            self.client.create_connection(self.sqs.aws_connection())
            wake = self.sqs.wake_extras(self.settings.reconcile_interval)
            self.client.create_connection(ica_connection(self.ica.url, WOKEN_CONN_ID, wake))
            self.subscribe_project(LOG_DIR)
        if "dag-processor" in self.settings.components:
            started = time.monotonic()
            dag_ids = [DAG_ID, MANY_WAITS_DAG_ID, WOKEN_DAG_ID] if self.settings.e2e_dags else [DAG_ID]
            for dag_id in dag_ids:
                self.wait_dag_parsed(dag_id)
            self._timed(f"{' and '.join(dag_ids)} parsed", started)

    def start_sqs(self) -> None:
        """moto's SQS server and the queue the fake ICA notifies (before any component starts)."""
        started = time.monotonic()
        self.sqs = SqsEndpoint().start()
        self._timed("SQS server (moto)", started)
        self.log(f"SQS queue {self.sqs.queue_url}")

    def subscribe_project(self, log_dir: Path) -> None:
        """``ica-notifications-setup`` for the project and the queue, where ``ica_default`` resolves."""
        assert self.sqs is not None
        started = time.monotonic()
        lines = subscribe_project(
            self.settings.airflow_bin, self.env, REPO, PROJECT_ID, self.sqs.queue_url, CONN_ID,
            log_dir / "notifications-setup.log",
        )
        self._timed("ica-notifications-setup", started)
        self.log("\n".join(f"  {line}" for line in lines if line.strip() and not line.startswith((" ", "{", "}"))))

    def stop(self) -> None:
        """Stop everything that was started; every step runs even if an earlier one fails."""
        if self._stopped:
            return
        self._stopped = True
        started = time.monotonic()
        errors = []
        # All at once (each takes seconds to shut down); SIGKILL after STOP_TIMEOUT_SECONDS.
        for component in self.components:
            try:
                component.terminate()
            except Exception as error:
                errors.append(f"stop {component.name}: {error}")
        for component in self.components:
            try:
                component.finish()
                self.log(f"  stopped {component.name} (exit code {component.returncode})")
            except Exception as error:
                errors.append(f"stop {component.name}: {error}")
        if self.ica is not None:
            try:
                self.ica.stop()
            except Exception as error:
                errors.append(f"stop fake ICA server: {error}")
        if self.sqs is not None:
            try:
                self.sqs.stop()
            except Exception as error:
                errors.append(f"stop SQS server: {error}")
        if self.cluster is not None:
            try:
                postgres.down(self.cluster)
            except Exception as error:
                errors.append(f"PostgreSQL clean-up: {error}")
        self._restore_sigterm()
        self._timed("teardown", started)
        if errors:
            self.log("teardown problems:\n  " + "\n  ".join(errors))

    def _trap_sigterm(self) -> None:
        """SIGTERM (CI timeout, kill) becomes KeyboardInterrupt, so the teardown still runs."""
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        self._previous_sigterm = signal.signal(signal.SIGTERM, interrupt)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    # --- readiness -----------------------------------------------------------------------

    def check_alive(self) -> None:
        dead = [c for c in self.components if not c.alive]
        if dead:
            names = ", ".join(f"{c.name} (exit code {c.returncode})" for c in dead)
            raise DeploymentError(f"Airflow component(s) exited: {names}\n{self.log_tails()}")

    def wait_healthy(self) -> None:
        """``/api/v2/monitor/health``: the DB and every started component healthy."""
        wanted = {"metadatabase"} | {
            {"dag-processor": "dag_processor"}.get(name, name)
            for name in self.settings.components
            if name != "api-server"
        }
        self._wait("Airflow healthy", lambda: _healthy(self.client.health(), wanted))

    def wait_dag_parsed(self, dag_id: str) -> None:
        def parsed() -> bool:
            errors = self.client.import_errors()
            if errors:
                raise DeploymentError(f"DAG import errors: {json.dumps(errors, indent=2)}")
            return bool(self.client.dag(dag_id))

        self._wait(f"DAG {dag_id} parsed", parsed)

    def _wait(self, what: str, probe: Callable[[], Any], timeout: float | None = None) -> Any:
        timeout = self.settings.ready_timeout if timeout is None else timeout

        def probe_alive() -> Any:
            self.check_alive()
            return probe()

        try:
            return self.client.wait_for(what, probe_alive, timeout)
        except TimeoutError as error:
            raise DeploymentError(f"{error}\n{self.log_tails()}") from error

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for component in self.components:
            parts.append(f"----- {component.log_path} (last {lines} lines) -----\n{component.tail(lines)}")
        return "\n".join(parts)


def _healthy(health: dict[str, Any], wanted: set[str]) -> bool:
    return all((health.get(name) or {}).get("status") == "healthy" for name in wanted)
