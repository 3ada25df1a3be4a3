"""Turning record changes into webhook deliveries (FACTS §4.3 object kind, §4.4 event kind)."""

from __future__ import annotations

import json
import uuid as uuid_lib
from typing import TYPE_CHECKING

from local.emulator.config import OBJECT_DISPLAY_NAMES
from local.emulator.delivery import Delivery
from local.emulator.store import Change, format_utc

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator


def job_events(change: Change) -> list[str]:
    after, before = change.after, change.before or {}
    if change.created:
        events = ["job.created"]
        if after.get("queue_uuid"):
            events.append("job.queued")
        if after.get("status") == "Completed":
            events.append("job.completed")
        return events
    changed = set(change.changed_fields)
    events = ["job.updated"]
    if "status" in changed:
        events.append("job.status_changed")
        if after.get("status") == "Completed":
            events.append("job.completed")
    # "Job added to queue": the queue becomes set, or moves to another queue.
    if "queue_uuid" in changed and after.get("queue_uuid"):
        events.append("job.queued")
    for flag, event in (
        ("quote_sent", "job.quote_sent"),
        ("invoice_sent", "job.invoice_sent"),
        ("payment_received", "job.invoice_paid"),
    ):
        if flag in changed and after.get(flag) == 1:
            events.append(event)
    if "badges" in changed:
        old, new = _badges(before.get("badges")), _badges(after.get("badges"))
        if new - old:
            events.append("job.badge_added")
        if old - new:
            events.append("job.badge_removed")
    return events


def _badges(value: object) -> set[str]:
    try:
        decoded = json.loads(str(value or "[]"))
    except ValueError:
        return set()
    return {str(b) for b in decoded} if isinstance(decoded, list) else set()


def events_for(change: Change) -> list[str]:
    if change.object_name == "job":
        return job_events(change)
    if change.object_name == "company":
        return ["company.created" if change.created else "company.updated"]
    if change.object_name == "formresponse" and change.created:
        return ["form.response_created"]
    return []


def deliveries_for(emulator: Emulator, change: Change) -> list[Delivery]:
    """Every delivery a change causes, for active subscriptions only."""
    out: list[Delivery] = []
    subscription = emulator.subscriptions.for_object(change.account_uuid, change.object_name)
    if (
        subscription is not None
        and subscription.active
        and set(subscription.fields) & set(change.changed_fields)
    ):
        display = OBJECT_DISPLAY_NAMES[change.object_name]
        body: dict[str, object] = {
            "object": change.object_name,
            "entry": [
                {
                    "uuid": change.uuid,
                    "changed_fields": list(change.changed_fields),
                    "time": format_utc(change.epoch),
                }
            ],
            "resource_url": f"{emulator.base_url}/api_1.0/{display}/{change.uuid}.json",
        }
        out.append(Delivery(subscription.uuid, "object", subscription.callback_url, body))
    for event in events_for(change):
        out.extend(event_deliveries(emulator, change.account_uuid, event, change.after))
    return out


def event_deliveries(
    emulator: Emulator, account_uuid: str, event: str, data: dict[str, object]
) -> list[Delivery]:
    # One id per occurrence: every subscriber (and any duplicate send) sees the same id.
    event_id = f"smwe_{uuid_lib.uuid4()}"
    return [
        Delivery(sub.uuid, "event", sub.callback_url, {"id": event_id, "type": event, "data": data})
        for sub in emulator.subscriptions.for_event(account_uuid, event)
        if sub.active
    ]
