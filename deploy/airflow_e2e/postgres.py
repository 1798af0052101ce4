"""PostgreSQL from the machine's Debian packages, with a throw-away role and database.

Idempotent: an installed PostgreSQL is not installed again and a running cluster is reused;
a cluster that was down is started, and stopped again at the end unless another checkout's
deployment still has a database on it. The database (named per checkout, owned by a role of
the same name) is dropped and created afresh at the start and dropped with its role at the
end, so every run starts from an empty metadata database and leaves nothing behind.
``ICA_E2E_KEEP_POSTGRES=1`` leaves a cluster this run started running (faster reruns).

Needs root, or passwordless sudo, for apt-get, pg_ctlcluster and ``psql`` as ``postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.airflow_e2e.procs import apt_install, as_root, run

NAME_PREFIX = "airflow_e2e"
PASSWORD = "airflow_e2e"  # loopback only; the role is dropped at the end
READY_TIMEOUT_SECONDS = 60.0


@dataclass
class Cluster:
    version: str
    name: str
    port: int
    online: bool
    started_by_us: bool = False
    database: str = NAME_PREFIX  # also the name of its owner role
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.database}:{PASSWORD}@127.0.0.1:{self.port}/{self.database}"


def is_installed() -> bool:
    return bool(shutil.which("pg_lsclusters")) and bool(glob.glob("/usr/lib/postgresql/*/bin/postgres"))


def install() -> None:
    """``apt-get install postgresql`` (Debian/Ubuntu); the package creates cluster ``main``."""
    apt_install("postgresql")


def clusters() -> list[Cluster]:
    output = run(["pg_lsclusters", "--no-header"]).stdout
    found = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            found.append(Cluster(parts[0], parts[1], int(parts[2]), parts[3].startswith("online")))
    return found


def ensure_cluster() -> Cluster:
    """A running cluster: an online one, else the newest one started, else a new ``main``."""
    found = clusters()
    online = [c for c in found if c.online]
    if online:
        return online[0]
    if not found:
        versions = sorted(
            (p.split("/")[4] for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")), key=_version_key
        )
        run(as_root("pg_createcluster", versions[-1], "main"))
        found = clusters()
    cluster = sorted(found, key=lambda c: _version_key(c.version))[-1]
    run(as_root("pg_ctlcluster", cluster.version, cluster.name, "start"), timeout=120)
    cluster.online = cluster.started_by_us = True
    return cluster


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def wait_ready(cluster: Cluster) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        result = run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(cluster.port)], check=False)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"PostgreSQL on 127.0.0.1:{cluster.port} not ready after {READY_TIMEOUT_SECONDS:.0f} s"
            )
        time.sleep(0.5)


def psql(cluster: Cluster, *statements: str) -> None:
    """Each statement on its own (DROP/CREATE DATABASE cannot run inside a transaction)."""
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-p", str(cluster.port), "-d", "postgres"]
    for statement in statements:
        argv += ["-c", statement]
    # From / : ``runuser -u postgres`` keeps the cwd, which postgres may not be allowed to read.
    run(as_root(*argv, user="postgres"), cwd=Path("/"))


def reset_database(cluster: Cluster) -> None:
    """A fresh, empty database owned by a role of the same name (``cluster.database``)."""
    name = cluster.database
    psql(
        cluster,
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
        f"THEN CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'; "
        f"ELSE ALTER ROLE {name} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$",
        f"CREATE DATABASE {name} OWNER {name}",
    )


def drop_database(cluster: Cluster) -> None:
    name = cluster.database
    psql(cluster, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"DROP ROLE IF EXISTS {name}")


def other_e2e_databases(cluster: Cluster) -> int:
    """Databases of other checkouts' deployments still on this cluster (runs in progress)."""
    argv = ["psql", "-X", "-At", "-p", str(cluster.port), "-d", "postgres", "-c"]
    query = f"SELECT count(*) FROM pg_database WHERE datname LIKE '{NAME_PREFIX}%'"
    return int(run(as_root(*argv, query, user="postgres"), cwd=Path("/")).stdout.strip() or 0)


def up(name: str) -> Cluster:
    """Install if needed, start if needed, and create database ``name``; timings per step."""
    if not name.startswith(NAME_PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"database name must be {NAME_PREFIX}[_a-z0-9]*, got {name!r}")
    timings: dict[str, float] = {}
    started = time.monotonic()
    if not is_installed():
        install()
        timings["apt-get install postgresql"] = time.monotonic() - started
    step = time.monotonic()
    cluster = ensure_cluster()
    cluster.database = name
    wait_ready(cluster)
    timings["start PostgreSQL" if cluster.started_by_us else "reuse running PostgreSQL"] = (
        time.monotonic() - step
    )
    step = time.monotonic()
    reset_database(cluster)
    timings[f"create role and database {name}"] = time.monotonic() - step
    cluster.timings = timings
    return cluster


def down(cluster: Cluster) -> None:
    """Drop the database and role; stop the cluster if this run started it and no other run uses it."""
    drop_database(cluster)
    if (
        cluster.started_by_us
        and not os.environ.get("ICA_E2E_KEEP_POSTGRES")
        and not other_e2e_databases(cluster)
    ):
        run(as_root("pg_ctlcluster", cluster.version, cluster.name, "stop", "-m", "fast"), timeout=120)
