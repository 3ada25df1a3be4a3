"""classify: the five triggers fire on edges only, and other events pass through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from triggers_testkit import (
    COMPANY_UUID,
    FORM_RESPONSE_UUID,
    JOB_UUID,
    QUEUE_PARTS,
    QUEUE_WORKSHOP,
    company,
    completed_job,
    form_response,
    job,
    queued_job,
)

from servicem8_connector.triggers import Trigger, classify, detail_type_for, snapshot_of

WHEN = datetime(2026, 3, 3, 0, 40, 27, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """One record change and the triggers (or passed-through event names) it must produce."""

    id: str
    record: dict[str, Any]
    previous: dict[str, Any] | None
    expected: list[str]
    event_type: str | None = None
    changed_fields: list[str] | None = None
    object_name: str = "job"
    keys: list[str] = field(default_factory=list)


def snap(record: dict[str, Any], object_name: str = "job") -> dict[str, Any]:
    return snapshot_of(object_name, record)


NEW_JOB = [
    Case("first-sight-polling", job(), None, ["new_job"], keys=[f"new_job:{JOB_UUID}"]),
    Case("event-job-created", job(status="Quote"), None, ["new_job"], "job.created"),
    Case("event-job-created-after-snapshot", job(), snap(job()), ["new_job"], "job.created"),
    Case(
        "object-created-lists-uuid",
        job(),
        None,
        ["new_job"],
        changed_fields=["uuid", "active", "status", "edit_date"],
    ),
    Case("object-update-without-snapshot", job(), None, [], changed_fields=["status"]),
    Case("seen-before-no-event", job(job_description="New text"), snap(job()), []),
    Case("inactive-first-sight", job(active=0), None, []),
    Case("inactive-event-created", job(active="0"), None, [], "job.created"),
    Case("object-created-inactive", job(active=0), None, [], changed_fields=["uuid", "active"]),
    Case("event-updated-existing-job", job(), None, ["job.updated"], "job.updated"),
    # A creation notification processed after a later change's fetch stored the snapshot.
    Case("object-created-after-later-state-stored", job(), snap(job()), ["new_job"],
         changed_fields=["uuid", "active", "status", "edit_date"]),
    Case("object-update-after-snapshot", job(), snap(job()), [], changed_fields=["status"]),
]

# Changes made faster than their notifications are processed: a fetch (or an event's
# data) shows a later state, and the snapshot may already hold it.
OUT_OF_ORDER = [
    Case("creation-seen-completed-and-queued", completed_job(queue_uuid=QUEUE_WORKSHOP),
         None, ["new_job", "job_completed", "job_queued"],
         changed_fields=["uuid", "active", "status", "edit_date"]),
    Case("queue-notice-after-its-state-was-stored", queued_job(), snap(queued_job()),
         ["job_queued"], changed_fields=["queue_uuid"],
         keys=[f"job_queued:{JOB_UUID}:{QUEUE_WORKSHOP}:2026-03-10 17:00:00"]),
    Case("queued-event-after-a-later-state-was-stored", queued_job(),
         snap(completed_job(queue_uuid=QUEUE_WORKSHOP, queue_expiry_date="2026-03-10 17:00:00")),
         ["job_queued"], "job.queued"),
    Case("completion-notice-after-its-state-was-stored", completed_job(),
         snap(completed_job()), ["job_completed"], changed_fields=["status"]),
    Case("queue-notice-but-left-the-queue-since", job(), snap(job()), [],
         changed_fields=["queue_uuid"]),
    Case("status-notice-but-reopened-since", job(), snap(job()), [],
         changed_fields=["status"]),
]

JOB_COMPLETED = [
    Case(
        "work-order-to-completed",
        completed_job(),
        snap(job()),
        ["job_completed"],
        keys=[f"job_completed:{JOB_UUID}:2026-03-03 11:40:27"],
    ),
    Case("quote-to-completed", completed_job(), snap(job(status="Quote")), ["job_completed"]),
    Case(
        "completed-then-other-field-edited",
        completed_job(job_description="Fixed typo", edit_date="2026-03-04 09:00:00"),
        snap(completed_job()),
        [],
    ),
    # ServiceM8's word fires again; the same dedupe key makes the processor publish it once.
    Case(
        "completed-event-redelivered", completed_job(), snap(completed_job()), ["job_completed"],
        "job.completed", keys=[f"job_completed:{JOB_UUID}:2026-03-03 11:40:27"],
    ),
    Case(
        "event-completed-without-snapshot",
        completed_job(),
        None,
        ["job_completed"],
        "job.completed",
    ),
    Case(
        "event-status-changed-into-completed",
        completed_job(),
        None,
        ["job_completed", "job.status_changed"],
        "job.status_changed",
    ),
    Case(
        "event-status-changed-to-work-order",
        job(),
        None,
        ["job.status_changed"],
        "job.status_changed",
    ),
    Case(
        "object-status-changed-no-snapshot",
        completed_job(),
        None,
        ["job_completed"],
        changed_fields=["status"],
    ),
    Case(
        "object-other-field-no-snapshot",
        completed_job(),
        None,
        [],
        changed_fields=["job_description"],
    ),
    # Polling proves no creation: a completed job first seen so is new, not a completion.
    Case("polling-completed-first-sight-is-new-only", completed_job(), None, ["new_job"]),
    Case("event-completed-but-reopened-since", job(), None, [], "job.completed"),
    Case(
        "completion-date-moved-reopen-unseen",
        completed_job(completion_date="2026-03-05 10:00:00"),
        snap(completed_job()),
        ["job_completed"],
        keys=[f"job_completed:{JOB_UUID}:2026-03-05 10:00:00"],
    ),
    Case(
        "reopened-is-not-completed", job(edit_date="2026-03-04 08:00:00"), snap(completed_job()), []
    ),
    Case(
        "event-updated-carries-completion",
        completed_job(),
        snap(job()),
        ["job_completed", "job.updated"],
        "job.updated",
    ),
    Case(
        "completed-without-completion-date-keys-on-edit-date",
        completed_job(completion_date="0000-00-00 00:00:00"),
        snap(job()),
        ["job_completed"],
        keys=[f"job_completed:{JOB_UUID}:2026-03-03 11:40:27"],
    ),
]

JOB_QUEUED = [
    Case(
        "queue-set",
        queued_job(),
        snap(job()),
        ["job_queued"],
        keys=[f"job_queued:{JOB_UUID}:{QUEUE_WORKSHOP}:2026-03-10 17:00:00"],
    ),
    Case("queue-moved-to-another", queued_job(QUEUE_PARTS), snap(queued_job()), ["job_queued"]),
    Case("queue-cleared", job(), snap(queued_job()), []),
    Case(
        "queue-expiry-extended-same-queue",
        queued_job(queue_expiry_date="2026-03-17 17:00:00"),
        snap(queued_job()),
        [],
    ),
    Case(
        "scheduling-only", job(job_is_scheduled_until_stamp="2026-03-05 12:00:00"), snap(job()), []
    ),
    Case("event-queued-without-snapshot", queued_job(), None, ["job_queued"], "job.queued"),
    Case("event-queued-but-queue-empty", job(), None, [], "job.queued"),
    Case(
        "object-queue-changed-no-snapshot",
        queued_job(),
        None,
        ["job_queued"],
        changed_fields=["queue_uuid", "queue_expiry_date"],
    ),
    Case(
        "object-scheduled-no-snapshot-while-queued",
        queued_job(),
        None,
        [],
        changed_fields=["job_is_scheduled_until_stamp"],
    ),
    Case(
        "event-updated-while-staying-queued",
        queued_job(job_description="x"),
        snap(queued_job()),
        ["job.updated"],
        "job.updated",
    ),
]

NEW_CLIENT = [
    Case(
        "event-company-created",
        company(),
        None,
        ["new_client"],
        "company.created",
        object_name="company",
        keys=[f"new_client:{COMPANY_UUID}"],
    ),
    Case("company-first-sight-polling", company(), None, ["new_client"], object_name="company"),
    Case(
        "company-object-created",
        company(),
        None,
        ["new_client"],
        changed_fields=["uuid", "name"],
        object_name="company",
    ),
    Case(
        "company-seen-before",
        company(name="Renamed"),
        snap(company(), "company"),
        [],
        object_name="company",
    ),
    Case(
        "company-updated-event-no-snapshot",
        company(),
        None,
        ["company.updated"],
        "company.updated",
        object_name="company",
    ),
    Case(
        "company-created-but-deleted",
        company(active=0),
        None,
        [],
        "company.created",
        object_name="company",
    ),
    Case(
        "company-object-name-capitalised",
        company(),
        None,
        ["new_client"],
        changed_fields=["uuid"],
        object_name="Company",
    ),
]

NEW_FORM_RESPONSE = [
    Case(
        "event-form-response-created",
        form_response(),
        None,
        ["new_form_response"],
        "form.response_created",
        object_name="formresponse",
        keys=[f"new_form_response:{FORM_RESPONSE_UUID}"],
    ),
    Case(
        "formresponse-object-created",
        form_response(),
        None,
        ["new_form_response"],
        changed_fields=["uuid", "form_uuid", "field_data"],
        object_name="formresponse",
    ),
    Case(
        "formresponse-seen-before",
        form_response(),
        snap(form_response(), "formresponse"),
        [],
        object_name="formresponse",
    ),
    Case(
        "formresponse-inactive",
        form_response(active=0),
        None,
        [],
        "form.response_created",
        object_name="formresponse",
    ),
    Case(
        "formresponse-object-edit-no-snapshot",
        form_response(),
        None,
        [],
        changed_fields=["field_data"],
        object_name="formresponse",
    ),
]

PASS_THROUGH = [
    Case("invoice-paid", job(), snap(job()), ["job.invoice_paid"], "job.invoice_paid"),
    Case(
        "staff-clock-on-without-uuid",
        {"staff_uuid": "x"},
        None,
        ["staff.clocked_on"],
        "staff.clocked_on",
        object_name="staff",
    ),
    Case("malformed-event-name", job(), None, [], "Job Updated!"),
    Case("job-without-uuid", job(uuid=""), None, [], "job.created"),
]

ALL_CASES = (NEW_JOB + JOB_COMPLETED + JOB_QUEUED + NEW_CLIENT + NEW_FORM_RESPONSE + PASS_THROUGH
             + OUT_OF_ORDER)


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_classify_case_fires_exactly_expected_triggers(case: Case) -> None:
    fired = classify(
        object_name=case.object_name,
        record=case.record,
        previous=case.previous,
        event_type=case.event_type,
        changed_fields=case.changed_fields,
        occurred_at=WHEN,
    )

    assert [str(occurrence.trigger) for occurrence in fired] == case.expected
    assert [o.detail_type for o in fired] == [detail_type_for(t) for t in case.expected]
    if case.keys:
        assert [occurrence.dedupe_key for occurrence in fired] == case.keys


def test_classify_reopened_and_completed_again_emits_twice_with_distinct_keys() -> None:
    first = completed_job()
    reopened = job(edit_date="2026-03-04 08:00:00")
    second = completed_job(completion_date="2026-03-05 10:00:00", edit_date="2026-03-05 10:00:00")
    keys = []

    previous = snap(job())
    for record in (first, reopened, second):
        fired = classify(object_name="job", record=record, previous=previous, event_type=None)
        keys += [o.dedupe_key for o in fired if o.trigger == Trigger.JOB_COMPLETED]
        previous = snap(record)

    assert keys == [
        f"job_completed:{JOB_UUID}:2026-03-03 11:40:27",
        f"job_completed:{JOB_UUID}:2026-03-05 10:00:00",
    ]


def test_classify_job_completed_changes_carry_previous_and_current_status() -> None:
    (fired,) = classify(
        object_name="job",
        record=completed_job(),
        previous=snap(job()),
        event_type=None,
        occurred_at=WHEN,
    )

    assert fired.trigger is Trigger.JOB_COMPLETED
    assert fired.changes["status"] == {"previous": "Work Order", "current": "Completed"}
    assert fired.changes["completion_date"] == {"previous": None, "current": "2026-03-03 11:40:27"}
    assert fired.occurred_at == WHEN
    assert fired.record_uuid == JOB_UUID


def test_classify_job_queued_changes_carry_previous_and_current_queue() -> None:
    (fired,) = classify(
        object_name="job",
        record=queued_job(QUEUE_PARTS),
        previous=snap(queued_job()),
        event_type=None,
    )

    assert fired.changes["queue_uuid"] == {"previous": QUEUE_WORKSHOP, "current": QUEUE_PARTS}
    assert fired.dedupe_key == f"job_queued:{JOB_UUID}:{QUEUE_PARTS}:2026-03-10 17:00:00"


def test_classify_job_created_completed_and_queued_at_once_fires_all_three() -> None:
    record = completed_job(queue_uuid=QUEUE_WORKSHOP)

    fired = classify(
        object_name="job",
        record=record,
        previous=None,
        event_type=None,
        changed_fields=["uuid", "status", "queue_uuid"],
    )

    assert [o.trigger for o in fired] == ["new_job", "job_completed", "job_queued"]


def test_classify_pass_through_uses_delivery_id_and_snapshot_diff() -> None:
    before = snap(job())
    (fired,) = classify(
        object_name="job",
        record=job(active=0),
        previous=before,
        event_type="job.updated",
        delivery_id="smwe_abc",
    )

    assert fired.trigger == "job.updated"
    assert fired.detail_type == "ServiceM8 job.updated"
    assert fired.dedupe_key == "job.updated:smwe_abc"
    assert fired.changes == {"active": {"previous": 1, "current": 0}}


def test_classify_pass_through_without_uuid_or_id_dedupes_on_record_digest() -> None:
    record = {"staff_uuid": "8e3b5f1a-2c4d-4a6e-b7f8-19d0c2e4a6b8"}

    first = classify(
        object_name="staff", record=record, previous=None, event_type="staff.clocked_on"
    )
    again = classify(
        object_name="staff", record=dict(record), previous=None, event_type="staff.clocked_on"
    )

    assert first[0].record_uuid is None
    assert first[0].dedupe_key == again[0].dedupe_key
    assert first[0].dedupe_key.startswith("staff.clocked_on:sha256:")


def test_classify_record_is_normalised_zero_dates_none_and_badges_list() -> None:
    badge = "6a2d8f4c-9e1b-4c3a-8f7d-2b5e9a1c6d47"
    record = job(badges=f'["{badge}"]', date="0000-00-00", invoice_sent=0)

    (fired,) = classify(object_name="job", record=record, previous=None, event_type=None)

    assert fired.record["completion_date"] is None
    assert fired.record["queue_expiry_date"] is None
    assert fired.record["date"] is None
    assert fired.record["badges"] == [badge]
    assert fired.record["invoice_sent"] == 0
    assert fired.record["queue_uuid"] == ""  # other fields kept as ServiceM8 sent them


def test_classify_occurred_at_defaults_to_now_in_utc() -> None:
    (fired,) = classify(object_name="job", record=job(), previous=None, event_type=None)

    assert fired.occurred_at.tzinfo is UTC


def test_classify_uuid_lower_cased_so_shapes_dedupe_alike() -> None:
    (fired,) = classify(
        object_name="company",
        record=company(uuid=COMPANY_UUID.upper()),
        previous=None,
        event_type="company.created",
    )

    assert fired.dedupe_key == f"new_client:{COMPANY_UUID}"


def test_occurrence_is_frozen() -> None:
    (fired,) = classify(object_name="job", record=job(), previous=None, event_type=None)

    with pytest.raises(ValidationError, match="frozen"):
        fired.dedupe_key = "other"
