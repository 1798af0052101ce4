"""`make demo-events`: the demo's batch waited for with ICA's notifications, beside the same batch polled.

Starts moto's SQS server (its own process) with one queue, and the fake ICA server, whose
analyses take a few seconds here, sending its notifications to that queue. Subscribes the
demo project with the one idempotent setup call (``ica-notifications-setup``, run twice: the
second run creates nothing). Then runs the example DAG with ``airflow dags test`` twice on the
same samples: with the queue in the ``ica_default`` connection (the sensor sleeps until a
notification wakes it), then without (it polls every second). Prints how many notifications
woke the wait and how many REST requests each run made; exits non-zero if a run failed or the
woken wait did not say how notifications woke it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from demo import API_KEY, DAG_ID, PROJECT_ID, REPO, airflow, airflow_env

from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer

AWS_CONN_ID = "ica_events_aws"  # the Airflow AWS connection that reads the queue (moto's endpoint)
RECONCILE_SECONDS = 60  # the woken wait lists its batch at least this often (the batch takes ~15 s)
# Long enough for the polled run to poll a dozen times: 6 phases of 2 s, items 1 s apart.
FAKE_TIMING = {"analysis_step_seconds": 2.0, "item_stagger_seconds": 1.0}
HINTS_LINE = re.compile(
    r"ICA batch \S+: woken (?P<woken>\d+) times? by notifications \((?P<applied>\d+) applied,"
    r" (?P<ignored>\d+) ignored\); (?P<listings>\d+) listings? asked by them"
)


@dataclass
class Run:
    """One ``airflow dags test`` of the example DAG: its exit code, what the fake saw, the wait's hint counts."""

    label: str
    code: int = -1
    requests: Counter[str] = field(default_factory=Counter)  # kind of request -> count
    sent: int = 0  # notifications the fake sent to the queue meanwhile
    hints: dict[str, int] | None = None  # the wait's log line, parsed (None: it was not woken)


def main() -> int:
    samples = sys.argv[1:] or ["NA12878", "NA12891", "NA12892"]
    with MotoSqsServer() as sqs, FakeIcaServer(FakeIcaConfig(api_key=API_KEY, **FAKE_TIMING)) as server:
        queue_url = boto3.client("sqs", **sqs.client_kwargs()).create_queue(QueueName="ica-events")["QueueUrl"]
        print(f"Fake ICA server at {server.url}; SQS (moto) at {sqs.url}, queue {queue_url}", flush=True)
        polled_env = airflow_env(server.url)
        woken_env = with_queue(polled_env, sqs, queue_url)
        for _ in range(2):  # idempotent: the second run finds what the first created
            if command(woken_env, "ica-notifications-setup", "--project", PROJECT_ID, "--queue-url", queue_url) != 0:
                return 1
        if airflow(woken_env, "db", "migrate") != 0:
            return 1
        runs = [
            run_dag(server, woken_env, samples, "woken by notifications"),
            run_dag(server, polled_env, samples, "polled every 1 s"),
        ]
    print()
    print(report(runs))
    woken, polled = runs
    ok = woken.code == 0 and polled.code == 0 and woken.hints is not None
    print(f"\nDemo {'succeeded' if ok else 'FAILED'} (airflow dags test exit codes {woken.code}, {polled.code}).")
    return 0 if ok else 1


def with_queue(env: dict[str, str], sqs: MotoSqsServer, queue_url: str) -> dict[str, str]:
    """``env`` with the queue in the ``ica`` connection's extras and an AWS connection to moto."""
    ica = json.loads(env["AIRFLOW_CONN_ICA_DEFAULT"])
    ica["extra"].update(sqs_queue=queue_url, aws_conn_id=AWS_CONN_ID, reconcile_interval=RECONCILE_SECONDS)
    return {**env, "AIRFLOW_CONN_ICA_DEFAULT": json.dumps(ica), f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}": sqs.airflow_connection()}


def command(env: dict[str, str], name: str, *args: str) -> int:
    """A console script of this environment, echoed as ``$ name args``."""
    print(f"$ {name} " + " ".join(args), flush=True)
    return subprocess.run([str(Path(sys.executable).parent / name), *args], env=env, cwd=REPO, check=False).returncode


def run_dag(server: FakeIcaServer, env: dict[str, str], samples: list[str], label: str) -> Run:
    """``airflow dags test`` on the samples, its output passed through (and read for the wait's hint counts)."""
    run = Run(label)
    server.backend.reset_request_log()
    sent_before = server.backend.emitter.stats()["sent"]
    args = ["dags", "test", DAG_ID, "--conf", json.dumps({"samples": samples})]
    print(f"\n[{label}] $ airflow " + " ".join(args), flush=True)
    with subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), *args],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            found = HINTS_LINE.search(line)
            if found:
                run.hints = {name: int(value) for name, value in found.groupdict().items()}
        run.code = process.wait()
    server.backend.emitter.flush()
    run.sent = server.backend.emitter.stats()["sent"] - sent_before
    run.requests = Counter(request_kind(entry.method, entry.path) for entry in server.backend.request_log)
    return run


def request_kind(method: str, path: str) -> str:
    """What a request to the fake ICA was for, by its method and path."""
    tail = path.rsplit("/api/", 1)[-1]
    if tail.startswith("tokens"):
        return "tokens"
    if method == "POST" and tail.endswith("/analysisCreationBatch"):
        return "batch created"
    if re.search(r"/analysisCreationBatch/[^/]+$", tail):
        return "reads of the batch"
    if tail.endswith("/items"):
        return "listings of the batch's items"
    if re.search(r"/analyses/[^/]+$", tail):
        return "reads of one analysis"
    if tail.endswith("/outputs"):
        return "outputs of an analysis"
    return "other"


def report(runs: list[Run]) -> str:
    """One table: each run's notifications and requests."""
    kinds = sorted({kind for run in runs for kind in run.requests})
    rows: list[tuple[str, ...]] = [("", *(run.label for run in runs))]
    rows.append(("notifications sent by ICA (the fake)", *(str(run.sent) for run in runs)))
    rows.append(("times the wait was woken by them", *(_hint(run, "woken") for run in runs)))
    rows.append(("  status changes applied (no request)", *(_hint(run, "applied") for run in runs)))
    rows.append(("  ignored (already known, repeated or late)", *(_hint(run, "ignored") for run in runs)))
    rows.append(("  listings they asked for", *(_hint(run, "listings") for run in runs)))
    rows.append(("REST requests to ICA (the whole run)", *(str(sum(run.requests.values())) for run in runs)))
    rows += [(f"  {kind}", *(str(run.requests[kind]) for run in runs)) for kind in kinds]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    )


def _hint(run: Run, name: str) -> str:
    return "-" if run.hints is None else str(run.hints[name])


if __name__ == "__main__":
    sys.exit(main())
