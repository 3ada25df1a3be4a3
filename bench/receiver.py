"""The webhook receiver, warm, invoked in-process.

Twice: with AWS in memory (moto's in-process mock, no sockets), which is the handler's own
cost; and on the local stack, where its two AWS calls (a DynamoDB read of the route, an SQS
send) go to the stack's moto server over loopback. Side by side in that second run: those
two calls alone, through the same clients, so the ratio shows what the handler adds.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.stats import Figure
from local.chaos import chaos_options, connect_account
from local.environment import ROOT, LocalEnvironment

SAMPLE = ROOT / "events" / "receiver_event_delivery.json"
RECEIVER = ROOT / "functions" / "receiver" / "app.py"
TARGET_P99_MS = 50.0
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1"}


def event_for(route_token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(SAMPLE).read_text())
    sample = event["pathParameters"]["route_token"]
    text = json.dumps(event).replace(sample, route_token)
    return dict(json.loads(text))


def stop_processing(env: LocalEnvironment) -> None:
    """Only the receiver should use the CPU while it is timed: the pollers stop."""
    assert env.stack is not None
    pollers = env.stack._pollers  # the runner's SQS event source mappings
    for poller in pollers:
        poller.stop()
    for poller in pollers:
        poller.join(timeout=5)


def timed(call: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def aws_in_memory() -> Iterator[None]:
    """The template's resources in moto's in-process mock; the environment put back after."""
    from moto import mock_aws

    from servicem8_connector import runtime
    from tests.support.aws import provision_template

    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(FAKE_AWS)
    try:
        with mock_aws():
            provision_template()
            runtime.reset()
            yield
    finally:
        runtime.reset()
        os.environ.clear()
        os.environ.update(saved)


def connected_route() -> str:
    """A connection stored as the callback would store it; its webhook route token."""
    from servicem8_connector import runtime
    from servicem8_connector.connections import (
        Connection,
        ConnectionSecrets,
        ConnectionStatus,
        new_connection_id,
        new_route_token,
    )

    store, token, connection_id = runtime.connection_store(), new_route_token(), \
        new_connection_id()
    unused = "never-sent-anywhere"  # the receiver reads only the route; no token is used
    secrets = ConnectionSecrets(access_token=unused, refresh_token=unused, route_token=token)
    now = time.time()
    store.create(Connection(connection_id=connection_id, status=ConnectionStatus.ACTIVE,
                            account_uuid="bench-account", created_at=now,
                            access_expires_at=now + 3600, refreshed_at=now,
                            sealed_secrets=store.seal(connection_id, secrets)), token)
    return token


class Context:
    """What Powertools reads from Lambda's context object."""

    function_name = "bench-receiver"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-receiver"
    memory_limit_in_mb = 256
    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/bench-receiver"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 8000


def measure_in_memory(runs: int = 3, calls: int = 200) -> list[Figure]:
    samples: list[float] = []
    with aws_in_memory():
        event = event_for(connected_route())
        spec = importlib.util.spec_from_file_location("bench_receiver_app", RECEIVER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        context = Context()

        def receive() -> None:
            answer = module.lambda_handler(copy.deepcopy(event), context)
            assert answer["statusCode"] == 200, answer

        timed(receive, 20)
        for _ in range(runs):
            samples += timed(receive, calls)
    whole = Figure.of("receiver, warm, in-process, AWS in memory", "ms", samples,
                      target=f"p99 < {TARGET_P99_MS:.0f} ms")
    return [replace(whole, met=whole.p99 < TARGET_P99_MS)]


def measure(runs: int = 3, calls: int = 200) -> list[Figure]:
    from servicem8_connector import runtime

    with LocalEnvironment(chaos_options()) as env:
        assert env.stack is not None
        account = connect_account(env, "receiver bench", event_webhooks=True)
        env.drain()
        stop_processing(env)
        token = account.callback_url.rsplit("/", 1)[-1]
        event = event_for(token)
        stack = env.stack

        def receive() -> None:
            answer = stack.invoke("ReceiverFunction", copy.deepcopy(event))
            assert answer["statusCode"] == 200, answer

        store, sqs = runtime.connection_store(), runtime.aws("sqs")
        queue_url = runtime.settings().delivery_queue_url

        def bare_calls() -> None:
            store.connection_for_route(token)
            sqs.send_message(QueueUrl=queue_url, MessageBody=event["body"])

        timed(receive, 20)  # warm: imported, clients built, connections open
        timed(bare_calls, 20)
        handler: list[float] = []
        bare: list[float] = []
        ratios: list[float] = []
        for _ in range(runs):
            run_handler, run_bare = timed(receive, calls), timed(bare_calls, calls)
            handler += run_handler
            bare += run_bare
            ratios.append(_median(run_handler) / _median(run_bare))
    return [
        Figure.of("receiver, warm, in-process, AWS on the local stack (loopback)", "ms",
                  handler),
        Figure.of("its two AWS calls alone (route read + SQS send)", "ms", bare),
        Figure.of("receiver / its AWS calls (median per run)", "x", ratios),
    ]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
