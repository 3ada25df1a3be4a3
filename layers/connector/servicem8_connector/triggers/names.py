"""Names on both sides: ServiceM8's event webhooks and the detail-types on the bus.

The five product triggers have their own detail-types ("New Job", "Job Completed", …).
Every other ServiceM8 event webhook passes through as detail-type
``"ServiceM8 <event name>"`` (e.g. ``"ServiceM8 job.invoice_paid"``) with the event
name as its ``trigger``, so a subscriber can match either field.
"""

from __future__ import annotations

import re
from enum import StrEnum

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
TRIGGER_EVENTS = {
    "job.created": Trigger.NEW_JOB,
    "job.completed": Trigger.JOB_COMPLETED,
    "job.queued": Trigger.JOB_QUEUED,
    "company.created": Trigger.NEW_CLIENT,
    "form.response_created": Trigger.NEW_FORM_RESPONSE,
}
# The event announcing each classified object's creation.
CREATED_EVENTS = {
    "job": "job.created",
    "company": "company.created",
    "formresponse": "form.response_created",
}
_EVENT_OBJECTS = {"form": "formresponse"}


def detail_type_for(trigger: Trigger | str) -> str:
    """The EventBridge detail-type of a product trigger or a passed-through event name."""
    if trigger in _DETAIL_TYPES:
        return Trigger(trigger).detail_type
    return f"{PASSTHROUGH_PREFIX}{trigger}"


def object_for_event(event_type: str) -> str:
    """The REST object an event's ``data`` is: ``job.completed`` → ``job``."""
    prefix = event_type.split(".", 1)[0].lower()
    return _EVENT_OBJECTS.get(prefix, prefix)


def passes_through(event_type: str) -> bool:
    """True for a well-formed event name that is not one of the five trigger events."""
    if event_type in TRIGGER_EVENTS:
        return False
    return len(event_type) <= _MAX_EVENT_NAME and bool(_EVENT_NAME.match(event_type))
