"""An SQS queue (``hooks/sqs_queue``) that records what its reader did, with a latch to wait on."""

from __future__ import annotations

import asyncio

from ica_airflow_provider.hooks.sqs_queue import Received, SqsQueue


class RecordingQueue:
    """The real queue, counting receives and deletes; ``changed`` is set after each."""

    def __init__(self, queue: SqsQueue) -> None:
        self.queue = queue
        self.receives = 0
        self.deleted = 0
        self.changed = asyncio.Event()

    async def connect(self) -> None:
        connect = getattr(self.queue, "connect", None)
        if connect is not None:
            await connect()

    async def receive(self, wait_seconds: int, max_messages: int = 10) -> list[Received]:
        try:
            return await self.queue.receive(wait_seconds, max_messages)
        finally:
            self.receives += 1
            self.changed.set()

    async def delete(self, receipt: str) -> None:
        await self.queue.delete(receipt)
        self.deleted += 1
        self.changed.set()

    async def release(self, receipt: str) -> None:
        await self.queue.release(receipt)

    async def delete_batch(self, receipts: list[str]) -> int:
        failed = await self.queue.delete_batch(receipts)
        self.deleted += len(receipts) - failed
        self.changed.set()
        return failed

    async def release_batch(self, receipts: list[str]) -> int:
        return await self.queue.release_batch(receipts)
