"""Webhook routes: the route token in a delivery's path names one connection.

Kept apart from the connection store so the receiver, which reads nothing else on a
normal delivery, loads no connection models at cold start.
"""

from __future__ import annotations

import hashlib
from typing import Any

from servicem8_connector.dynamo import from_item, to_item


def digest(secret: str) -> str:
    """What is stored in place of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def route_key(route_token: str) -> str:
    return "ROUTE#" + digest(route_token)


def connection_for_route(dynamodb: Any, table: str, route_token: str) -> str | None:
    """The connection id a route token names, or None."""
    answer = dynamodb.get_item(
        TableName=table, Key=to_item({"pk": route_key(route_token), "sk": "-"})
    )
    item = answer.get("Item")
    return str(from_item(item)["connection_id"]) if item else None
