"""The ten actions: create, retrieve, update, delete and list for clients and jobs."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, Literal

from servicem8_connector.idempotency import Create, IdempotentCreates, record_uuid_for
from servicem8_connector.problems import Problem
from servicem8_connector.records import RequestBody
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import MissingScope
from servicem8_connector.servicem8.filters import MAX_TERMS, Filter
from servicem8_connector.triggers.records import normalise_record

Resource = Literal["clients", "jobs"]
OBJECT_FOR_RESOURCE: dict[str, str] = {"clients": "company", "jobs": "job"}

# Lambda answers at most 6 MB; stop short of it with a clear answer instead.
MAX_LIST_BYTES = 5_500_000

Action = Literal["create", "retrieve", "update", "delete", "list"]
# FACTS.md §1.7: the scopes ServiceM8 demands for each action's calls. Update and delete
# read the record first, so they need the read scope too; job creation has its own scope.
SCOPES_FOR_ACTION: dict[tuple[Action, Resource], tuple[str, ...]] = {
    ("create", "clients"): ("manage_customers",),
    ("retrieve", "clients"): ("read_customers",),
    ("list", "clients"): ("read_customers",),
    ("update", "clients"): ("read_customers", "manage_customers"),
    ("delete", "clients"): ("read_customers", "manage_customers"),
    ("create", "jobs"): ("create_jobs",),
    ("retrieve", "jobs"): ("read_jobs",),
    ("list", "jobs"): ("read_jobs",),
    ("update", "jobs"): ("read_jobs", "manage_jobs"),
    ("delete", "jobs"): ("read_jobs", "manage_jobs"),
}


def missing_scope(granted: Collection[str], action: Action, resource: Resource) -> str | None:
    """The first scope the action needs that ``granted`` lacks; None when all are there."""
    return next((s for s in SCOPES_FOR_ACTION[(action, resource)] if s not in granted), None)


class Actions:
    """Runs an action for one connection; ``servicem8_for`` builds its client.

    ``scopes_for`` returns the scopes a connection was granted (empty when unknown);
    given, an action the grant cannot cover is refused without calling ServiceM8.
    """

    def __init__(
        self,
        servicem8_for: Callable[[str], ServiceM8Client],
        scopes_for: Callable[[str], Collection[str]] | None = None,
        idempotent: Callable[[Create], IdempotentCreates] | None = None,
    ) -> None:
        self._servicem8_for = servicem8_for
        self._scopes_for = scopes_for
        self._idempotent = idempotent(self._create) if idempotent is not None else None

    def register_lambda_context(self, context: Any) -> None:
        if self._idempotent is not None:
            self._idempotent.register_lambda_context(context)

    def _client(self, connection_id: str, action: Action, resource: Resource) -> ServiceM8Client:
        granted = self._scopes_for(connection_id) if self._scopes_for is not None else ()
        lacking = missing_scope(granted, action, resource) if granted else None
        if lacking is not None:
            raise MissingScope(f'"{lacking}" scope required; reconnect to grant it',
                               required_scope=lacking)
        return self._servicem8_for(connection_id)

    def create(
        self,
        connection_id: str,
        resource: Resource,
        body: RequestBody,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        fields = body.to_servicem8()
        if idempotency_key and self._idempotent is not None:
            return self._idempotent.create(connection_id, resource, idempotency_key, fields)
        if idempotency_key:
            fields["uuid"] = record_uuid_for(connection_id, resource, idempotency_key)
        return self._create(connection_id, resource, fields)

    def _create(self, connection_id: str, resource: str, fields: dict[str, Any]) -> dict[str, Any]:
        client = self._client(connection_id, "create", resource)  # type: ignore[arg-type]
        return {"uuid": client.create(OBJECT_FOR_RESOURCE[resource], fields)}

    def retrieve(self, connection_id: str, resource: Resource, record_uuid: str) -> dict[str, Any]:
        client = self._client(connection_id, "retrieve", resource)
        return normalise_record(client.get(OBJECT_FOR_RESOURCE[resource], record_uuid))

    def update(
        self, connection_id: str, resource: Resource, record_uuid: str, body: RequestBody
    ) -> dict[str, Any]:
        fields = body.to_servicem8()
        if not fields:
            raise Problem(422, "nothing-to-update", "Nothing to update",
                          "the request body names no field to change")
        client = self._client(connection_id, "update", resource)
        object_name = OBJECT_FOR_RESOURCE[resource]
        client.get(object_name, record_uuid)  # 404 before a write ServiceM8 might accept
        client.update(object_name, record_uuid, fields)
        return {"uuid": record_uuid, "updated_fields": sorted(fields)}

    def delete(self, connection_id: str, resource: Resource, record_uuid: str) -> dict[str, Any]:
        client = self._client(connection_id, "delete", resource)
        object_name = OBJECT_FOR_RESOURCE[resource]
        client.get(object_name, record_uuid)
        client.delete(object_name, record_uuid)
        return {
            "uuid": record_uuid,
            "active": 0,
            "deletion": "soft",
            "detail": "ServiceM8 keeps the record with active=0; PATCH active=1 restores it",
        }

    def list(
        self,
        connection_id: str,
        resource: Resource,
        record_filter: Filter | None,
        include_inactive: bool,
    ) -> dict[str, Any]:
        """Every page, following ``x-next-cursor``; soft-deleted rows only when asked."""
        terms = len(record_filter.terms) if record_filter is not None else 0
        if not include_inactive and terms < MAX_TERMS:
            # Let ServiceM8 drop deleted rows when the caller left room for the term;
            # rows are filtered here as well either way (see below).
            record_filter = (record_filter or Filter()).where("active", "eq", 1)
        client = self._client(connection_id, "list", resource)
        items: list[dict[str, Any]] = []
        size = 0
        for record in client.records(OBJECT_FOR_RESOURCE[resource], record_filter):
            if not include_inactive and str(record.get("active", "1")) == "0":
                continue  # ServiceM8's own filter has been seen to let some through
            normalised = normalise_record(record)
            size += len(json.dumps(normalised))
            if size > MAX_LIST_BYTES:
                raise Problem(413, "result-too-large", "Result too large",
                              "more records match than one answer can carry; "
                              "narrow the filter")
            items.append(normalised)
        return {"items": items, "count": len(items)}
