"""Shared test data for the trigger tests: delivery fixtures and record builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DELIVERIES = REPO / "events" / "deliveries"
SCHEMAS = REPO / "schemas" / "events"

JOB_UUID = "0686ce69-4a5d-4f73-ad56-827ffaaced2b"
COMPANY_UUID = "4c1d6a2e-7b3f-4e0a-9d51-2a8f3c6e1b74"
FORM_RESPONSE_UUID = "f3c9a1e5-8d2b-4c7f-9e6a-1b5d3f7c9a28"
QUEUE_WORKSHOP = "b2f7c9d1-6e4a-4f3b-8a2c-5d9e1f7a3c60"
QUEUE_PARTS = "5e8a1c3f-2d7b-4b9e-a6c4-0f3d8b2e7a19"
CONNECTION_ID = "conn_tnt_alpha"
ACCOUNT_UUID = "3e5a7c9d-1b2f-4e4a-9c6d-8f0a2b4c6e81"


def delivery_text(name: str) -> str:
    """The raw body of ``events/deliveries/<name>``, as the receiver would get it."""
    return (DELIVERIES / name).read_text(encoding="utf-8")


def delivery_json(name: str) -> dict[str, Any]:
    body = json.loads(delivery_text(name))
    assert isinstance(body, dict)
    return body


def job(**fields: Any) -> dict[str, Any]:
    """A job as ``GET job/{uuid}.json`` returns it: a live work order, not queued."""
    record: dict[str, Any] = {
        "uuid": JOB_UUID,
        "active": 1,
        "status": "Work Order",
        "edit_date": "2026-03-02 14:05:11",
        "completion_date": "0000-00-00 00:00:00",
        "queue_uuid": "",
        "queue_expiry_date": "0000-00-00 00:00:00",
        "job_is_scheduled_until_stamp": "0000-00-00 00:00:00",
        "job_description": "Replace hot water system",
        "badges": "[]",
    }
    record.update(fields)
    return record


def completed_job(**fields: Any) -> dict[str, Any]:
    done = {"status": "Completed", "completion_date": "2026-03-03 11:40:27"}
    return job(**{"edit_date": "2026-03-03 11:40:27", **done, **fields})


def queued_job(queue: str = QUEUE_WORKSHOP, **fields: Any) -> dict[str, Any]:
    return job(**{"queue_uuid": queue, "queue_expiry_date": "2026-03-10 17:00:00", **fields})


def company(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": COMPANY_UUID,
        "active": 1,
        "name": "Harbourside Plumbing Pty Ltd",
        "edit_date": "2026-03-01 07:58:20",
    }
    record.update(fields)
    return record


def form_response(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": FORM_RESPONSE_UUID,
        "active": 1,
        "form_uuid": "d5a8e2c7-1f3b-4d9a-a6e4-7c2b8f1d5e93",
        "regarding_object": "job",
        "regarding_object_uuid": JOB_UUID,
        "timestamp": "2026-03-03 01:42:09",
        "edit_date": "2026-03-03 11:42:09",
    }
    record.update(fields)
    return record


class Clock:
    """A settable clock to inject as ``now``."""

    def __init__(self, start: float = 1_772_500_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
