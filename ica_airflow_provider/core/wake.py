"""Whether a wait is woken by ICA's notifications, and from which queue: the connection's
settings (extras ``sqs_queue``, ``aws_conn_id``, ``reconcile_interval``) and a task's overrides.

Standard library only: DAG files check the task's arguments at parse time.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_AWS_CONN_ID = "aws_default"  # as the Amazon provider's SQS sensor and MessageQueueTrigger
# A woken wait polls ICA at least this often: what a lost notification can cost, and
# about 100 requests a day per wait instead of about 2,900 at a 60 s poll.
DEFAULT_RECONCILE_INTERVAL = 900.0
# The technical tag the operator puts on each item of a batch it waits for: ICA's notifications
# of its analyses then reach a woken wait before a listing has shown their ids.
WAIT_TAG_PREFIX = "airflow-wait:"


@dataclass(frozen=True)
class WakeOptions:
    """A queue to be woken from, the AWS connection that reads it, and the longest sleep between listings."""

    sqs_queue: str
    aws_conn_id: str = DEFAULT_AWS_CONN_ID
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL


def wait_tag(project_id: str, idempotency_key: str) -> str:
    """The technical tag of the batch created in the project with this ``Idempotency-Key``: the same on every retry.

    The project is in it because ICA scopes keys per project: one key, two projects, two batches.
    """
    return WAIT_TAG_PREFIX + hashlib.sha256(f"{project_id}\n{idempotency_key}".encode()).hexdigest()[:24]


def with_wait_tag(batch: Mapping[str, Any], tag: str) -> dict[str, Any]:
    """A copy of the batch request (ICA's JSON: item lists only) with ``tag`` among each item's technical tags."""
    tagged = copy.deepcopy(dict(batch))
    for items in tagged.values():
        for item in items or ():
            tags = item.get("tags") or {}
            technical = [t for t in tags.get("technicalTags") or () if t != tag]
            item["tags"] = {**tags, "technicalTags": [*technical, tag]}
    return tagged


def check_queue_url(value: Any, where: str) -> str:
    """An SQS queue URL (``https://sqs.<region>.amazonaws.com/<account>/<name>``, or an endpoint's)."""
    text = value.strip() if isinstance(value, str) else None
    parts = urlsplit(text or "")
    if not text or parts.scheme not in ("http", "https") or not parts.hostname or len(parts.path.strip("/").split("/")) != 2:
        raise ValueError(f"{where}={value!r} is not an SQS queue URL like https://sqs.<region>.amazonaws.com/<account>/<queue>")
    return text


def check_reconcile_interval(value: Any, where: str) -> float:
    """Seconds, more than 0 and finite."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}={value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{where}={value!r} must be more than 0, finite seconds")
    return seconds


def check_wake_args(
    wake_on_notifications: Any, sqs_queue: Any, aws_conn_id: Any, reconcile_interval: Any
) -> None:
    """A task's notification arguments, at DAG-parse time (each may be a template: checked when rendered)."""
    if wake_on_notifications not in (None, True, False):
        raise ValueError(f"wake_on_notifications: must be True, False or None, got {wake_on_notifications!r}")
    if sqs_queue is not None and not _templated(sqs_queue):
        check_queue_url(sqs_queue, "sqs_queue")
    if aws_conn_id is not None and (not isinstance(aws_conn_id, str) or not aws_conn_id.strip()):
        raise ValueError(f"aws_conn_id: must be an Airflow connection id, got {aws_conn_id!r}")
    if reconcile_interval is not None and not _templated(reconcile_interval):
        check_reconcile_interval(reconcile_interval, "reconcile_interval")


def from_extra(extra: Mapping[str, Any], fail: Callable[[str], Exception]) -> WakeOptions | None:
    """The connection's notification settings; ``None`` without an ``sqs_queue`` extra."""
    queue = extra.get("sqs_queue")
    if queue is None or queue == "":
        return None
    try:
        return WakeOptions(
            sqs_queue=check_queue_url(queue, "extra sqs_queue"),
            aws_conn_id=_conn_id(extra.get("aws_conn_id"), "extra aws_conn_id") or DEFAULT_AWS_CONN_ID,
            reconcile_interval=_interval(extra.get("reconcile_interval"), "extra reconcile_interval"),
        )
    except ValueError as exc:
        raise fail(str(exc)) from None


@dataclass(frozen=True)
class WakeArgs:
    """A task's notification arguments, as rendered; :meth:`resolve` them over the connection's settings."""

    wake_on_notifications: bool | None = None
    sqs_queue: str | None = None
    aws_conn_id: str | None = None
    reconcile_interval: float | str | None = None

    def resolve(self, connection: WakeOptions | None) -> WakeOptions | None:
        """The queue the wait is woken from, or ``None``: it polls.

        ``wake_on_notifications``: ``None`` follows the connection (or the task's ``sqs_queue``),
        ``False`` polls whatever they say, ``True`` requires a queue.
        """
        if self.wake_on_notifications is False:
            return None
        if self.sqs_queue:
            queue: str | None = check_queue_url(self.sqs_queue, "sqs_queue")
        else:
            queue = connection.sqs_queue if connection else None
        if queue is None:
            if self.wake_on_notifications:
                raise ValueError(
                    "wake_on_notifications=True, but neither the task's sqs_queue nor the connection's"
                    " sqs_queue extra names a queue"
                )
            return None
        interval = self.reconcile_interval
        return WakeOptions(
            sqs_queue=queue,
            aws_conn_id=_conn_id(self.aws_conn_id, "aws_conn_id")
            or (connection.aws_conn_id if connection else DEFAULT_AWS_CONN_ID),
            reconcile_interval=_interval(interval, "reconcile_interval")
            if interval not in (None, "")
            else (connection.reconcile_interval if connection else DEFAULT_RECONCILE_INTERVAL),
        )


def _interval(value: Any, where: str) -> float:
    return DEFAULT_RECONCILE_INTERVAL if value is None or value == "" else check_reconcile_interval(value, where)


def _conn_id(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}={value!r} is not an Airflow connection id")
    return value.strip()


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value
