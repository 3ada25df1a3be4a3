"""Connections in DynamoDB, with their secrets sealed by KMS.

Item shapes (one table, ``pk``/``sk``):
- connection: ``CONN#<id>`` / ``META``; tokens and the webhook route token are
  one KMS ciphertext whose encryption context is the connection id, so a
  ciphertext copied onto another connection does not decrypt.
- route: ``ROUTE#<sha256(route token)>`` / ``-`` → connection id; the token
  itself is never stored in the clear.

Every change to a connection is a conditional write on ``version``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from servicem8_connector.dynamo import from_item, is_condition_failure, to_item
from servicem8_connector.oauth import TokenGrant
from servicem8_connector.routes import connection_for_route, route_key

# template.yaml's sparse index over connection records (the only items with a `kind`).
CONNECTIONS_INDEX = "ConnectionsByKind"
CONNECTION_KIND = "connection"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    RECONNECT_REQUIRED = "reconnect_required"


class Connection(BaseModel):
    """One ServiceM8 account connected by one app user."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    status: ConnectionStatus
    account_uuid: str
    account_name: str = ""
    scopes: tuple[str, ...] = ()
    reference: str | None = None
    created_at: float
    version: int = 1
    access_expires_at: float
    refreshed_at: float
    refresh_lease_until: float = 0.0
    sealed_secrets: str
    triggers: tuple[str, ...] = ()
    subscriptions: dict[str, Any] = {}
    # sha256 of the connection's API key and of its one-time claim code; never the values.
    api_key_hash: str = ""
    claim_hash: str = ""
    claim_expires_at: float = 0.0
    # Handshakes are answered only while we are subscribing (see intake.py).
    challenge_window_until: float = 0.0


class ConnectionSecrets(BaseModel):
    """What must never be logged: the tokens and the webhook route token."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str | None
    route_token: str

    def __repr__(self) -> str:
        return "ConnectionSecrets(<hidden>)"

    __str__ = __repr__


class StaleConnection(Exception):
    """The connection changed since it was read; re-read and decide again."""


def new_connection_id() -> str:
    return "con_" + secrets.token_urlsafe(16)


def new_route_token() -> str:
    """256 random bits, URL-safe: unguessable, and it names one connection."""
    return secrets.token_urlsafe(32)


class ConnectionStore:
    """Reads and conditionally writes connections; seals secrets with KMS."""

    def __init__(
        self,
        dynamodb: Any,
        kms: Any,
        *,
        table: str,
        key_id: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._db = dynamodb
        self._kms = kms
        self._table = table
        self._key_id = key_id
        self._now = now

    # --- sealing ---------------------------------------------------------------
    def seal(self, connection_id: str, sealed: ConnectionSecrets) -> str:
        answer = self._kms.encrypt(
            KeyId=self._key_id,
            Plaintext=sealed.model_dump_json().encode(),
            EncryptionContext={"connection_id": connection_id},
        )
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def unseal(self, connection: Connection) -> ConnectionSecrets:
        answer = self._kms.decrypt(
            CiphertextBlob=base64.b64decode(connection.sealed_secrets),
            EncryptionContext={"connection_id": connection.connection_id},
        )
        return ConnectionSecrets.model_validate(json.loads(answer["Plaintext"]))

    # --- reads -----------------------------------------------------------------
    def get(self, connection_id: str) -> Connection | None:
        answer = self._db.get_item(
            TableName=self._table,
            Key=to_item({"pk": f"CONN#{connection_id}", "sk": "META"}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return Connection.model_validate(from_item(item)) if item else None

    def connection_for_route(self, route_token: str) -> str | None:
        return connection_for_route(self._db, self._table, route_token)

    def all_connections(self) -> list[Connection]:
        """Every connection, from the sparse index only connection records are in."""
        found: list[Connection] = []
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=CONNECTIONS_INDEX,
            KeyConditionExpression="kind = :connection",
            ExpressionAttributeValues=to_item({":connection": CONNECTION_KIND}),
        ):
            found.extend(Connection.model_validate(from_item(i)) for i in page["Items"])
        return found

    # --- writes ----------------------------------------------------------------
    def create(self, connection: Connection, route_token: str) -> None:
        item = {"pk": f"CONN#{connection.connection_id}", "sk": "META", "kind": CONNECTION_KIND}
        item.update(connection.model_dump(mode="json"))
        route = {"pk": route_key(route_token), "sk": "-",
                 "connection_id": connection.connection_id}
        self._db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(item),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self._table, "Item": to_item(route),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )

    def update(self, connection: Connection, **changes: Any) -> Connection:
        """Write ``changes`` if nobody else wrote since ``connection`` was read."""
        updated = connection.model_copy(
            update={**changes, "version": connection.version + 1}
        )
        values = updated.model_dump(mode="json")
        names = {f"#{k}": k for k in values}
        assignments = ", ".join(f"#{k} = :{k}" for k in values)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"CONN#{connection.connection_id}", "sk": "META"}),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(
                    {**{f":{k}": v for k, v in values.items()},
                     ":expected": connection.version}
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise StaleConnection(connection.connection_id) from error
            raise
        return updated

    def store_grant(
        self, connection: Connection, grant: TokenGrant, now: float, **changes: Any
    ) -> Connection:
        """Seal a new grant's tokens in place of the old ones, and end any refresh lease.

        A rotated refresh token replaces the old one; when none came back the old
        one is kept (FACTS.md §1.5).
        """
        current = self.unseal(connection)
        renewed = ConnectionSecrets(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token or current.refresh_token,
            route_token=current.route_token,
        )
        return self.update(
            connection,
            sealed_secrets=self.seal(connection.connection_id, renewed),
            access_expires_at=grant.expires_at,
            refreshed_at=now,
            refresh_lease_until=0.0,
            scopes=grant.scopes or connection.scopes,
            **changes,
        )

    def delete(self, connection: Connection, route_token: str) -> None:
        """Forget the connection: its route first, so no delivery is accepted meanwhile."""
        self._db.delete_item(
            TableName=self._table, Key=to_item({"pk": route_key(route_token), "sk": "-"})
        )
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": f"CONN#{connection.connection_id}"}),
            ProjectionExpression="pk, sk",
        ):
            for item in page["Items"]:
                self._db.delete_item(TableName=self._table, Key=item)
