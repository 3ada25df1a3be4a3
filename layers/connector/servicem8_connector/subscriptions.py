"""Which ServiceM8 webhooks the enabled triggers need, and subscribing them.

Event webhooks come first: one per event, so turning one trigger off never
touches another (FACTS.md §4.4). Accounts where event webhooks are not rolled
out refuse them; those get object webhooks instead, exactly one per object
with the union of the fields every enabled trigger needs, because a second
subscription for an object replaces the first (FACTS.md §4.1, PROBLEMS #7).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from servicem8_connector.connections import Connection, ConnectionStore
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import (
    RejectedByServiceM8,
    ServiceM8Error,
    SubscriptionRefused,
)
from servicem8_connector.triggers.names import SERVICEM8_EVENTS

logger = logging.getLogger(__name__)

ALL_TRIGGERS = ("new_job", "job_completed", "job_queued", "new_client", "new_form_response")

EVENT_FOR_TRIGGER = {
    "new_job": "job.created",
    "job_completed": "job.completed",
    "job_queued": "job.queued",
    "new_client": "company.created",
    "new_form_response": "form.response_created",
}

# Object-webhook fallback: the object watched and the fields whose change matters.
OBJECT_FIELDS_FOR_TRIGGER: dict[str, tuple[str, tuple[str, ...]]] = {
    "new_job": ("job", ("uuid",)),
    "job_completed": ("job", ("status",)),
    "job_queued": ("job", ("queue_uuid", "queue_expiry_date")),
    "new_client": ("company", ("uuid",)),
    "new_form_response": ("formresponse", ("uuid",)),
}


# The other ServiceM8 events: subscribed on request, published as "ServiceM8 <event>".
PASSTHROUGH_EVENTS = tuple(sorted(SERVICEM8_EVENTS - set(EVENT_FOR_TRIGGER.values())))


def _split(triggers: Iterable[str]) -> tuple[list[str], list[str]]:
    """Product triggers in canonical order, and the pass-through events asked for."""
    asked = set(triggers)
    return ([t for t in ALL_TRIGGERS if t in asked],
            [e for e in PASSTHROUGH_EVENTS if e in asked])


def expect_challenges(store: ConnectionStore, connection: Connection) -> Connection:
    """Open the short window in which the receiver answers ServiceM8's handshakes."""
    from servicem8_connector.connect import CHALLENGE_WINDOW_SECONDS

    return store.update(connection, challenge_window_until=time.time() + CHALLENGE_WINDOW_SECONDS)


def object_fields(triggers: Iterable[str]) -> dict[str, list[str]]:
    """One field list per object: the union over the enabled triggers, uuid first."""
    union: dict[str, set[str]] = {}
    for trigger in triggers:
        object_name, fields = OBJECT_FIELDS_FOR_TRIGGER[trigger]
        union.setdefault(object_name, {"uuid"}).update(fields)
    return {name: sorted(fields, key=lambda f: (f != "uuid", f)) for name, fields in union.items()}


def subscribe(
    client: ServiceM8Client,
    *,
    triggers: Iterable[str],
    callback_url: str,
    unique_id: str,
) -> dict[str, Any]:
    """Subscribe what ``triggers`` need; returns the bookkeeping to store.

    The returned mapping records the mode (``event`` or ``object``), what was
    subscribed, and per item either ``active`` or ``failed`` with ServiceM8's
    reason, so a failure is visible and the maintenance run can retry it.
    """
    wanted, extra = _split(triggers)
    events: dict[str, str] = {}
    refused: dict[str, str] = {}
    for event in [EVENT_FOR_TRIGGER[t] for t in wanted] + extra:
        try:
            client.subscribe_event(event, callback_url, unique_id)
        except (RejectedByServiceM8, SubscriptionRefused) as refusal:
            if not events:
                logger.info("event webhooks refused; using object webhooks",
                            extra={"reason": refusal.message[:200]})
                return _subscribe_objects(client, wanted, callback_url, unique_id, extra)
            events[event] = f"failed: {refusal.message[:200]}"
            refused[event] = refusal.message[:200]
        except ServiceM8Error as error:
            events[event] = f"failed: {error.message[:200]}"
        else:
            events[event] = "active"
    return _with_refusals({"mode": "event", "events": events, "triggers": wanted + extra},
                          refused)


def _subscribe_objects(
    client: ServiceM8Client, triggers: list[str], callback_url: str, unique_id: str,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Object webhooks; pass-through events have no object equivalent and are listed
    as ``unavailable`` rather than silently dropped."""
    objects: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for object_name, fields in object_fields(triggers).items():
        try:
            client.subscribe_object(object_name, fields, callback_url, unique_id)
            status = "active"
        except ServiceM8Error as error:
            status = f"failed: {error.message[:200]}"
            if isinstance(error, (RejectedByServiceM8, SubscriptionRefused)):
                refused[object_name] = error.message[:200]
        objects[object_name] = {"fields": fields, "status": status}
    bookkeeping: dict[str, Any] = {"mode": "object", "objects": objects, "triggers": triggers}
    if extra:
        bookkeeping["unavailable"] = extra
    return _with_refusals(bookkeeping, refused)


def _with_refusals(bookkeeping: dict[str, Any], refused: dict[str, str]) -> dict[str, Any]:
    """Name what ServiceM8 refused as invalid (retrying the same call cannot help)."""
    if refused:
        bookkeeping["refused"] = refused
    return bookkeeping


def refusal(bookkeeping: dict[str, Any]) -> tuple[str, str] | None:
    """The first subscription ServiceM8 refused in the last call, with its message."""
    refused = bookkeeping.get("refused") or {}
    return next(iter(sorted(refused.items())), None)


def reconcile(
    client: ServiceM8Client,
    bookkeeping: dict[str, Any],
    *,
    triggers: Iterable[str],
    callback_url: str,
    unique_id: str,
) -> dict[str, Any]:
    """Move the subscriptions from what ``bookkeeping`` records to what ``triggers`` need.

    Event mode adds and removes single events. Object mode re-subscribes each
    object with the new union of fields, which replaces the old subscription in
    one call, and deletes an object's subscription only when no enabled trigger
    still watches it, so switching one trigger never interrupts another.
    """
    wanted, extra = _split(triggers)
    if bookkeeping.get("mode") != "object":
        current = dict(bookkeeping.get("events", {}))
        needed = {EVENT_FOR_TRIGGER[t] for t in wanted} | set(extra)
        for event in sorted(set(current) - needed):
            client.unsubscribe({"event": event, "callback_url": callback_url})
            current.pop(event)
        missing = [t for t in wanted if current.get(EVENT_FOR_TRIGGER[t]) != "active"]
        missing += [e for e in extra if current.get(e) != "active"]
        if missing:
            added = subscribe(client, triggers=missing, callback_url=callback_url,
                              unique_id=unique_id)
            if added["mode"] == "object":
                # Already subscribed as objects when nothing else was wanted: not twice.
                if missing == wanted + extra:
                    return added
                return _subscribe_objects(client, wanted, callback_url, unique_id, extra)
            current.update(added["events"])
            return _with_refusals(
                {"mode": "event", "events": current, "triggers": wanted + extra},
                added.get("refused", {}),
            )
        return {"mode": "event", "events": current, "triggers": wanted + extra}
    objects = _subscribe_objects(client, wanted, callback_url, unique_id, extra)
    for object_name in set(bookkeeping.get("objects", {})) - set(objects["objects"]):
        client.unsubscribe({"object": object_name})
    return objects


def unsubscribe(client: ServiceM8Client, bookkeeping: dict[str, Any], callback_url: str) -> None:
    """Remove exactly what :func:`subscribe` made for this connection."""
    if bookkeeping.get("mode") == "event":
        for event in bookkeeping.get("events", {}):
            client.unsubscribe({"event": event, "callback_url": callback_url})
    for object_name in bookkeeping.get("objects", {}):
        client.unsubscribe({"object": object_name})
