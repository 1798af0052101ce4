"""``MotoSqsServer``: moto's server mode in its own process keeps answering however much it logs."""

from __future__ import annotations

import urllib.request

import boto3

from ica_airflow_provider.testing.sqs_server import MotoSqsServer

# werkzeug logs each request line on the server's stderr: these fill a pipe's 64 KiB many times over.
LONG_LINE = "x" * 8000
REQUESTS = 40


def test_the_server_answers_after_logging_more_than_a_pipe_holds(moto_sqs_server: MotoSqsServer) -> None:
    for _ in range(REQUESTS):
        with urllib.request.urlopen(f"{moto_sqs_server.url}/moto-api/data.json?pad={LONG_LINE}", timeout=10) as answer:
            assert answer.status == 200
    sqs = boto3.client("sqs", **moto_sqs_server.client_kwargs())
    queue_url = sqs.create_queue(QueueName="after-much-logging")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="still answering")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue_url).get("Messages", [])] == ["still answering"]
