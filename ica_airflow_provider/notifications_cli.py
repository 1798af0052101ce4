"""``ica-notifications-setup``: subscribe an ICA project to notifications on an SQS queue, idempotently.

Uses an Airflow ``ica`` connection (``--conn-id``), so run it where that connection resolves
(an ``AIRFLOW_CONN_...`` variable, a secrets backend or the metadata database). Prints what
exists now, what this run created, and the statement to add to the queue's access policy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence

from ica_airflow_provider.core.notification_setup import WAIT_EVENT_CODES
from ica_airflow_provider.defaults import DEFAULT_CONN_ID

SERVER_CONTEXT_VARIABLE = "_AIRFLOW_PROCESS_CONTEXT"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ica-notifications-setup",
        description="Create (or find) an ICA SQS notification channel for a queue and the project's V4"
        " subscriptions to the events a wait needs; running it again changes nothing.",
    )
    parser.add_argument("--project", required=True, help="the ICA project ID")
    parser.add_argument("--queue-url", required=True, help="the SQS queue URL (at most 100 characters)")
    parser.add_argument("--conn-id", default=DEFAULT_CONN_ID, help=f"the Airflow ica connection (default: {DEFAULT_CONN_ID})")
    parser.add_argument(
        "--event-code",
        action="append",
        dest="event_codes",
        help=f"an event code to subscribe to; repeat for several (default: {' '.join(WAIT_EVENT_CODES)})",
    )
    return parser


@contextlib.contextmanager
def server_process() -> Iterator[None]:
    """Airflow 3 reads connections from its metadata database only in a process that says it is
    a server process, as its own ``airflow connections get`` does; else only variables and
    secrets backends. A command an admin runs next to Airflow is one (Airflow 2 ignores it).
    A caller's own choice stands; the variable is as it was afterwards."""
    if SERVER_CONTEXT_VARIABLE in os.environ:
        yield
        return
    os.environ[SERVER_CONTEXT_VARIABLE] = "server"
    try:
        yield
    finally:
        os.environ.pop(SERVER_CONTEXT_VARIABLE, None)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script: 0 when everything exists now, 1 when ICA or the arguments refused."""
    args = build_parser().parse_args(argv)
    from ica_airflow_provider.core.errors import IcaError
    from ica_airflow_provider.hooks.ica import IcaHook

    try:
        with server_process():
            setup = IcaHook(args.conn_id).ensure_notifications(args.project, args.queue_url, args.event_codes)
    except IcaError as exc:
        print(f"ica-notifications-setup: {exc}", file=sys.stderr)
        return 1
    for line in setup.describe():
        print(line)
    print("Add this statement to the queue's access policy so that ICA may send to it:")
    print(json.dumps(setup.policy_statement, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
