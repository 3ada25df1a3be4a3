"""Deliveries kept aside: parked ones to replay or diagnose, and a raw copy of each.

Item shapes in the connector table (TTL attribute ``expires_at``):

* parked: ``CONN#<id>`` / ``PARK#<epoch, 6 decimals>`` with ``reason`` and ``message``
  (the queued JSON), kept 7 days. ``reconnect-required`` ones are replayed through the
  processor once the connection is active again (after the reconnect, or by the next
  maintenance run) and deleted one by one as each goes through; ``unrecognised: …``
  ones stay until the TTL, for someone to look at.
* raw copy: ``CONN#<id>`` / ``RAW#<received_at>#<digest>`` with ``content_type``,
  ``body`` and ``received_at``, kept 7 days from receipt.

Every delivery gets a raw copy, not only the parked ones (PROBLEMS.md case 8): the
delivery worth reading is usually one that parsed and then classified wrongly, and
that one is never parked. The cost is one write per delivery (bodies are a few KB,
so a few write units: dollars per million deliveries) on a table encrypted with the
stack's KMS key. The copy is best effort, since diagnosis must never cost a trigger,
and it goes with the connection when the connection is deleted.

Nothing stored here keeps a credential: the add-on envelope's ``auth.accessToken``
and any other ``…token`` key are dropped, and a JWT's signature is cut off.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from servicem8_connector.dynamo import from_item, to_item

if TYPE_CHECKING:
    from servicem8_connector.processor import QueuedDelivery
    from servicem8_connector.staging import Outcome

logger = logging.getLogger(__name__)
KEPT_SECONDS = 7 * 24 * 3600
RECONNECT_REQUIRED = "reconnect-required"
MAX_BODY_CHARS = 256 * 1024  # SQS's own message limit, well under DynamoDB's item limit
REPLAY_LIMIT = 100
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")
_TOKEN_PAIR = re.compile(r"(?i)(\b\w*token\w*\s*[=:]\s*)[^&\s,;]+")
_MAX_DEPTH = 32


def is_secret_key(name: str) -> bool:
    """``accessToken``, ``access_token``, ``refreshToken``, ``token``: never stored."""
    return name.lower().replace("_", "").replace("-", "").endswith("token")


def without_secrets(body: str) -> str:
    """``body`` with tokens removed; returned unchanged when it held none."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return _TOKEN_PAIR.sub(r"\1[removed]", _JWT.sub(_jwt_payload, body))
    cleaned = _clean(document, 0)
    return body if cleaned == document else json.dumps(cleaned)


def _clean(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, dict):
        return {k: _clean(v, depth + 1) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, str) and _JWT.fullmatch(value):
        return _jwt_payload(_JWT.fullmatch(value))
    return value


def _jwt_payload(match: re.Match[str] | None) -> str:
    """An Add-on SDK callback is a JWT around the envelope: keep its payload, minus tokens."""
    if match is None:
        return "[jwt removed]"
    segment = match.group(1)
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return "[jwt removed]"
    return "jwt-payload:" + json.dumps(_clean(payload, 0))


@dataclass(frozen=True)
class ParkedDelivery:
    sort_key: str
    reason: str
    message: str  # the queued delivery's JSON


@dataclass
class ReplayReport:
    replayed: int = 0
    published: int = 0
    left: int = 0  # reconnect-required deliveries still parked after this replay


class DeliveryParking:
    """Parks, lists, replays and keeps raw copies of one table's deliveries."""

    def __init__(self, dynamodb: Any, table: str, *, now: Callable[[], float] = time.time) -> None:
        self._db = dynamodb
        self._table = table
        self._now = now

    def keep_raw(self, message: QueuedDelivery) -> None:
        body = without_secrets(message.body)[:MAX_BODY_CHARS]
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        item = {
            "pk": f"CONN#{message.connection_id}",
            "sk": f"RAW#{message.received_at:.6f}#{digest}",
            "content_type": message.content_type[:200],
            "body": body,
            "received_at": message.received_at,
            "expires_at": int(message.received_at) + KEPT_SECONDS,
        }
        try:
            self._db.put_item(TableName=self._table, Item=to_item(item))
        except (ClientError, BotoCoreError) as error:
            logger.warning("raw delivery copy not kept", extra={"error": type(error).__name__})

    def park(self, message: QueuedDelivery, reason: str) -> None:
        """Keep the delivery (7 days) to diagnose it, or replay it after a reconnect."""
        now = self._now()
        kept = message.model_copy(update={"body": without_secrets(message.body)})
        item = {
            "pk": f"CONN#{message.connection_id}",
            "sk": f"PARK#{now:.6f}",
            "reason": reason[:200],
            "message": kept.model_dump_json(),
            "expires_at": int(now) + KEPT_SECONDS,
        }
        self._db.put_item(TableName=self._table, Item=to_item(item))
        logger.info("delivery parked", extra={"reason": reason[:200]})

    def parked(self, connection_id: str, *, limit: int = REPLAY_LIMIT) -> list[ParkedDelivery]:
        """The oldest ``limit`` parked deliveries of a connection, oldest first."""
        found: list[ParkedDelivery] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :park)",
            "ExpressionAttributeValues": to_item({":pk": f"CONN#{connection_id}",
                                                  ":park": "PARK#"}),
            "ConsistentRead": True,
        }
        while len(found) < limit:
            answer = self._db.query(**request, Limit=limit - len(found))
            for raw in answer.get("Items", []):
                item = from_item(raw)
                # TTL deletes lazily: an expired item is as good as gone.
                if int(item.get("expires_at", 0)) > self._now():
                    found.append(ParkedDelivery(str(item["sk"]), str(item.get("reason", "")),
                                                str(item.get("message", ""))))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found

    def remove(self, connection_id: str, sort_key: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key=to_item({"pk": f"CONN#{connection_id}", "sk": sort_key}))

    def replay(
        self,
        connection_id: str,
        process: Callable[[QueuedDelivery], Outcome],
        *,
        limit: int = REPLAY_LIMIT,
        deadline: float | None = None,
    ) -> ReplayReport:
        """Run parked ``reconnect-required`` deliveries through ``process``, oldest first.

        Each is deleted only after ``process`` returned, so a failure leaves it (and every
        later one) for the next attempt; the processor's dedupe makes a repeat harmless.
        Errors from ``process`` propagate to the caller.
        """
        from servicem8_connector.processor import decode_message

        waiting = [p for p in self.parked(connection_id, limit=limit)
                   if p.reason == RECONNECT_REQUIRED]
        report = ReplayReport(left=len(waiting))
        for parked in waiting:
            if deadline is not None and self._now() >= deadline:
                break
            outcome = process(decode_message(parked.message))
            self.remove(connection_id, parked.sort_key)
            report.replayed += 1
            report.left -= 1
            report.published += outcome.published
            if outcome.parked:  # parked afresh: the connection lapsed again, stop here
                break
        return report
