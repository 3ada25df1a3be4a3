"""Contract tests: events built by the classifier match schemas/events/*.v1.json."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from triggers_testkit import (
    ACCOUNT_UUID,
    CONNECTION_ID,
    SCHEMAS,
    completed_job,
    delivery_json,
    job,
    queued_job,
)

from servicem8_connector.publishing import TriggerEvent
from servicem8_connector.triggers import Trigger, classify, object_for_event, snapshot_of

PASS_THROUGH_SCHEMA = "servicem8-event"


def slug(detail_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-")


def schema_for(detail_type: str) -> dict[str, Any]:
    name = (
        slug(detail_type)
        if detail_type in {t.detail_type for t in Trigger}
        else (PASS_THROUGH_SCHEMA)
    )
    schema = json.loads((SCHEMAS / f"{name}.v1.json").read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def validate(event: TriggerEvent) -> None:
    schema = schema_for(event.detail_type)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(
        event.model_dump(mode="json", by_alias=True)
    )


def events_from_delivery(fixture: str) -> list[TriggerEvent]:
    """Classify an event-webhook fixture as the processor would, with no snapshot."""
    body = delivery_json(fixture)
    occurrences = classify(
        object_name=object_for_event(body["type"]),
        record=body["data"],
        previous=None,
        event_type=body["type"],
        occurred_at=datetime.fromisoformat(body["createdAt"]),
        delivery_id=body["id"],
    )
    return [
        TriggerEvent.from_occurrence(
            o, connection_id=CONNECTION_ID, account_uuid=ACCOUNT_UUID, delivery_id=body["id"]
        )
        for o in occurrences
    ]


@pytest.mark.parametrize("trigger", list(Trigger), ids=str)
def test_every_trigger_has_a_schema_file_naming_its_detail_type(trigger: Trigger) -> None:
    path = SCHEMAS / f"{slug(trigger.detail_type)}.v1.json"

    schema = json.loads(path.read_text(encoding="utf-8"))

    Draft202012Validator.check_schema(schema)
    assert schema["x-detail-type"] == trigger.detail_type
    assert schema["properties"]["trigger"]["const"] == trigger.value
    assert schema["$id"].endswith(path.name)


def test_pass_through_schema_file_is_valid() -> None:
    schema = json.loads((SCHEMAS / f"{PASS_THROUGH_SCHEMA}.v1.json").read_text("utf-8"))

    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("fixture", "detail_types"),
    [
        ("event-job-created.json", ["New Job"]),
        ("event-job-completed.json", ["Job Completed"]),
        ("event-job-queued.json", ["Job Queued"]),
        ("event-company-created.json", ["New Client"]),
        ("event-form-response-created.json", ["New Form Response"]),
        ("event-job-updated.json", ["ServiceM8 job.updated"]),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_contract_event_from_fixture_matches_its_schema(
    fixture: str, detail_types: list[str]
) -> None:
    events = events_from_delivery(fixture)

    assert [e.detail_type for e in events] == detail_types
    for event in events:
        validate(event)


def build(record: dict[str, Any], previous: dict[str, Any] | None) -> TriggerEvent:
    (occurrence,) = classify(object_name="job", record=record, previous=previous, event_type=None)
    return TriggerEvent.from_occurrence(occurrence, connection_id=CONNECTION_ID, account_uuid=None)


@pytest.mark.parametrize(
    ("record", "previous"),
    [
        (completed_job(), snapshot_of("job", job())),
        (queued_job(), snapshot_of("job", job())),
        (job(), None),
    ],
    ids=["job-completed", "job-queued", "new-job"],
)
def test_contract_event_from_snapshot_edge_matches_its_schema(
    record: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    validate(build(record, previous))


def test_contract_truncated_event_still_matches_its_schema() -> None:
    validate(build(completed_job(), snapshot_of("job", job())).truncated())


def test_contract_job_completed_without_status_change_is_rejected() -> None:
    event = build(completed_job(), snapshot_of("job", job()))
    detail = event.model_dump(mode="json", by_alias=True)
    del detail["changes"]["status"]

    validator = Draft202012Validator(schema_for("Job Completed"))

    assert not validator.is_valid(detail)


def test_contract_detail_keys_are_exactly_the_schema_properties() -> None:
    detail = build(job(), None).model_dump(mode="json", by_alias=True)

    assert set(detail) == set(schema_for("New Job")["properties"])
