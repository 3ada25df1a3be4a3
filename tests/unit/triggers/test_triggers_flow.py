"""The processor's path end to end on moto: parse, fetch back, classify, claim, snapshot.

``process`` below is the wiring the processor Lambda is expected to do; these tests
hold the pieces to the behaviour PROBLEMS.md cases 7 and 8 ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triggers_testkit import CONNECTION_ID, JOB_UUID, Clock, delivery_text, job

from servicem8_connector.triggers import (
    AddonDelivery,
    DedupeStore,
    EventDelivery,
    ObjectDelivery,
    Occurrence,
    SnapshotStore,
    Unrecognised,
    classify,
    object_for_event,
    parse_delivery,
    snapshot_of,
)

CASE8_CLIENT = "ffffffff-0000-4000-8000-000000000006"


def process(
    body: str,
    records: Mapping[str, dict[str, Any]],
    snapshots: SnapshotStore,
    dedupe: DedupeStore,
    object_hint: str = "company",
) -> list[Occurrence]:
    """Occurrences this delivery may publish (claims won), storing snapshots after."""
    delivery = parse_delivery(body, "application/json")
    work: list[tuple[str, dict[str, Any], str | None, list[str] | None]] = []
    if isinstance(delivery, EventDelivery) and delivery.data is not None:
        work.append((object_for_event(delivery.type), delivery.data, delivery.type, None))
    elif isinstance(delivery, ObjectDelivery | AddonDelivery):
        name = delivery.object or object_hint  # the add-on envelope may not say
        for entry in delivery.entries:
            work.append((name, records[entry.uuid], None, entry.changed_fields))
    won = []
    for name, record, event_type, changed in work:
        uuid = record["uuid"]
        previous = snapshots.get(CONNECTION_ID, name, uuid)
        for occurrence in classify(
            object_name=name,
            record=record,
            previous=previous,
            event_type=event_type,
            changed_fields=changed,
        ):
            if dedupe.claim(CONNECTION_ID, occurrence.dedupe_key):
                dedupe.mark_published(CONNECTION_ID, occurrence.dedupe_key)
                won.append(occurrence)
        snapshots.put(CONNECTION_ID, name, uuid, snapshot_of(name, record))
    return won


def stores(table: tuple[Any, str], clock: Clock) -> tuple[SnapshotStore, DedupeStore]:
    return SnapshotStore(*table, now=clock), DedupeStore(*table, now=clock)


def test_problem8_three_shapes_of_one_new_client_publish_once(
    table: tuple[Any, str], clock: Clock
) -> None:
    snapshots, dedupe = stores(table, clock)
    fetched = {CASE8_CLIENT: {"uuid": CASE8_CLIENT, "name": "Test Client", "active": 1}}
    published = []

    for fixture in (
        "case8-object-company.json",
        "case8-event-company-created.json",
        "case8-addon-company.json",
    ):
        published += process(delivery_text(fixture), fetched, snapshots, dedupe)
    hello = parse_delivery(delivery_text("unrecognised-hello-world.json"), "application/json")

    assert [o.dedupe_key for o in published] == [f"new_client:{CASE8_CLIENT}"]
    assert isinstance(hello, Unrecognised)


def test_problem8_addon_shape_alone_still_means_new_client(
    table: tuple[Any, str], clock: Clock
) -> None:
    snapshots, dedupe = stores(table, clock)
    fetched = {CASE8_CLIENT: {"uuid": CASE8_CLIENT, "name": "Test Client", "active": 1}}

    published = process(delivery_text("case8-addon-company.json"), fetched, snapshots, dedupe)

    assert [o.trigger for o in published] == ["new_client"]


def test_multi_entry_object_delivery_classifies_every_entry(
    table: tuple[Any, str], clock: Clock
) -> None:
    snapshots, dedupe = stores(table, clock)
    queued_uuid = "7f2e4a9c-3b1d-4e6f-a8c5-9d2b7e1f4a36"
    created_uuid = "c8d1f5a3-6e9b-4a2c-b7d4-1e8f3a6c9b52"
    snapshots.put(CONNECTION_ID, "job", JOB_UUID, snapshot_of("job", job()))
    snapshots.put(CONNECTION_ID, "job", queued_uuid, snapshot_of("job", job(uuid=queued_uuid)))
    fetched = {
        JOB_UUID: job(
            status="Completed",
            completion_date="2026-03-03 11:40:27",
            edit_date="2026-03-03 11:40:27",
        ),
        queued_uuid: job(
            uuid=queued_uuid,
            queue_uuid="b2f7c9d1-6e4a-4f3b-8a2c-5d9e1f7a3c60",
            edit_date="2026-03-03 11:41:02",
        ),
        created_uuid: job(uuid=created_uuid, status="Quote"),
    }

    published = process(delivery_text("object-job-three-entries.json"), fetched, snapshots, dedupe)

    assert [(o.record_uuid, o.trigger) for o in published] == [
        (JOB_UUID, "job_completed"),
        (queued_uuid, "job_queued"),
        (created_uuid, "new_job"),
    ]


def test_problem7_status_change_after_subscription_union_fires_job_completed_once(
    table: tuple[Any, str], clock: Clock
) -> None:
    snapshots, dedupe = stores(table, clock)
    snapshots.put(CONNECTION_ID, "job", JOB_UUID, snapshot_of("job", job()))
    done = job(
        status="Completed", completion_date="2026-03-03 11:40:27", edit_date="2026-03-03 11:40:27"
    )
    body = delivery_text("object-job-status-changed.json")

    first = process(body, {JOB_UUID: done}, snapshots, dedupe, "job")
    redelivered = process(body, {JOB_UUID: done}, snapshots, dedupe, "job")
    as_event = process(delivery_text("event-job-completed.json"), {}, snapshots, dedupe)

    assert [o.trigger for o in first] == ["job_completed"]
    assert redelivered == []
    assert as_event == []
