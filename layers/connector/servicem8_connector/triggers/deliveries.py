"""Recognise every shape a ServiceM8 webhook delivery arrives in.

Three shapes are real (FACTS.md §4.3, §4.4; PROBLEMS.md case 8), and the docs do not
say which one an account will send:

* event webhooks ``{"id": "smwe_…", "type": "job.completed", "data": {…record…}}``;
* object webhooks ``{"object": "job", "entry": [...], "resource_url": "…"}``;
* the Add-on SDK envelope ``{"eventName": "webhook_subscription", "auth": {…},
  "eventArgs": {…object webhook…}}``.

Anything else becomes :class:`Unrecognised` so the caller can park the raw body;
:func:`parse_delivery` never raises on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

_ADDON_EVENT_NAME = "webhook_subscription"
_SERVICEM8_DATETIME = "%Y-%m-%d %H:%M:%S"


class Entry(BaseModel):
    """One changed record named by an object delivery; it carries no field values."""

    model_config = ConfigDict(frozen=True)

    uuid: str
    # None when the delivery did not say (the add-on envelope may omit it), which is
    # not the same as "nothing changed".
    changed_fields: list[str] | None = None
    # ServiceM8 documents entry times as UTC (FACTS.md §2.7), unlike record dates.
    time: datetime | None = None


class EventDelivery(BaseModel):
    """An event webhook: ``type`` is the event name, ``data`` the full record if sent."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["event"] = "event"
    id: str | None
    type: str
    data: dict[str, Any] | None = None
    created_at: str | None = None


class ObjectDelivery(BaseModel):
    """An object (field-change) webhook; the records must be fetched back."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["object"] = "object"
    object: str
    entries: list[Entry]
    resource_url: str | None = None


class AddonDelivery(BaseModel):
    """The Add-on SDK envelope around an object delivery; its access token is dropped."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["addon"] = "addon"
    account_uuid: str | None
    object: str | None
    entries: list[Entry]
    resource_url: str | None = None


class Unrecognised(BaseModel):
    """A body that is not a delivery; ``reason`` says why, for the parked copy."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["unrecognised"] = "unrecognised"
    reason: str


Delivery = EventDelivery | ObjectDelivery | AddonDelivery | Unrecognised


def parse_delivery(body: str | bytes, content_type: str | None) -> Delivery:
    """Sort a webhook body into one of the delivery shapes.

    Args:
        body: The raw request body.
        content_type: The request's Content-Type, used only to explain a rejection:
            ServiceM8 labels bodies inconsistently, so JSON is tried whatever it says.

    Returns:
        The recognised delivery, or :class:`Unrecognised` with a reason.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        if content_type and "x-www-form-urlencoded" in content_type.lower():
            return Unrecognised(reason="form-encoded body (a subscribe handshake?)")
        return Unrecognised(reason="body is not JSON")
    if not isinstance(document, dict):
        return Unrecognised(reason=f"JSON {type(document).__name__} is not an object")
    return _parse_document(document)


def _parse_document(document: Mapping[str, Any]) -> Delivery:
    if "eventName" in document or "eventArgs" in document:
        return _parse_addon(document)
    if "entry" in document:
        return _parse_object(document)
    if isinstance(document.get("type"), str) and document["type"]:
        return _parse_event(document)
    return Unrecognised(reason="no known delivery keys (type, entry, eventName)")


def _parse_event(document: Mapping[str, Any]) -> Delivery:
    data = document.get("data")
    created_at = document.get("createdAt", document.get("created_at"))
    return EventDelivery(
        id=_text_or_none(document.get("id")),
        type=document["type"],
        data=data if isinstance(data, dict) else None,
        created_at=_text_or_none(created_at),
    )


def _parse_object(document: Mapping[str, Any]) -> Delivery:
    resource_url = _text_or_none(document.get("resource_url"))
    object_name = _object_name(document.get("object"), resource_url)
    if object_name is None:
        return Unrecognised(reason="object delivery names no object")
    entries = _parse_entries(document.get("entry"))
    if not entries:
        return Unrecognised(reason="object delivery has no entry with a uuid")
    return ObjectDelivery(object=object_name, entries=entries, resource_url=resource_url)


def _parse_addon(document: Mapping[str, Any]) -> Delivery:
    if document.get("eventName") != _ADDON_EVENT_NAME:
        return Unrecognised(reason="add-on event is not a webhook_subscription")
    args = document.get("eventArgs")
    if not isinstance(args, dict):
        return Unrecognised(reason="add-on envelope has no eventArgs object")
    entries = _parse_entries(args.get("entry"))
    if not entries:
        return Unrecognised(reason="add-on envelope has no entry with a uuid")
    auth = document.get("auth")
    # Only the account id is kept: the envelope's accessToken must never reach a log
    # or a parked copy of the parsed delivery.
    account_uuid = _text_or_none(auth.get("accountUUID")) if isinstance(auth, dict) else None
    resource_url = _text_or_none(args.get("resource_url"))
    return AddonDelivery(
        account_uuid=account_uuid,
        object=_object_name(args.get("object"), resource_url),
        entries=entries,
        resource_url=resource_url,
    )


def _parse_entries(raw: object) -> list[Entry]:
    """Every usable entry; ServiceM8 documents one per delivery but may batch several."""
    items = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        uuid = _text_or_none(item.get("uuid"))
        if not uuid:
            continue
        entries.append(
            Entry(
                uuid=uuid.lower(),
                changed_fields=_field_names(item.get("changed_fields")),
                time=parse_utc_time(item.get("time")),
            )
        )
    return entries


def _field_names(raw: object) -> list[str] | None:
    if isinstance(raw, str):
        return [name.strip() for name in raw.split(",") if name.strip()]
    if isinstance(raw, list):
        return [name for name in raw if isinstance(name, str) and name]
    return None


def parse_utc_time(raw: object) -> datetime | None:
    """Read a UTC timestamp as ServiceM8 (``YYYY-MM-DD HH:MM:SS``) or ISO 8601 writes it.

    Naive values are taken as UTC; zero dates and anything unreadable give None.
    """
    if not isinstance(raw, str) or not raw or raw.startswith("0000-00-00"):
        return None
    try:
        parsed = datetime.strptime(raw, _SERVICEM8_DATETIME)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _object_name(raw: object, resource_url: str | None) -> str | None:
    """The lower-cased object name, else the one in ``…/api_1.0/Job/<uuid>.json``."""
    if isinstance(raw, str) and raw.strip():
        return raw.strip().lower()
    if resource_url is None:
        return None
    segments = [part for part in urlsplit(resource_url).path.split("/") if part]
    if len(segments) >= 2 and segments[-1].lower().endswith(".json"):
        return segments[-2].lower()
    return None


def _text_or_none(raw: object) -> str | None:
    if isinstance(raw, str):
        return raw or None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return None
