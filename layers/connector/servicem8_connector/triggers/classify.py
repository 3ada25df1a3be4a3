"""Edge-triggered classification of ServiceM8 record changes into trigger occurrences.

A trigger fires when a record *enters* a state (created, Completed, in a queue), never
while it merely stays there: the classifier compares the current record with the
snapshot kept from last time. Without a snapshot it trusts only what ServiceM8 said
happened: the event name, or the object delivery's ``changed_fields``.

The five product triggers have their own detail-types ("New Job", "Job Completed", …).
Every other ServiceM8 event webhook (``job.updated``, ``job.invoice_paid``, …) passes
through unchanged as detail-type ``"ServiceM8 <event name>"``, e.g.
``"ServiceM8 job.updated"``, with its event name as ``trigger``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

from servicem8_connector.triggers.records import (
    COMPLETED,
    is_active,
    normalise_record,
    present,
    record_uuid,
)

__all__ = [
    "PASSTHROUGH_PREFIX",
    "SERVICEM8_EVENTS",
    "FieldChange",
    "Occurrence",
    "Trigger",
    "classify",
    "detail_type_for",
    "object_for_event",
]

PASSTHROUGH_PREFIX = "ServiceM8 "
# Event names become part of a detail-type, so only well-formed ones pass through.
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_MAX_EVENT_NAME = 100

# FACTS.md §4.4: the 25 event webhooks ServiceM8 offers.
SERVICEM8_EVENTS = frozenset({
    "job.created", "job.updated", "job.status_changed", "job.completed", "job.queued",
    "job.checked_in", "job.checked_out", "job.quote_sent", "job.quote_accepted",
    "job.invoice_sent", "job.invoice_paid", "job.note_added", "job.photo_added",
    "job.video_added", "job.badge_added", "job.badge_removed", "job.review_received",
    "company.created", "company.updated", "form.response_created",
    "inbox.message_received", "proposal.sent", "proposal.viewed",
    "staff.clocked_on", "staff.clocked_off",
})  # fmt: skip


class Trigger(StrEnum):
    """The five product triggers; the value is the ``trigger`` field subscribers see."""

    NEW_JOB = "new_job"
    JOB_COMPLETED = "job_completed"
    JOB_QUEUED = "job_queued"
    NEW_CLIENT = "new_client"
    NEW_FORM_RESPONSE = "new_form_response"

    @property
    def detail_type(self) -> str:
        return _DETAIL_TYPES[self]


_DETAIL_TYPES = {
    Trigger.NEW_JOB: "New Job",
    Trigger.JOB_COMPLETED: "Job Completed",
    Trigger.JOB_QUEUED: "Job Queued",
    Trigger.NEW_CLIENT: "New Client",
    Trigger.NEW_FORM_RESPONSE: "New Form Response",
}
# Events that name a product trigger; they never pass through on their own.
_TRIGGER_EVENTS = {
    "job.created": Trigger.NEW_JOB,
    "job.completed": Trigger.JOB_COMPLETED,
    "job.queued": Trigger.JOB_QUEUED,
    "company.created": Trigger.NEW_CLIENT,
    "form.response_created": Trigger.NEW_FORM_RESPONSE,
}
_CREATED_EVENTS = {"job": "job.created", "company": "company.created"}
_CREATED_EVENTS["formresponse"] = "form.response_created"
_EVENT_OBJECTS = {"form": "formresponse"}


class FieldChange(TypedDict):
    """A field's value before and after; ``previous`` is None when it was unknown."""

    previous: Any
    current: Any


class Occurrence(BaseModel):
    """One trigger that fired for one record, ready to become a bus event."""

    model_config = ConfigDict(frozen=True)

    trigger: Trigger | str
    detail_type: str
    object_name: str
    record_uuid: str | None
    record: dict[str, Any]
    changes: dict[str, FieldChange]
    occurred_at: datetime
    dedupe_key: str


def detail_type_for(trigger: Trigger | str) -> str:
    """The EventBridge detail-type of a product trigger or a passed-through event name."""
    if trigger in _DETAIL_TYPES:
        return Trigger(trigger).detail_type
    return f"{PASSTHROUGH_PREFIX}{trigger}"


def object_for_event(event_type: str) -> str:
    """The REST object an event's ``data`` is: ``job.completed`` → ``job``."""
    prefix = event_type.split(".", 1)[0].lower()
    return _EVENT_OBJECTS.get(prefix, prefix)


@dataclass(frozen=True)
class _Facts:
    """What is known about one record change, as the rules below need it."""

    object_name: str
    uuid: str
    current: dict[str, Any]
    previous: Mapping[str, Any] | None
    event_type: str | None
    changed_fields: frozenset[str] | None

    def reported(self, field: str, events: frozenset[str]) -> bool:
        """ServiceM8 itself said ``field`` changed: by event name or ``changed_fields``."""
        if self.event_type is not None and self.event_type in events:
            return True
        return self.changed_fields is not None and field in self.changed_fields

    def created(self) -> bool:
        if not is_active(self.current):
            return False  # soft-deleted records are never new
        if self.event_type is not None and self.event_type == _CREATED_EVENTS[self.object_name]:
            return True
        if self.previous is not None:
            return False
        if self.changed_fields is not None:
            # A creation lists every populated field, uuid included (FACTS.md §4.3).
            return "uuid" in self.changed_fields
        # First sight with no delivery hint (polling) counts as new; an event about an
        # existing record (job.updated) does not.
        return self.event_type is None

    def change(self, field: str) -> FieldChange:
        before = None if self.previous is None else self.previous.get(field)
        return FieldChange(previous=before, current=self.current.get(field))


_Fired = tuple[Trigger, dict[str, FieldChange], str]
_Rule = Callable[[_Facts], _Fired | None]


def _created_rule(trigger: Trigger) -> _Rule:
    def rule(facts: _Facts) -> _Fired | None:
        return (trigger, {}, f"{trigger}:{facts.uuid}") if facts.created() else None

    return rule


def _job_completed(facts: _Facts) -> _Fired | None:
    if facts.current.get("status") != COMPLETED:
        return None
    if facts.previous is not None:
        was_completed = facts.previous.get("status") == COMPLETED
        # A completion date that moved means it was reopened and completed again while
        # the reopening went unseen; the same date is an edit of a completed job.
        before = present(facts.previous.get("completion_date"))
        now = present(facts.current.get("completion_date"))
        if was_completed and (before is None or now is None or before == now):
            return None
    elif not facts.reported("status", _COMPLETION_EVENTS):
        return None
    mark = facts.current.get("completion_date") or facts.current.get("edit_date")
    changes = {"status": facts.change("status")}
    changes["completion_date"] = facts.change("completion_date")
    return Trigger.JOB_COMPLETED, changes, f"job_completed:{facts.uuid}:{mark or 'unknown'}"


_COMPLETION_EVENTS = frozenset({"job.completed", "job.status_changed"})


def _job_queued(facts: _Facts) -> _Fired | None:
    queue = present(facts.current.get("queue_uuid"))
    if queue is None:
        return None  # leaving a queue is not a trigger
    if facts.previous is not None:
        if present(facts.previous.get("queue_uuid")) == queue:
            return None  # still in the same queue, perhaps with a new expiry
    elif not facts.reported("queue_uuid", frozenset({"job.queued"})):
        return None
    expiry = facts.current.get("queue_expiry_date") or "none"
    changes = {"queue_uuid": facts.change("queue_uuid")}
    changes["queue_expiry_date"] = facts.change("queue_expiry_date")
    return Trigger.JOB_QUEUED, changes, f"job_queued:{facts.uuid}:{queue}:{expiry}"


_RULES: dict[str, tuple[_Rule, ...]] = {
    "job": (_created_rule(Trigger.NEW_JOB), _job_completed, _job_queued),
    "company": (_created_rule(Trigger.NEW_CLIENT),),
    "formresponse": (_created_rule(Trigger.NEW_FORM_RESPONSE),),
}


def classify(
    *,
    object_name: str,
    record: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    event_type: str | None,
    changed_fields: Sequence[str] | None = None,
    occurred_at: datetime | None = None,
    delivery_id: str | None = None,
) -> list[Occurrence]:
    """Every trigger that fired for one record.

    Args:
        object_name: REST object of ``record`` (``job``, ``company``, ``formresponse``).
        record: The record as ServiceM8 sent or returned it (normalised here).
        previous: The stored :func:`snapshot_of` from last time, None if never seen.
        event_type: The event webhook's name, None for object deliveries and polling.
        changed_fields: The object delivery entry's ``changed_fields``, if any.
        occurred_at: When it happened (entry ``time``, event ``createdAt``); now if None.
        delivery_id: The event webhook's ``id``; makes pass-through dedupe exact.

    Returns:
        Product triggers in rule order, then the pass-through event if there is one.
    """
    name = object_name.lower()
    current = normalise_record(record)
    uuid = record_uuid(current)
    when = occurred_at or datetime.now(UTC)
    fired: list[Occurrence] = []
    if uuid is not None and name in _RULES:
        facts = _Facts(
            object_name=name,
            uuid=uuid,
            current=current,
            previous=None if previous is None else normalise_record(previous),
            event_type=event_type,
            changed_fields=None if changed_fields is None else frozenset(changed_fields),
        )
        for rule in _RULES[name]:
            if (found := rule(facts)) is not None:
                trigger, changes, key = found
                fired.append(_occurrence(trigger, name, uuid, current, changes, when, key))
    if event_type is not None and _passes_through(event_type):
        changes = _snapshot_changes(previous, current)
        key = _passthrough_key(event_type, uuid, current, delivery_id)
        fired.append(_occurrence(event_type, name, uuid, current, changes, when, key))
    return fired


def _occurrence(
    trigger: Trigger | str,
    object_name: str,
    uuid: str | None,
    record: dict[str, Any],
    changes: dict[str, FieldChange],
    occurred_at: datetime,
    dedupe_key: str,
) -> Occurrence:
    return Occurrence(
        trigger=trigger,
        detail_type=detail_type_for(trigger),
        object_name=object_name,
        record_uuid=uuid,
        record=record,
        changes=changes,
        occurred_at=occurred_at,
        dedupe_key=dedupe_key,
    )


def _passes_through(event_type: str) -> bool:
    if event_type in _TRIGGER_EVENTS:
        return False
    return len(event_type) <= _MAX_EVENT_NAME and bool(_EVENT_NAME.match(event_type))


def _snapshot_changes(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> dict[str, FieldChange]:
    """Snapshot fields whose value moved; empty when there was no snapshot to compare."""
    if previous is None:
        return {}
    before = normalise_record(previous)
    return {
        field: FieldChange(previous=value, current=current.get(field))
        for field, value in before.items()
        if field in current and current[field] != value
    }


def _passthrough_key(
    event_type: str, uuid: str | None, record: Mapping[str, Any], delivery_id: str | None
) -> str:
    if delivery_id:
        return f"{event_type}:{delivery_id}"
    if uuid is not None:
        return f"{event_type}:{uuid}:{record.get('edit_date') or 'unknown'}"
    # Nothing identifies the event: a digest of the record at least collapses redeliveries.
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode())
    return f"{event_type}:sha256:{digest.hexdigest()[:32]}"
