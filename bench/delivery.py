"""From ServiceM8's send to the subscriber's queue, and what each trigger costs.

* latency: event webhooks (records in the body) sent at a steady rate; each delivery's
  send is stamped in the emulator's delivery worker, its event's arrival is the
  subscriber queue's SentTimestamp (ms), matched by the event's ``delivery_id``;
* ServiceM8 calls per published trigger, for an account on object webhooks (records
  fetched back) and one on event webhooks, from the emulator's request log;
* PutEvents calls per 100 events: the publisher given 100 events at once; the live
  processor on a burst (100 deliveries waiting in the queue, as after a spike or an
  outage), where batches of ten share their calls; and during the steady latency run,
  where a delivery rarely has company in its batch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.stats import Figure
from local.chaos import Account, connect_account, read_queue
from local.environment import LocalEnvironment

TARGET_P99_SECONDS = 1.0


class CountingEvents:
    """Counts PutEvents calls and entries on their way to the real client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self.entries = 0
        self._lock = threading.Lock()

    def put_events(self, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.entries += len(kwargs["Entries"])
        return self.client.put_events(**kwargs)


def latency(env: LocalEnvironment, deliveries: int, per_second: float) -> list[Figure]:
    """``deliveries`` new jobs at ``per_second``, each one job.created delivery with data."""
    from servicem8_connector import runtime

    assert env.emulator is not None
    account = connect_account(env, "latency bench", event_webhooks=True)
    env.drain()
    publisher = runtime.processor()._publisher
    counting = CountingEvents(publisher._client)
    publisher._client = counting
    sent: dict[str, float] = {}
    worker = env.emulator.delivery
    send = worker._send

    def stamped(client: Any, delivery: Any) -> None:
        sent.setdefault(str(delivery.body.get("id")), time.time())
        send(client, delivery)

    worker._send = stamped  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        for index in range(deliveries):
            pause = started + index / per_second - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            env.emulator.put_record(account.account_uuid, "job", {"status": "Quote"})
        env.drain(timeout=max(60.0, deliveries / per_second))
    finally:
        del worker._send
        publisher._client = counting.client
    seconds = time.monotonic() - started
    events = mine(read_queue(env, "SubscriberQueue"), account)
    waits = [e["_sent_ms"] / 1000 - sent[e["detail"]["delivery_id"]] for e in events]
    whole = Figure.of(f"delivery to subscriber, {deliveries} deliveries at {per_second:g}/s",
                      "s", waits, target=f"p99 < {TARGET_P99_SECONDS:g} s",
                      note=f"{len(events)} events in {seconds:.0f} s")
    per_hundred = 100 * counting.calls / max(1, counting.entries)
    return [
        replace(whole, met=whole.p99 < TARGET_P99_SECONDS and len(events) == deliveries),
        Figure.of(f"PutEvents calls per 100 events, live processor, steady {per_second:g}/s",
                  "", [per_hundred],
                  note="no batching window: a lone delivery is not held back for company"),
    ]


def burst_batching(env: LocalEnvironment, runs: int = 3, deliveries: int = 100) -> Figure:
    """``deliveries`` waiting in the delivery queue, then the live processor let at them."""
    from servicem8_connector import runtime

    assert env.emulator is not None and env.stack is not None
    account = connect_account(env, "burst bench", event_webhooks=True)
    env.drain()
    publisher = runtime.processor()._publisher
    per_run = []
    for _ in range(runs):
        counting = CountingEvents(publisher._client)
        publisher._client = counting
        try:
            with env.stack.paused("ProcessorFunction"):
                time.sleep(1.2)  # a receive already waiting (≤ 1 s) ends first
                for _ in range(deliveries):
                    env.emulator.put_record(account.account_uuid, "job", {"status": "Quote"})
                env.emulator.wait_for_deliveries(timeout=60)
            env.drain(timeout=60)
        finally:
            publisher._client = counting.client
        per_run.append(100 * counting.calls / max(1, counting.entries))
    events = mine(read_queue(env, "SubscriberQueue"), account)
    figure = Figure.of(f"PutEvents calls per 100 events, live processor, burst of {deliveries}",
                       "", per_run, target="10", note=f"{len(events)} events")
    return replace(figure, met=figure.p99 <= 10 and len(events) == runs * deliveries)


def mine(events: list[dict[str, Any]], account: Account) -> list[dict[str, Any]]:
    return [e for e in events
            if e["detail"].get("connection_id") == account.connected.connection_id]


def calls_per_trigger(env: LocalEnvironment, jobs: int, runs: int) -> list[Figure]:
    """Jobs created then completed, each step drained: two triggers per job."""
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for event_webhooks in (False, True):
            ratios[event_webhooks].append(_calls_per_trigger(env, jobs, event_webhooks))
    objects = Figure.of("ServiceM8 calls per published trigger, object webhooks", "",
                        ratios[False], target="<= 1")
    events = Figure.of("ServiceM8 calls per published trigger, event webhooks with data", "",
                       ratios[True], target="0")
    return [replace(objects, met=objects.p99 <= 1.0), replace(events, met=events.p99 == 0)]


def _calls_per_trigger(env: LocalEnvironment, jobs: int, event_webhooks: bool) -> float:
    assert env.emulator is not None
    emulator = env.emulator
    label = "event" if event_webhooks else "object"
    account = connect_account(env, f"{label} calls bench", event_webhooks=event_webhooks)
    env.drain()
    before = len(emulator.requests)
    uuids = [str(emulator.put_record(account.account_uuid, "job", {"status": "Quote"})["uuid"])
             for _ in range(jobs)]
    env.drain()
    for uuid in uuids:
        emulator.put_record(account.account_uuid, "job", {"uuid": uuid, "status": "Completed"})
    env.drain()
    calls = sum(1 for r in emulator.requests[before:]
                if r.get("account_uuid") == account.account_uuid
                and str(r.get("path", "")).startswith("/api_1.0/"))
    triggers = len(mine(read_queue(env, "SubscriberQueue"), account))
    assert triggers == 2 * jobs, f"{label}: {triggers} triggers for {jobs} jobs"
    return calls / triggers


def publisher_batching(env: LocalEnvironment, runs: int = 5) -> Figure:
    """The publisher given 100 events at once, against the stack's bus."""
    from servicem8_connector import runtime
    from servicem8_connector.publishing import EventPublisher, TriggerEvent

    assert env.stack is not None
    counting = CountingEvents(env.stack.client("events"))
    publisher = EventPublisher(counting, runtime.settings().event_bus_name)
    per_run = []
    for run in range(runs):
        events = [TriggerEvent(trigger="new_client", connection_id="con_bench",
                               account_uuid=None, object="company",
                               record_uuid=f"bench-{run}-{i}", record={"name": "Bench"},
                               changes={}, occurred_at=datetime.now(UTC),
                               idempotency_key=f"con_bench:new_client:bench-{run}-{i}")
                  for i in range(100)]
        per_run.append(float(publisher.publish(events).calls))
    read_queue(env, "SubscriberQueue")  # the subscriber does not keep bench events
    batching = Figure.of("PutEvents calls per 100 events, publisher", "", per_run,
                         target="10")
    return replace(batching, met=batching.p99 == 10)
