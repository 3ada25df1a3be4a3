"""A batch of deliveries published together: fewer PutEvents calls, the same guarantees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from servicem8_connector.processor import QueuedDelivery
from servicem8_connector.publishing import PublishError
from servicem8_connector.staging import BatchResult, ClaimHeld, DependencyFailed
from servicem8_connector.triggers.state import STALE_CLAIM_SECONDS, StateUnavailable
from tests.chaos.conftest import Clock
from tests.chaos.test_processor_faults import (
    COMPLETED_JOB,
    CONNECTION_ID,
    JOB,
    Bus,
    Rig,
    completed_event,
)


@pytest.fixture
def rig(table: tuple[Any, str], clock: Clock) -> Rig:
    return Rig(table, clock)


class PickyBus(Bus):
    """Rejects, on every try, the entries whose idempotency key it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        results = []
        for entry in kwargs["Entries"]:
            detail = json.loads(entry["Detail"])
            if detail["idempotency_key"] in self.refuse:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                self.accepted.append(detail)
                results.append({"EventId": f"evt-{len(self.accepted)}"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}


def completed(job: str, day: int = 3) -> dict[str, Any]:
    record = {**COMPLETED_JOB, "uuid": job, "completion_date": f"2026-03-0{day} 11:40:27"}
    return {"id": f"smwe_{job[:8]}_{day}", "type": "job.completed", "data": record}


def key_of(body: dict[str, Any]) -> str:
    record = body["data"]
    return f"{CONNECTION_ID}:job_completed:{record['uuid']}:{record['completion_date']}"


def run_batch(rig: Rig, bodies: list[dict[str, Any]]) -> BatchResult:
    """What the processor handler does with one SQS batch, without Lambda around it."""
    batch = rig.processor.batch()
    for index, body in enumerate(bodies):
        message = QueuedDelivery(connection_id=CONNECTION_ID, received_at=rig.clock(),
                                 content_type="application/json", body=json.dumps(body))
        try:
            rig.processor.stage(batch, f"m{index}", message)
        except Exception:  # noqa: S110 - the batch reports it; asserted below
            pass
    return batch.finish()


def picky(rig: Rig) -> PickyBus:
    bus = PickyBus()
    rig.bus = bus
    rig.publisher._client = bus
    return bus


def test_ten_deliveries_take_one_putevents_call(rig: Rig) -> None:
    jobs = [f"{index:08d}-4a5d-4f73-ad56-827ffaaced2b" for index in range(10)]
    result = run_batch(rig, [completed(job) for job in jobs])
    assert result.failures == {}
    assert (rig.bus.calls, result.put_events_calls, len(rig.bus.accepted)) == (1, 1, 10)
    assert sum(outcome.published for outcome in result.outcomes.values()) == 10


def test_a_rejected_event_fails_its_own_delivery_only(rig: Rig) -> None:
    bus = picky(rig)
    bodies = [completed(f"{index:08d}-4a5d-4f73-ad56-827ffaaced2b") for index in range(3)]
    bus.refuse = {key_of(bodies[1])}
    result = run_batch(rig, bodies)
    assert set(result.failures) == {"m1"}
    assert isinstance(result.failures["m1"], PublishError)
    assert [o.published for o in result.outcomes.values()] == [1, 0, 1]

    bus.refuse.clear()  # SQS brings m1 back alone
    again = run_batch(rig, [bodies[1]])
    assert again.failures == {} and again.outcomes["m0"].published == 1
    assert sorted(d["idempotency_key"] for d in bus.accepted) == sorted(map(key_of, bodies))


def test_two_deliveries_of_one_record_classify_as_if_in_turn(rig: Rig) -> None:
    result = run_batch(rig, [completed_event(), completed_event()])
    assert result.failures == {}
    assert [o.published for o in result.outcomes.values()] == [1, 0]
    assert len(rig.bus.accepted) == 1


def test_a_later_delivery_fails_with_the_earlier_one_it_was_classified_after(rig: Rig) -> None:
    bus = picky(rig)
    first, second = completed(JOB, day=3), completed(JOB, day=4)
    bus.refuse = {key_of(first)}
    result = run_batch(rig, [first, second])
    # The second was classified against the first's snapshot: storing its own would move
    # past the first's edge, which never went out.
    assert isinstance(result.failures["m0"], PublishError)
    assert isinstance(result.failures["m1"], DependencyFailed)
    assert rig.snapshots.get(CONNECTION_ID, "job", JOB) is None

    bus.refuse.clear()
    retried = run_batch(rig, [first, second])
    assert retried.failures == {}
    assert sorted(d["idempotency_key"] for d in bus.accepted) == \
        sorted([key_of(first), key_of(second)])


Q1 = "11111111-2222-4333-8444-555555555555"
QUEUED_NEW_JOB = {"uuid": JOB, "active": 1, "status": "Work Order", "queue_uuid": Q1,
                  "queue_expiry_date": "2026-04-02 09:00:00", "edit_date": "2026-03-31 23:34:45",
                  "completion_date": ""}


def notice(fields: list[str], time: str) -> dict[str, Any]:
    return {"object": "job", "entry": [{"uuid": JOB, "changed_fields": fields, "time": time}]}


def triggers_published(bus: Bus) -> list[str]:
    return sorted(detail["trigger"] for detail in bus.accepted)


def test_a_notification_delivered_again_after_a_later_edit_publishes_nothing_new(
    rig: Rig,
) -> None:
    rig.servicem8.records[JOB] = dict(QUEUED_NEW_JOB)
    rig.clock.now = 1_775_000_100.0  # 2026-03-31 23:35:00 UTC
    queued = notice(["queue_uuid", "queue_expiry_date"], "2026-03-31 23:34:45")
    assert run_batch(rig, [queued]).failures == {}
    # The expiry moves: a new state of the same queueing, no new edge.
    rig.servicem8.records[JOB] = {**QUEUED_NEW_JOB, "queue_expiry_date": "2026-04-03 09:00:00",
                                  "edit_date": "2026-03-31 23:35:10"}
    rig.clock.advance(30)
    assert run_batch(rig, [notice(["queue_expiry_date"], "2026-03-31 23:35:10")]).failures == {}
    rig.clock.advance(60)  # SQS, or ServiceM8, delivers the first notification again
    assert run_batch(rig, [queued]).failures == {}
    assert triggers_published(rig.bus) == ["job_queued"]


def test_a_notification_covered_by_a_fetch_whose_delivery_failed_is_not_dropped(
    rig: Rig,
) -> None:
    rig.servicem8.records[JOB] = dict(QUEUED_NEW_JOB)
    rig.clock.now = 1_775_000_100.0
    created = notice(["uuid", "active", "status", "edit_date"], "2026-03-31 23:34:30")
    queued = notice(["queue_uuid"], "2026-03-31 23:34:40")
    # A crashed attempt holds the Job Queued claim: the queue notice fails after its fetch.
    held = f"job_queued:{JOB}:{Q1}:2026-04-02 09:00:00"
    assert rig.dedupe.claim(CONNECTION_ID, held)

    first = run_batch(rig, [queued, created])
    assert isinstance(first.failures["m0"], ClaimHeld)
    assert "m1" in first.failures  # not coalesced into the failed fetch: retried too

    rig.clock.advance(STALE_CLAIM_SECONDS + 1)  # SQS brings both back
    assert run_batch(rig, [queued, created]).failures == {}
    assert triggers_published(rig.bus) == ["job_queued", "new_job"]


def test_a_covered_notice_is_read_against_the_snapshot_and_says_so(rig: Rig) -> None:
    rig.servicem8.records[JOB] = {**QUEUED_NEW_JOB, "status": "Completed",
                                  "completion_date": "2026-03-31 23:34:45"}
    rig.clock.now = 1_775_000_100.0  # 23:35:00; the fetch below sees queue and completion
    assert run_batch(rig, [notice(["status"], "2026-03-31 23:34:45")]).failures == {}
    assert triggers_published(rig.bus) == ["job_completed"]

    # The queue notice, older than that fetch, arrives late: no second fetch, and its own
    # word (queue_uuid changed) is read against the stored snapshot.
    late = run_batch(rig, [notice(["queue_uuid"], "2026-03-31 23:34:40")])
    assert late.failures == {}
    assert (late.outcomes["m0"].fetches, late.outcomes["m0"].coalesced) == (0, 1)
    assert triggers_published(rig.bus) == ["job_completed", "job_queued"]
    queued = next(d for d in rig.bus.accepted if d["trigger"] == "job_queued")
    assert queued["record_truncated"] is True
    assert set(queued["record"]) <= {"uuid", "active", "status", "completion_date",
                                     "queue_uuid", "queue_expiry_date", "edit_date"}


def test_each_claim_settles_on_its_own_when_one_mark_fails(rig: Rig) -> None:
    rig.servicem8.records[JOB] = {**QUEUED_NEW_JOB, "status": "Completed",
                                  "completion_date": "2026-03-31 23:34:45"}
    rig.clock.now = 1_775_000_100.0
    mark = rig.dedupe.mark_published
    marked: list[str] = []

    def first_fails(connection_id: str, key: str) -> None:
        if not marked:
            marked.append("failed")
            raise StateUnavailable("dedupe mark failed")
        marked.append(key)
        mark(connection_id, key)

    rig.dedupe.mark_published = first_fails  # type: ignore[method-assign]
    result = run_batch(rig, [notice(["status", "queue_uuid"], "2026-03-31 23:34:45")])
    assert isinstance(result.failures["m0"], StateUnavailable)  # retried; snapshot not stored
    assert len(rig.bus.accepted) == 2 and len(marked) == 2  # the second claim still marked
    assert rig.snapshots.get(CONNECTION_ID, "job", JOB) is None
