"""The ``make e2e`` deployment, up for a person to click around: ``make up``, then ``make down``.

The same deployment as ``make e2e`` (PostgreSQL, LocalExecutor, scheduler, triggerer,
dag-processor, api-server, the fake ICA server with ``ica_default`` pointing at it), with
only the example DAGs (not the deployment's test DAGs) and no check run first.

- ``python deploy/up.py``: bring it up, print where to go, stay up until Ctrl-C or SIGTERM;
- ``python deploy/up.py --detach`` (``make up``): the same in the background; returns once it
  is up, having printed where to go and how to stop it;
- ``python deploy/up.py --down`` (``make down``): stop the one ``--detach`` started.

``make e2e`` uses the same ``.e2e/`` folder and database: it stops a deployment left up.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``deploy`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.airflow_e2e.browser import ensure_chromium
from deploy.airflow_e2e.deployment import (
    CONN_ID,
    DAG_ID,
    E2E_DIR,
    LOG_DIR,
    PROJECT_ID,
    REPO,
    Deployment,
    Settings,
)

STATE = E2E_DIR / "up.json"  # written once the deployment is up, removed when it is down
UP_LOG = E2E_DIR / "up.log"  # the detached process's output
READY_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 120.0
ALIVE_CHECK_SECONDS = 10.0


def describe(state: dict[str, object]) -> str:
    """What a person needs: where to click, that no login is asked, and how to stop it."""
    return "\n".join(
        [
            "",
            "The ICA provider's Airflow deployment is up:",
            f"  Airflow UI:       {state['ui']}  (no login: every visitor is admin)",
            f"  example DAG:      {state['ui']}/dags/{DAG_ID}  (Trigger, then fill in the form)",
            f"  fake ICA web:     {state['ica_web']}  (the analyses the DAG runs start)",
            f"  connection:       {CONN_ID} -> {state['ica_api']}",
            f"  pid:              {state['pid']} (components: {state['components']})",
            f"  logs:             {Path(str(state['logs'])).relative_to(REPO)}/",
            f"  stop it:          make down  (or kill -TERM {state['pid']})",
            "",
        ]
    )


def running_state() -> dict[str, object] | None:
    """The state file of a deployment that is up (its process alive), else ``None``."""
    try:
        state = json.loads(STATE.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if isinstance(state, dict) else None


def serve() -> int:
    """Bring the deployment up in this process and keep it up until Ctrl-C or SIGTERM."""
    if (state := running_state()) is not None and state["pid"] != os.getpid():
        print(f"Already up (pid {state['pid']}): `make down` first.{describe(state)}")
        return 1
    ensure_chromium()  # the browser the walkthrough and the screenshot scripts drive
    deployment = Deployment(Settings(e2e_dags=False))
    try:
        with deployment:
            web = deployment.ica.url.removesuffix("/rest")
            state = {
                "pid": os.getpid(),
                "ui": deployment.api_url,
                "ica_web": f"{web}/projects/{PROJECT_ID}/analyses",
                "ica_api": deployment.ica.url,
                "components": ", ".join(f"{c.name} {c.process.pid}" for c in deployment.components if c.process),
                "logs": str(LOG_DIR),
            }
            STATE.write_text(json.dumps(state))
            print(describe(state), flush=True)
            while True:  # until SIGTERM or Ctrl-C (KeyboardInterrupt); a component that dies ends it too
                time.sleep(ALIVE_CHECK_SECONDS)
                deployment.check_alive()
    except KeyboardInterrupt as stop:
        print(f"stopping ({stop or 'Ctrl-C'})", flush=True)
        return 0
    finally:
        STATE.unlink(missing_ok=True)


def detach() -> int:
    """Start :func:`serve` in the background; return once it is up (or failed), saying which."""
    if (state := running_state()) is not None:
        print(f"Already up.{describe(state)}")
        return 0
    E2E_DIR.mkdir(parents=True, exist_ok=True)
    STATE.unlink(missing_ok=True)
    with UP_LOG.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
        )
    print(f"Bringing the deployment up (pid {child.pid}; about 1-3 min; progress in {UP_LOG.relative_to(REPO)}) …",
          flush=True)
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        if child.poll() is not None:
            print(f"It stopped (exit code {child.returncode}); the end of {UP_LOG.relative_to(REPO)}:")
            print("\n".join(UP_LOG.read_text(errors="replace").splitlines()[-30:]))
            return 1
        if (state := running_state()) is not None and state["pid"] == child.pid:
            print(describe(state))
            return 0
        time.sleep(1)
    print(f"Not up after {READY_TIMEOUT_SECONDS:.0f} s: stopping it; see {UP_LOG.relative_to(REPO)}")
    stop(child.pid)
    return 1


def stop(pid: int) -> bool:
    """SIGTERM (the deployment tears itself down), then wait for the process to end."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    started = time.monotonic()
    while time.monotonic() - started < STOP_TIMEOUT_SECONDS:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def down() -> int:
    state = running_state()
    if state is None:
        print("No deployment is up (no live process in .e2e/up.json).")
        STATE.unlink(missing_ok=True)
        return 0
    pid = int(str(state["pid"]))
    print(f"Stopping the deployment (pid {pid}) …", flush=True)
    if not stop(pid):
        print(f"pid {pid} still running after {STOP_TIMEOUT_SECONDS:.0f} s; see {UP_LOG.relative_to(REPO)}")
        return 1
    print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true", help="run in the background (make up)")
    mode.add_argument("--down", action="store_true", help="stop the deployment --detach started (make down)")
    args = parser.parse_args(argv)
    if args.down:
        return down()
    return detach() if args.detach else serve()


if __name__ == "__main__":
    sys.exit(main())
