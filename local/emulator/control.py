"""The /_emulator/ control surface: the Python API over HTTP, for a separately started emulator.

All bodies are JSON. Nothing here exists in ServiceM8, hence the prefix no ServiceM8 path uses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from local.emulator.replies import json_reply

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator


def _body(request: Request) -> dict[str, object]:
    data = request.get_data(cache=True)
    if not data:
        return {}
    decoded = json.loads(data)
    if not isinstance(decoded, dict):
        raise ValueError("the body must be a JSON object")
    return decoded


def _error(message: str, status: int = 400) -> Response:
    return json_reply({"ok": False, "error": message}, status)


def handle(emulator: Emulator, request: Request) -> Response:
    try:
        return _route(emulator, request, _body(request) if request.method == "POST" else {})
    except (ValueError, KeyError, TypeError) as exc:
        return _error(f"{type(exc).__name__}: {exc}")


def _route(emulator: Emulator, request: Request, body: dict[str, object]) -> Response:
    parts = [p for p in request.path.split("/") if p][1:]  # drop "_emulator"
    method = request.method
    if method == "GET" and parts == ["deliveries"]:
        return json_reply(emulator.deliveries)
    if method == "GET" and parts == ["requests"]:
        return json_reply(emulator.requests)
    if method == "GET" and parts == ["handshakes"]:
        return json_reply(emulator.handshakes)
    if method == "GET" and parts == ["state"]:
        return json_reply(emulator.state())
    if parts == ["faults"]:
        if method == "POST":
            emulator.faults.update(body)
        return json_reply(emulator.faults.as_dict())
    if method == "POST" and parts == ["reset"]:
        emulator.reset()
        return json_reply({"ok": True, "default_account_uuid": emulator.default_account_uuid})
    if method == "POST" and parts == ["wait"]:
        try:
            emulator.wait_for_deliveries(float(str(body.get("timeout", 10.0))))
        except TimeoutError as exc:
            return _error(str(exc), 504)
        return json_reply({"ok": True})
    if method == "POST" and parts == ["clock"]:
        emulator.advance_clock(float(str(body.get("advance", 0))))
        return json_reply({"ok": True, "now": emulator.now()})
    if method == "POST" and parts == ["default-account"]:
        account_uuid = str(body["account_uuid"])
        if account_uuid not in emulator.store.accounts:
            return _error("unknown account", 404)
        emulator.default_account_uuid = account_uuid
        return json_reply({"ok": True, "default_account_uuid": account_uuid})
    if parts and parts[0] == "accounts":
        return _accounts(emulator, method, parts[1:], body)
    return _error("unknown control endpoint", 404)


def _accounts(
    emulator: Emulator, method: str, parts: list[str], body: dict[str, object]
) -> Response:
    if not parts:
        if method == "POST":
            account_uuid = emulator.add_account(
                name=str(body.get("name", "Beta Plumbing")),
                timezone_name=str(body.get("timezone_name", "Australia/Brisbane")),
                unpaid=bool(body.get("unpaid", False)),
            )
            return json_reply({"ok": True, "uuid": account_uuid})
        return json_reply(emulator.state()["accounts"])
    account_uuid = parts[0]
    if account_uuid not in emulator.store.accounts:
        return _error("unknown account", 404)
    rest = parts[1:]
    if method == "POST" and rest == []:
        if "unpaid" in body:
            emulator.set_unpaid(account_uuid, bool(body["unpaid"]))
        return json_reply({"ok": True})
    if method == "POST" and rest == ["revoke"]:
        emulator.revoke(account_uuid)
        return json_reply({"ok": True})
    if len(rest) == 2 and rest[0] == "records":
        if method == "POST":
            notify = bool(body.pop("_notify", True))
            record = emulator.put_record(account_uuid, rest[1], body, notify=notify)
            return json_reply(record)
        return json_reply(emulator.records(account_uuid, rest[1]))
    if method == "POST" and len(rest) == 2 and rest[0] == "events":
        emulator.emit_event(account_uuid, rest[1], body)
        return json_reply({"ok": True})
    return _error("unknown control endpoint", 404)
