"""`make chaos` in a small size, on the local stack: the run, the redrive, the replay.

One stack for the module (about 30 s in all). The full sizes run in ``make chaos``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bench.ratebudget import LoadPlan
from bench.ratebudget import run as run_load
from local import chaos
from local.environment import LocalEnvironment
from tests.support import log_audit

SMALL = chaos.ChaosPlan(
    jobs=3, clients=2, crash_rate=0.35, putevents_failure_rate=0.3,
    servicem8_failure_rate=0.15, duplicate_share=0.3,
    visibility_timeout=2, stale_claim_seconds=1.0, phase_timeout=60,
)


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(chaos.chaos_options()) as started:
        yield started


def remember(accounts: list[chaos.Account]) -> None:
    """Hand the suite's log audit every secret these accounts were given."""
    for account in accounts:
        log_audit.remember(account.connected.api_key)
        log_audit.remember(account.connected.claim)
        log_audit.remember(account.callback_url.rsplit("/", 1)[-1])


def test_transient_faults_lose_nothing_and_publish_nothing_twice(env: LocalEnvironment) -> None:
    report = chaos.run(env, SMALL)
    remember(report.accounts)

    assert report.ok, "\n".join(report.lines())
    faults = report.faults
    assert sum(faults.crashes.values()) + faults.rejected_entries + faults.throttled_calls > 0
    assert sum(t.received for t in report.tallies) > sum(t.expected for t in report.tallies)


def test_changes_faster_than_their_notifications_lose_nothing(env: LocalEnvironment) -> None:
    # Each job is created, queued and completed at once: fetches and event data show later
    # states than the notification being processed, and deliveries come reordered.
    report = chaos.run(env, replace(SMALL, interleaved=True, seed=11))
    remember(report.accounts)

    assert report.ok, "\n".join(report.lines())


def test_a_burst_keeps_to_the_budget_and_spares_the_other_account(
    env: LocalEnvironment,
) -> None:
    plan = LoadPlan(jobs=10, notifications_per_job=4, burst_seconds=1.5, quiet_jobs=2,
                    timeout=60)
    report = run_load(env, plan)

    assert report.ok, "\n".join(report.lines())
    assert report.deliveries == plan.jobs * plan.notifications_per_job
    # Coalescing needs the processor to lag the changes by more than its margin (6 s),
    # which this size does not reach: test_processor_faults.py and `make chaos` show it.


def test_deliveries_in_the_dlq_are_published_once_after_a_redrive(
    env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from servicem8_connector import runtime

    assert env.stack is not None and env.emulator is not None
    account = chaos.connect_account(env, "dead letters", event_webhooks=True)
    remember([account])
    env.drain()
    sqs = env.stack.client("sqs")
    sqs.set_queue_attributes(QueueUrl=env.stack.physical_id("DeliveryQueue"),
                             Attributes={"VisibilityTimeout": "1"})
    processor = chaos.processor_module(env) and runtime.processor()

    def broken(*args: Any) -> Any:
        raise RuntimeError("processor broken until the fix is deployed")

    monkeypatch.setattr(processor, "stage", broken)
    jobs = [env.emulator.put_record(account.account_uuid, "job", {"status": "Quote"})["uuid"]
            for _ in range(3)]
    env.emulator.wait_for_deliveries(timeout=10)
    deadline = time.monotonic() + 30
    while chaos.queue_depth(env, "DeliveryDLQ") < 3 and time.monotonic() < deadline:
        time.sleep(0.2)  # five failed receives each, then SQS moves them to the DLQ
    assert chaos.queue_depth(env, "DeliveryDLQ") == 3

    monkeypatch.undo()  # the fix
    assert chaos.redrive_dead_letters(env) == 3
    env.drain(timeout=30)

    events = subscriber_events(env, account)
    assert Counter(e["detail"]["record_uuid"] for e in events) == Counter(jobs)
    assert chaos.queue_depth(env, "DeliveryDLQ") == 0


def test_an_archive_replay_resends_events_with_their_idempotency_keys(
    env: LocalEnvironment,
) -> None:
    assert env.emulator is not None
    account = chaos.connect_account(env, "replay", event_webhooks=True)
    remember([account])
    env.drain()
    since = time.time() - 1
    env.emulator.put_record(account.account_uuid, "company", {"name": "Replayed"})
    env.drain()
    first = subscriber_events(env, account)
    assert len(first) == 1

    assert chaos.replay_archive(env, since, time.time() + 1, "chaos-test-replay")
    again = subscriber_events(env, account)
    keys = [e["detail"]["idempotency_key"] for e in again]
    assert keys and set(keys) == {first[0]["detail"]["idempotency_key"]}


def subscriber_events(env: LocalEnvironment, account: chaos.Account) -> list[dict[str, Any]]:
    return [e for e in chaos.read_queue(env, "SubscriberQueue")
            if e["detail"].get("connection_id") == account.connected.connection_id]


def test_a_delivery_is_not_started_without_time_to_finish_it(env: LocalEnvironment) -> None:
    from servicem8_connector import runtime

    module = chaos.processor_module(env)

    class Context:
        def __init__(self, seconds_left: float) -> None:
            self.seconds_left = seconds_left

        def get_remaining_time_in_millis(self) -> int:
            return int(self.seconds_left * 1000)

    body = json.dumps({"connection_id": "con_none", "received_at": 0.0, "body": "{}"})
    record = SQSRecord({"messageId": "m-late", "body": body})
    deliveries, messages = runtime.processor().batch(), {}
    late = Context(module.SECONDS_TO_START_A_DELIVERY - 1)
    with pytest.raises(module.OutOfTime):
        module.stager(deliveries, messages, late)(record)
    assert messages == {}

    module.stager(deliveries, messages, Context(29))(record)
    assert deliveries.finish().outcomes["m-late"].dropped == "connection-gone"
