"""Edge-triggered classification of ServiceM8 record changes into trigger occurrences.

A trigger fires when a record *enters* a state (created, Completed, in a queue), never
while it merely stays there. Two kinds of evidence count:

* what ServiceM8 said happened (the event name, or the object delivery's
  ``changed_fields``), whenever the record is in the state now. This holds whatever the
  snapshot says: notifications arrive out of order and a fetch returns the latest state,
  so a snapshot may already show a state whose notification is still on its way;
* otherwise (polling, ``job.updated``) the snapshot kept from last time against the
  current record.

A record seen first at its creation has entered every state it is in now. Each trigger's
dedupe key names the state it entered (the completion date, the queue and its expiry),
so two pieces of evidence for one edge publish it once.

Besides the five product triggers, an event webhook that names none of them
(``job.updated``, ``job.invoice_paid``, …) passes through as its own occurrence; see
:mod:`servicem8_connector.triggers.names` for the detail-type convention.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

from servicem8_connector.triggers.names import (
    CREATED_EVENTS,
    PASSTHROUGH_PREFIX,
    SERVICEM8_EVENTS,
    Trigger,
    detail_type_for,
    object_for_event,
    passes_through,
)
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
    "announcements",
    "classify",
    "detail_type_for",
    "object_for_event",
]


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


# Kept in a record's snapshot: the edges already published for the state it is in, so a
# notification delivered again does not publish them anew (under a key that names a
# later expiry or edit date).
ANNOUNCED_NEW = "announced_new"
ANNOUNCED_COMPLETED = "announced_completed"
ANNOUNCED_QUEUE = "announced_queue"


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
        """ServiceM8 said ``field`` changed (event name, ``changed_fields``), or it reported
        the record's creation, so whatever state the record is in now was reached since."""
        if self.event_type is not None and self.event_type in events:
            return True
        if self.changed_fields is not None and field in self.changed_fields:
            return True
        return self.creation_reported()

    def announced(self, marker: str) -> Any:
        return None if self.previous is None else self.previous.get(marker)

    def creation_reported(self) -> bool:
        if self.event_type is not None and self.event_type == CREATED_EVENTS[self.object_name]:
            return True
        # A creation lists every populated field, uuid included (FACTS.md §4.3).
        return self.changed_fields is not None and "uuid" in self.changed_fields

    def created(self) -> bool:
        if not is_active(self.current):
            return False  # soft-deleted records are never new
        if self.creation_reported():
            # Even when a later state of the record was stored first, unless announced.
            return not self.announced(ANNOUNCED_NEW)
        # First sight with no delivery hint (polling) counts as new; an event about an
        # existing record (job.updated) does not.
        return self.previous is None and self.changed_fields is None and self.event_type is None

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
    if facts.reported("status", _COMPLETION_EVENTS) and not facts.announced(ANNOUNCED_COMPLETED):
        pass  # ServiceM8 says the status moved, and it is Completed now
    elif facts.previous is not None:
        was_completed = facts.previous.get("status") == COMPLETED
        # A completion date that moved means it was reopened and completed again while
        # the reopening went unseen; the same date is an edit of a completed job.
        before = present(facts.previous.get("completion_date"))
        now = present(facts.current.get("completion_date"))
        if was_completed and (before is None or now is None or before == now):
            return None
    else:
        return None
    mark = facts.current.get("completion_date") or facts.current.get("edit_date")
    changes = {
        "status": facts.change("status"),
        "completion_date": facts.change("completion_date"),
    }
    return Trigger.JOB_COMPLETED, changes, f"job_completed:{facts.uuid}:{mark or 'unknown'}"


_COMPLETION_EVENTS = frozenset({"job.completed", "job.status_changed"})


def _job_queued(facts: _Facts) -> _Fired | None:
    queue = present(facts.current.get("queue_uuid"))
    if queue is None:
        return None  # leaving a queue is not a trigger
    if facts.reported("queue_uuid", frozenset({"job.queued"})) and \
            facts.announced(ANNOUNCED_QUEUE) != queue:
        pass  # ServiceM8 says the queue changed, and the job is in one now
    elif facts.previous is None or present(facts.previous.get("queue_uuid")) == queue:
        return None  # unknown, or still in the same queue (perhaps with a new expiry)
    expiry = facts.current.get("queue_expiry_date") or "none"
    changes = {
        "queue_uuid": facts.change("queue_uuid"),
        "queue_expiry_date": facts.change("queue_expiry_date"),
    }
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
    if event_type is not None and passes_through(event_type):
        changes = _snapshot_changes(previous, current)
        key = _passthrough_key(event_type, uuid, current, delivery_id)
        fired.append(_occurrence(event_type, name, uuid, current, changes, when, key))
    return fired


def announcements(
    object_name: str,
    record: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    fired: Sequence[Occurrence],
) -> dict[str, Any]:
    """The markers the record's next snapshot keeps (see ``ANNOUNCED_NEW``)."""
    current = normalise_record(record)
    before = previous or {}
    triggers = {str(occurrence.trigger) for occurrence in fired}
    created = {str(t) for t in (Trigger.NEW_JOB, Trigger.NEW_CLIENT, Trigger.NEW_FORM_RESPONSE)}
    markers: dict[str, Any] = {ANNOUNCED_NEW: bool(before.get(ANNOUNCED_NEW) or triggers & created)}
    if object_name.lower() == "job":
        completed = current.get("status") == COMPLETED
        markers[ANNOUNCED_COMPLETED] = completed and bool(
            before.get(ANNOUNCED_COMPLETED) or str(Trigger.JOB_COMPLETED) in triggers)
        queue = present(current.get("queue_uuid"))
        kept = queue is not None and (before.get(ANNOUNCED_QUEUE) == queue
                                      or str(Trigger.JOB_QUEUED) in triggers)
        markers[ANNOUNCED_QUEUE] = queue if kept else None
    return markers


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
