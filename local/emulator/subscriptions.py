"""Webhook subscription management at the host root (FACTS §4.1, §4.2, §4.4).

- Parameters come from the query string or a form body; a JSON body is not read, which is
  why JSON callers get "Please specify an object for subscription" (S19, S20).
- One object subscription per (account, object): subscribing again replaces fields and URL.
- Event subscriptions are keyed per (account, event, callback_url), so several coexist.
- Create or modify only succeeds after the callback echoes the challenge (§4.2).
"""

from __future__ import annotations

import threading
import uuid as uuid_lib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from local.emulator.config import EVENT_NAMES, OBJECT_DISPLAY_NAMES
from local.emulator.replies import json_reply, webhook_failure

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator
    from local.emulator.oauth import Principal

NO_OBJECT = "Please specify an object for subscription"
NO_CHALLENGE = "Callback URL did not respond with the challenge"
EVENTS_DISABLED = "Webhook events are not yet enabled for this account"


@dataclass
class Subscription:
    uuid: str
    account_uuid: str
    kind: str  # "object" or "event"
    name: str  # canonical object name, or event name
    fields: list[str]
    callback_url: str
    unique_id: str
    active: int = 1
    last_failure_reason: str = ""
    consecutive_failures: int = 0

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "object":
            return (self.account_uuid, "object", self.name)
        return (self.account_uuid, "event", self.name, self.callback_url)

    def as_json(self) -> dict[str, object]:
        listed: dict[str, object] = {"uuid": self.uuid}
        listed["object" if self.kind == "object" else "event"] = self.name
        listed.update(
            fields=",".join(self.fields),
            callback_url=self.callback_url,
            unique_id=self.unique_id,
            active=self.active,
            last_failure_reason=self.last_failure_reason,
        )
        return listed


class SubscriptionRegistry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_key: dict[tuple[str, ...], Subscription] = {}

    def upsert(self, subscription: Subscription) -> Subscription:
        with self.lock:
            previous = self._by_key.get(subscription.key)
            if previous is not None:
                subscription.uuid = previous.uuid  # a modify keeps its identity
            self._by_key[subscription.key] = subscription
            return subscription

    def all(self, account_uuid: str | None = None) -> list[Subscription]:
        with self.lock:
            return [s for s in self._by_key.values() if account_uuid in (None, s.account_uuid)]

    def by_uuid(self, subscription_uuid: str) -> Subscription | None:
        with self.lock:
            return next((s for s in self._by_key.values() if s.uuid == subscription_uuid), None)

    def for_object(self, account_uuid: str, object_name: str) -> Subscription | None:
        with self.lock:
            return self._by_key.get((account_uuid, "object", object_name))

    def for_event(self, account_uuid: str, event: str) -> list[Subscription]:
        with self.lock:
            return [
                s
                for s in self._by_key.values()
                if s.kind == "event" and s.account_uuid == account_uuid and s.name == event
            ]

    def remove(self, predicate: Callable[[Subscription], bool]) -> int:
        with self.lock:
            doomed = [k for k, s in self._by_key.items() if predicate(s)]
            for key in doomed:
                del self._by_key[key]
            return len(doomed)

    def clear(self) -> None:
        with self.lock:
            self._by_key.clear()


def _params(request: Request) -> MultiDict[str, str]:
    merged: MultiDict[str, str] = MultiDict(request.args)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            merged.add(key, value)
    return merged


def handle(emulator: Emulator, request: Request, principal: Principal) -> Response:
    path = request.path.rstrip("/")
    params = _params(request)
    if path == "/webhook_subscriptions":
        if request.method == "GET":
            subs = emulator.subscriptions.all(principal.account_uuid)
            return json_reply([s.as_json() for s in subs])
        if request.method == "DELETE":
            return _delete(emulator, params, principal)
        if request.method == "POST":
            return _subscribe_object(emulator, params, principal)
    elif path == "/webhook_subscriptions/object" and request.method == "POST":
        return _subscribe_object(emulator, params, principal)
    elif path == "/webhook_subscriptions/event" and request.method == "POST":
        return _subscribe_event(emulator, request, params, principal)
    return json_reply({"errorCode": 404, "message": "Resource not found."}, 404)


def _subscribe_object(
    emulator: Emulator, params: MultiDict[str, str], principal: Principal
) -> Response:
    object_name = params.get("object", "").strip()
    if not object_name:
        return webhook_failure(NO_OBJECT)
    if len(object_name) > 64 or object_name.lower() not in OBJECT_DISPLAY_NAMES:
        return webhook_failure(f"{object_name} is not a valid object for subscription")
    fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
    if not fields:
        return webhook_failure("Please specify fields for subscription")
    return _activate(emulator, params, principal, "object", object_name.lower(), fields)


def _subscribe_event(
    emulator: Emulator, request: Request, params: MultiDict[str, str], principal: Principal
) -> Response:
    if request.mimetype == "application/json":
        return webhook_failure(NO_OBJECT)
    if not emulator.faults.event_webhooks_enabled:
        return webhook_failure(EVENTS_DISABLED)
    event = params.get("event", "").strip()
    if not event:
        return webhook_failure("Please specify an event for subscription")
    if event not in EVENT_NAMES:
        return webhook_failure(f"{event} is not a valid webhook event")
    return _activate(emulator, params, principal, "event", event, [])


def _activate(
    emulator: Emulator,
    params: MultiDict[str, str],
    principal: Principal,
    kind: str,
    name: str,
    fields: list[str],
) -> Response:
    callback_url = params.get("callback_url", "").strip()
    if not callback_url:
        return webhook_failure("Please specify a callback_url for subscription")
    unique_id = params.get("unique_id", "")
    if len(unique_id) > 100:
        return webhook_failure("unique_id must be 100 characters or fewer")
    # The handshake runs before anything is stored: a failed challenge leaves no trace (§4.2).
    if not emulator.delivery.handshake(callback_url):
        return webhook_failure(NO_CHALLENGE)
    subscription = emulator.subscriptions.upsert(
        Subscription(
            str(uuid_lib.uuid4()),
            principal.account_uuid,
            kind,
            name,
            fields,
            callback_url,
            unique_id,
        )
    )
    return json_reply({"success": True, "uuid": subscription.uuid})


def _delete(emulator: Emulator, params: MultiDict[str, str], principal: Principal) -> Response:
    account = principal.account_uuid
    object_name = params.get("object", "").strip().lower()
    event = params.get("event", "").strip()
    callback_url = params.get("callback_url", "").strip()
    unique_id = params.get("unique_id", "").strip()
    if object_name:
        emulator.subscriptions.remove(
            lambda s: s.account_uuid == account and s.kind == "object" and s.name == object_name
        )
    elif event:

        def same_event(s: Subscription) -> bool:
            if s.account_uuid != account or s.kind != "event" or s.name != event:
                return False
            if callback_url:
                return s.callback_url == callback_url
            return not unique_id or s.unique_id == unique_id

        emulator.subscriptions.remove(same_event)
    else:
        return webhook_failure(NO_OBJECT)
    return json_reply({"success": True})
