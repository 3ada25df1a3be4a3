"""REST API under /api_1.0 (FACTS §2): list, get, create, update, soft delete."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from local.emulator import filters
from local.emulator.config import OBJECT_SCOPES
from local.emulator.replies import api_error, insufficient_scope, ok_result
from local.emulator.validation import ValidationError, canonical_uuid, validate_write

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator
    from local.emulator.oauth import Principal

PREFIX = "/api_1.0/"


def _parse_path(path: str) -> tuple[str, str | None, bool]:
    """(object name as given, record uuid or None, whether the path has a valid shape)."""
    segments = path[len(PREFIX) :].split("/")
    name = segments[0].removesuffix(".json")
    if len(segments) == 1:
        return name, None, segments[0].endswith(".json")
    if len(segments) == 2 and segments[1].endswith(".json"):
        return name, segments[1].removesuffix(".json"), True
    return name, None, False


def handle(emulator: Emulator, request: Request, principal: Principal) -> Response:
    given_name, record_uuid, well_formed = _parse_path(request.path)
    object_name = given_name.lower()
    if object_name not in OBJECT_SCOPES:
        # S29: the misleading answer for /api_1.0/webhook_subscriptions and friends.
        return api_error(400, f"{given_name} is not an authorised object type")
    if not well_formed:
        return api_error(404)
    read_scope, create_scope, manage_scope = OBJECT_SCOPES[object_name]
    if request.method == "GET":
        needed: str | None = read_scope
    elif request.method == "POST":
        needed = create_scope if record_uuid is None else manage_scope
    elif request.method == "DELETE" and record_uuid is not None:
        needed = manage_scope
    else:
        return api_error(405, "Method not allowed")
    if needed is None:
        return api_error(405, "Method not allowed")
    if principal.scopes is not None and needed not in principal.scopes:
        return insufficient_scope(needed)
    impersonation = _check_impersonation(emulator, request, principal)
    if impersonation is not None:
        return impersonation
    account = principal.account_uuid
    if request.method == "GET":
        if record_uuid is None:
            return _list(emulator, request, account, object_name)
        return _get(emulator, account, object_name, record_uuid)
    if request.method == "DELETE":
        return _delete(emulator, account, object_name, str(record_uuid))
    return _write(emulator, request, account, object_name, record_uuid)


def _check_impersonation(
    emulator: Emulator, request: Request, principal: Principal
) -> Response | None:
    staff_uuid = request.headers.get("x-impersonate-uuid")
    if staff_uuid is None:
        return None
    staff = emulator.store.table(principal.account_uuid, "staff")
    if canonical_uuid(staff_uuid) not in staff.rows:
        return api_error(400, "invalid_impersonation", "Invalid Staff Member Impersonation.")
    return None


def _list(emulator: Emulator, request: Request, account: str, object_name: str) -> Response:
    """§2.4 filtering and §2.5 cursor pagination."""
    terms: list[filters.Term] = []
    raw = filters.raw_filter_value(request.environ.get("QUERY_STRING", ""))
    config = emulator.config
    if raw is not None and not filters.sent_unencoded(
        raw, raw_quote_counts=config.raw_quote_disables_filter
    ):
        try:
            terms = filters.parse(request.args.get("$filter", ""), object_name)
        except filters.FilterError as exc:
            return api_error(400, str(exc))
    cursor = request.args.get("cursor")
    page_size = config.page_size if cursor is not None else None
    with emulator.store.lock:
        table = emulator.store.table(account, object_name)
        start = 0
        if cursor not in (None, "-1"):
            position = table.position.get(str(canonical_uuid(cursor)))
            if position is None:
                return api_error(400, "Invalid cursor")
            start = position
        page: list[dict[str, object]] = []
        next_cursor: str | None = None
        for sparse in table.sparse_from(start):
            if terms and not filters.matches(sparse, table.defaults, terms):
                continue
            if page_size is not None and len(page) == page_size:
                next_cursor = str(sparse["uuid"])
                break
            page.append(table.full(sparse))
    headers = {"x-next-cursor": next_cursor} if next_cursor else None
    return Response(json.dumps(page), 200, headers=headers, content_type="application/json")


def _get(emulator: Emulator, account: str, object_name: str, record_uuid: str) -> Response:
    with emulator.store.lock:
        record = emulator.store.table(account, object_name).get(str(canonical_uuid(record_uuid)))
    if record is None:
        return api_error(404)
    return Response(json.dumps(record), 200, content_type="application/json")


def _delete(emulator: Emulator, account: str, object_name: str, record_uuid: str) -> Response:
    """Soft delete (§2.2): the record stays readable and listed, with active = 0."""
    canonical = canonical_uuid(record_uuid)
    if canonical is None or canonical not in emulator.store.table(account, object_name).rows:
        return api_error(404)
    emulator.apply_write(account, object_name, {"active": 0}, canonical)
    return ok_result()


def _write(
    emulator: Emulator, request: Request, account: str, object_name: str, record_uuid: str | None
) -> Response:
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        return api_error(400, "Request body must be a JSON object")
    if not isinstance(body, dict):
        return api_error(400, "Request body must be a JSON object")
    table = emulator.store.table(account, object_name)
    if record_uuid is not None:
        target = canonical_uuid(record_uuid)
        if target is None or target not in table.rows:
            return api_error(404)
    elif "uuid" in body:
        # §2.2: a client-chosen uuid makes creates idempotent; a known one means "update".
        target = canonical_uuid(body["uuid"])
        if target is None:
            return api_error(400, "uuid must be a valid UUID")
    else:
        target = None
    body = {k: v for k, v in body.items() if k != "uuid"}
    creating = target is None or target not in table.rows
    try:
        values = validate_write(object_name, body, creating=creating)
    except ValidationError as exc:
        return api_error(400, str(exc))
    change = emulator.apply_write(account, object_name, values, target)
    created_uuid = change.uuid if change is not None else target
    if record_uuid is None:
        return ok_result({"x-record-uuid": str(created_uuid)})
    return ok_result()
