"""The processor under injected faults, step by step, on moto: no trigger lost, none twice.

Each test kills or fails the processor at one point of its path (claim, PutEvents,
mark, snapshot) and then replays what SQS would: the same delivery after the
visibility timeout, and ServiceM8's duplicate of it in between.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from servicem8_connector.connections import Connection, ConnectionStatus
from servicem8_connector.processor import DeliveryProcessor, QueuedDelivery
from servicem8_connector.publishing import EventPublisher, PublishError, TriggerEvent
from servicem8_connector.staging import ClaimHeld
from servicem8_connector.subscriptions import ALL_TRIGGERS
from servicem8_connector.triggers import DedupeStore, SnapshotStore
from servicem8_connector.triggers.state import STALE_CLAIM_SECONDS
from tests.chaos.conftest import Clock

CONNECTION_ID = "con_chaos"
ACCOUNT = "3e5a7c9d-1b2f-4e4a-9c6d-8f0a2b4c6e81"
JOB = "0686ce69-4a5d-4f73-ad56-827ffaaced2b"
COMPLETED_JOB = {
    "uuid": JOB, "active": 1, "status": "Completed", "queue_uuid": "",
    "edit_date": "2026-03-03 11:40:27", "completion_date": "2026-03-03 11:40:27",
}


class Crash(Exception):
    """The processor's execution environment died here (injected)."""


class Connections:
    def __init__(self) -> None:
        self.connection = Connection(
            connection_id=CONNECTION_ID, status=ConnectionStatus.ACTIVE, account_uuid=ACCOUNT,
            created_at=0.0, access_expires_at=0.0, refreshed_at=0.0, sealed_secrets="-",
            triggers=ALL_TRIGGERS,
        )

    def get(self, connection_id: str) -> Connection | None:
        return self.connection if connection_id == CONNECTION_ID else None


class Bus:
    """PutEvents that keeps what it accepted; ``reject`` entries fail with FailedEntryCount."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.reject = 0
        self.calls = 0

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        results = []
        for entry in kwargs["Entries"]:
            if self.reject:
                self.reject -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                self.accepted.append(json.loads(entry["Detail"]))
                results.append({"EventId": f"evt-{len(self.accepted)}"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def keys(self) -> list[str]:
        return [detail["idempotency_key"] for detail in self.accepted]


class Publisher(EventPublisher):
    """The real publisher, which can be told to die before its next PutEvents."""

    crash_next = False

    def publish(self, events: Any) -> Any:
        if self.crash_next:
            self.crash_next = False
            raise Crash("before PutEvents")
        return super().publish(events)


class ServiceM8:
    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.gets = 0

    def get(self, object_name: str, uuid: str) -> dict[str, Any]:
        self.gets += 1
        return dict(self.records[uuid])


class Rig:
    def __init__(self, table: tuple[Any, str], clock: Clock) -> None:
        client, name = table
        self.clock = clock
        self.bus = Bus()
        self.publisher = Publisher(self.bus, "bus", sleep=lambda _: None)
        self.dedupe = DedupeStore(client, name, now=clock)
        self.snapshots = SnapshotStore(client, name, now=clock)
        self.servicem8 = ServiceM8({JOB: COMPLETED_JOB})
        self.processor = DeliveryProcessor(
            connections=Connections(),  # type: ignore[arg-type]
            snapshots=self.snapshots, dedupe=self.dedupe, publisher=self.publisher,
            servicem8_for=lambda _: self.servicem8,  # type: ignore[arg-type,return-value]
            dynamodb=client, table=name, now=clock,
        )

    def process(self, body: dict[str, Any]) -> Any:
        message = QueuedDelivery(connection_id=CONNECTION_ID, received_at=self.clock(),
                                 content_type="application/json", body=json.dumps(body))
        return self.processor.process(message)


def completed_event() -> dict[str, Any]:
    return {"id": "smwe_1", "type": "job.completed", "data": dict(COMPLETED_JOB)}


def object_delivery(time: str) -> dict[str, Any]:
    return {"object": "job", "entry": [{"uuid": JOB, "changed_fields": ["status"], "time": time}]}


@pytest.fixture
def rig(table: tuple[Any, str], clock: Clock) -> Rig:
    return Rig(table, clock)


def test_duplicate_arriving_while_a_crashed_claim_is_pending_does_not_lose_the_trigger(
    rig: Rig,
) -> None:
    rig.publisher.crash_next = True
    with pytest.raises(Crash):
        rig.process(completed_event())  # claimed, then died before PutEvents

    # ServiceM8's duplicate of the delivery comes first, while the claim is still pending:
    # it must not store the snapshot past the unpublished edge.
    with pytest.raises(ClaimHeld):
        rig.process(completed_event())

    rig.clock.advance(STALE_CLAIM_SECONDS + 1)  # SQS brings both back
    assert rig.process(completed_event()).published == 1
    assert rig.process(completed_event()).published == 0
    assert rig.bus.keys() == [f"{CONNECTION_ID}:job_completed:{JOB}:2026-03-03 11:40:27"]


def test_crash_after_putevents_before_the_mark_publishes_once(rig: Rig) -> None:
    def die(connection_id: str, key: str) -> None:
        raise Crash("after PutEvents, before the claim is marked published")

    mark = rig.dedupe.mark_published
    rig.dedupe.mark_published = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        rig.process(completed_event())
    rig.dedupe.mark_published = mark  # type: ignore[method-assign]

    rig.clock.advance(1)  # a quick retry finds the claim pending: held, not published again
    with pytest.raises(ClaimHeld):
        rig.process(completed_event())
    assert len(rig.bus.accepted) == 1


def test_crash_before_the_snapshot_is_stored_retries_without_a_duplicate(rig: Rig) -> None:
    put = rig.snapshots.put

    def die(*args: Any) -> bool:
        raise Crash("before the snapshot write")

    rig.snapshots.put = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        rig.process(completed_event())
    rig.snapshots.put = put  # type: ignore[method-assign]

    outcome = rig.process(completed_event())
    assert (outcome.published, outcome.duplicates) == (0, 1)
    assert len(rig.bus.accepted) == 1


def test_rejected_entries_are_retried_by_the_publisher_and_then_by_the_queue(rig: Rig) -> None:
    rig.bus.reject = 1  # the first PutEvents rejects the entry; the publisher's retry places it
    assert rig.process(completed_event()).published == 1
    assert rig.bus.calls == 2

    rig.bus.accepted.clear()
    rig.bus.reject = 4  # rejected on all four tries: the claim is released for the queue's retry
    other = {**completed_event(), "id": "smwe_2",
             "data": {**COMPLETED_JOB, "completion_date": "2026-03-04 09:00:00"}}
    with pytest.raises(PublishError):
        rig.process(other)
    assert rig.process(other).published == 1
    assert len(rig.bus.accepted) == 1


def test_notifications_older_than_a_finished_fetch_coalesce_into_it(rig: Rig) -> None:
    rig.clock.now = 1_775_000_100.0  # 2026-03-31 23:35:00 UTC
    first = rig.process(object_delivery("2026-03-31 23:34:40"))
    assert (first.fetches, first.published) == (1, 1)

    # Made before that fetch (by more than the margin): the fetch already saw them.
    again = rig.process(object_delivery("2026-03-31 23:34:50"))
    assert (again.fetches, again.coalesced, again.published) == (0, 1, 0)

    # A change close to or after the fetch may not be in it: fetched again.
    later = rig.process(object_delivery("2026-03-31 23:34:58"))
    assert later.fetches == 1
    assert rig.servicem8.gets == 2


def test_a_fetch_whose_processing_died_covers_nothing(rig: Rig) -> None:
    rig.clock.now = 1_775_000_100.0
    rig.publisher.crash_next = True
    with pytest.raises(Crash):
        rig.process(object_delivery("2026-03-31 23:34:40"))
    rig.clock.advance(STALE_CLAIM_SECONDS + 1)
    retry = rig.process(object_delivery("2026-03-31 23:34:40"))
    assert (retry.fetches, retry.published) == (1, 1)


def test_events_carry_their_own_data_and_never_fetch(rig: Rig) -> None:
    outcome = rig.process(completed_event())
    assert (outcome.fetches, outcome.published) == (0, 1)
    assert TriggerEvent.model_validate(rig.bus.accepted[0]).record_uuid == JOB
