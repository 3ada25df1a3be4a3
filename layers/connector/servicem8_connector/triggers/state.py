"""Durable classifier state in the connector table: record snapshots and dedupe claims.

Item shapes (keys ``pk``/``sk``, TTL attribute ``expires_at`` in epoch seconds):

* snapshot: ``CONN#<connection_id>`` / ``SNAP#<object>#<uuid>``, with ``snapshot`` (map)
  and ``edit_date`` (ServiceM8 ``YYYY-MM-DD HH:MM:SS``, so lexical order is time order);
* dedupe: ``DEDUPE#<connection_id>#<dedupe_key>`` / ``-``, with ``state``
  (``pending`` | ``published``), ``claimed_at`` and ``expires_at`` = now + 7 days.

DynamoDB deletes expired items lazily, so every read and condition re-checks
``expires_at`` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from servicem8_connector.dynamo import from_item, is_condition_failure, to_item

DEDUPE_TTL_SECONDS = 7 * 24 * 60 * 60
STALE_CLAIM_SECONDS = 120.0


class DynamoDBClient(Protocol):
    """The slice of a boto3 DynamoDB client these stores call."""

    def get_item(self, **kwargs: Any) -> Any: ...
    def put_item(self, **kwargs: Any) -> Any: ...
    def update_item(self, **kwargs: Any) -> Any: ...
    def delete_item(self, **kwargs: Any) -> Any: ...


class StateUnavailable(Exception):
    """DynamoDB failed for a reason other than a lost race: retry the delivery later."""


class SnapshotStore:
    """Last-seen snapshots per record, which never move backwards in ``edit_date``."""

    def __init__(
        self, client: DynamoDBClient, table_name: str, now: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table_name
        self._now = now

    def get(self, connection_id: str, object_name: str, uuid: str) -> dict[str, Any] | None:
        """The stored snapshot, or None when the record was never seen."""
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=to_item(_snapshot_key(connection_id, object_name, uuid)),
                ConsistentRead=True,
            )
        except ClientError as error:
            raise StateUnavailable("snapshot read failed") from error
        snapshot = from_item(answer.get("Item") or {}).get("snapshot")
        return snapshot if isinstance(snapshot, dict) else None

    def put(
        self, connection_id: str, object_name: str, uuid: str, snapshot: Mapping[str, Any]
    ) -> bool:
        """Store ``snapshot`` unless a newer one is already there.

        Deliveries arrive out of order; the write is conditional so an older record
        version can never replace a newer one. An undated snapshot only fills a gap.

        Returns:
            True if written, False if the stored snapshot is as new or newer.

        Raises:
            StateUnavailable: DynamoDB failed otherwise.
        """
        edit_date = snapshot.get("edit_date")
        item = {
            **_snapshot_key(connection_id, object_name, uuid),
            "snapshot": dict(snapshot),
            "updated_at": self._now(),
        }
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConditionExpression": "attribute_not_exists(#edit_date)",
            "ExpressionAttributeNames": {"#edit_date": "edit_date"},
        }
        if isinstance(edit_date, str) and edit_date:
            item["edit_date"] = edit_date
            request["ConditionExpression"] += " OR #edit_date < :edit_date"
            request["ExpressionAttributeValues"] = to_item({":edit_date": edit_date})
        request["Item"] = to_item(item)
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise StateUnavailable("snapshot write failed") from error
        return True


class DedupeStore:
    """Claims that let exactly one processor publish each dedupe key.

    Timeline of one key::

        claim ── pending ── publish ok ── mark_published ── published (7 days)
                   │                 └─ publish failed ── release ── (gone)
                   └─ crash: still pending after 120 s ── another claim may take it

    A crash between publishing and ``mark_published`` can publish twice; subscribers
    dedupe on the idempotency key, so at-least-once is the contract.
    """

    def __init__(
        self, client: DynamoDBClient, table_name: str, now: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table_name
        self._now = now

    def claim(self, connection_id: str, key: str) -> bool:
        """Take the right to publish ``key``; False when someone holds or used it."""
        now = self._now()
        # Free when: never claimed; expired but not yet swept by TTL; or pending so long
        # its owner must have died before publishing.
        condition = (
            "attribute_not_exists(pk) OR expires_at < :now"
            " OR (#state = :pending AND claimed_at < :stale_before)"
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        **_dedupe_key(connection_id, key),
                        "state": "pending",
                        "claimed_at": now,
                        "expires_at": int(now + DEDUPE_TTL_SECONDS),
                    }
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":now": now,
                        ":pending": "pending",
                        ":stale_before": now - STALE_CLAIM_SECONDS,
                    }
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise StateUnavailable("dedupe claim failed") from error
        return True

    def mark_published(self, connection_id: str, key: str) -> None:
        """Record that ``key`` reached the bus; it stays claimed for 7 more days."""
        now = self._now()
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(_dedupe_key(connection_id, key)),
                UpdateExpression="SET #state = :published, published_at = :now,"
                " expires_at = :expires",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":published": "published",
                        ":now": now,
                        ":expires": int(now + DEDUPE_TTL_SECONDS),
                    }
                ),
            )
        except ClientError as error:
            raise StateUnavailable("dedupe mark failed") from error

    def release(self, connection_id: str, key: str) -> None:
        """Give up a pending claim after a failed publish, so a retry may claim it."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=to_item(_dedupe_key(connection_id, key)),
                # Never drop a published mark, which would let the event out twice.
                ConditionExpression="#state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item({":pending": "pending"}),
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise StateUnavailable("dedupe release failed") from error


def _snapshot_key(connection_id: str, object_name: str, uuid: str) -> dict[str, str]:
    return {
        "pk": f"CONN#{connection_id}",
        "sk": f"SNAP#{object_name.lower()}#{uuid.lower()}",
    }


def _dedupe_key(connection_id: str, key: str) -> dict[str, str]:
    return {"pk": f"DEDUPE#{connection_id}#{key}", "sk": "-"}
