"""The three SQS calls the notification consumer makes, behind a tiny interface.

:class:`AwsSqsQueue` reads a queue through Airflow's own AWS connection (``aws_conn_id``)
with the Amazon provider's ``SqsHook`` (the ``events`` extra), so endpoint URL, region,
roles and keys work as in the provider's own SQS sensor. Its boto3 calls block, so each
runs in a thread (one long poll at a time per consumer: one thread, however many waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# SQS's longest long poll.
MAX_WAIT_SECONDS = 20
# SQS returns at most ten messages per receive.
MAX_MESSAGES = 10


@dataclass(frozen=True, slots=True)
class Received:
    """One received message: its body, the handle to delete or release it, and how often it was received."""

    message_id: str
    receipt: str
    body: str
    receive_count: int


class SqsQueue(Protocol):
    """What the consumer needs of a queue."""

    async def receive(self, wait_seconds: int, max_messages: int = MAX_MESSAGES) -> list[Received]: ...

    async def delete(self, receipt: str) -> None: ...

    async def release(self, receipt: str) -> None:
        """Make the message visible again at once (``ChangeMessageVisibility`` to 0)."""
        ...

    async def delete_batch(self, receipts: Sequence[str]) -> int:
        """Delete up to :data:`MAX_MESSAGES` messages in one call; how many SQS could not delete."""
        ...

    async def release_batch(self, receipts: Sequence[str]) -> int:
        """:meth:`release` up to :data:`MAX_MESSAGES` messages in one call; how many failed."""
        ...


class AwsSqsQueue:
    """A queue read through an Airflow AWS connection; the client is made on first use, never in ``__init__``."""

    def __init__(self, queue_url: str, aws_conn_id: str | None) -> None:
        self.queue_url = queue_url
        self.aws_conn_id = aws_conn_id
        self._client: Any = None

    def __repr__(self) -> str:
        return f"AwsSqsQueue(queue_url={self.queue_url!r}, aws_conn_id={self.aws_conn_id!r})"

    def _sqs(self) -> Any:
        if self._client is None:
            from airflow.providers.amazon.aws.hooks.sqs import SqsHook

            self._client = SqsHook(aws_conn_id=self.aws_conn_id).get_conn()
        return self._client

    def _receive(self, wait_seconds: int, max_messages: int) -> list[Received]:
        answer = self._sqs().receive_message(
            QueueUrl=self.queue_url,
            WaitTimeSeconds=wait_seconds,
            MaxNumberOfMessages=max_messages,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Received(
                message_id=str(message.get("MessageId", "")),
                receipt=message["ReceiptHandle"],
                body=message.get("Body", ""),
                receive_count=_count(message.get("Attributes", {}).get("ApproximateReceiveCount")),
            )
            for message in answer.get("Messages", [])
        ]

    async def connect(self) -> None:
        """Make the client (reading the AWS connection) on asgiref's one thread for sync Airflow calls.

        In a triggerer, connection lookups from several threads at once can hang; asgiref's
        thread-sensitive thread runs them one at a time (as ``_compat.aget_connection`` does).
        """
        if self._client is None:
            from asgiref.sync import sync_to_async

            await sync_to_async(self._sqs)()

    async def receive(self, wait_seconds: int, max_messages: int = MAX_MESSAGES) -> list[Received]:
        return await asyncio.to_thread(self._receive, wait_seconds, max_messages)

    async def delete(self, receipt: str) -> None:
        await asyncio.to_thread(lambda: self._sqs().delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt))

    async def release(self, receipt: str) -> None:
        await asyncio.to_thread(
            lambda: self._sqs().change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
            )
        )

    async def delete_batch(self, receipts: Sequence[str]) -> int:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        return await self._batch("delete_message_batch", entries)

    async def release_batch(self, receipts: Sequence[str]) -> int:
        entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0} for i, r in enumerate(receipts)]
        return await self._batch("change_message_visibility_batch", entries)

    async def _batch(self, operation: str, entries: list[dict[str, Any]]) -> int:
        if not entries:
            return 0
        answer = await asyncio.to_thread(lambda: getattr(self._sqs(), operation)(QueueUrl=self.queue_url, Entries=entries))
        return len(answer.get("Failed", []))


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1
