"""The moto SQS server the tests, the demo and the benchmarks start: it keeps answering however long it runs."""

from __future__ import annotations

import boto3
from botocore.config import Config

from ica_airflow_provider.testing.sqs_server import MotoSqsServer

# moto logs one line of some 60 bytes per request: more requests than a pipe's 64 KiB of them.
REQUESTS = 1500


def test_the_server_answers_after_more_request_logs_than_a_pipe_holds() -> None:
    with MotoSqsServer() as server:
        # A hung server fails the call (no retry) instead of holding the test for minutes.
        config = Config(read_timeout=30, retries={"max_attempts": 1})
        sqs = boto3.client("sqs", config=config, **server.client_kwargs())
        url = sqs.create_queue(QueueName="ica-events-logs")["QueueUrl"]
        for _ in range(REQUESTS):
            sqs.get_queue_url(QueueName="ica-events-logs")
        sqs.send_message(QueueUrl=url, MessageBody="still answering")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "still answering"
