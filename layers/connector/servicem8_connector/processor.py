"""From queued webhook deliveries to the trigger events they stand for.

Order matters for "exactly once": occurrences are claimed, published, marked,
and only then is the record's snapshot stored. A crash anywhere before the
snapshot write makes the retry classify the same edge again, and the claim
already marked published keeps it from going out twice. A claim still pending
(its holder may have died before publishing) holds the snapshot back: the
delivery is retried rather than stored past an edge that never went out.
Deliveries of one SQS batch are staged here and published together
(:mod:`servicem8_connector.staging`), so PutEvents carries up to ten events a call.

Object deliveries carry no values, so each costs a fetch. Notifications for a
record that changed before a finished fetch of it began (by more than a clock
margin) were covered by that fetch: they are skipped, so a burst of changes to
one record costs one call of the account's budget, not one per change.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, model_validator

from servicem8_connector.connections import Connection, ConnectionStatus, ConnectionStore
from servicem8_connector.dynamo import from_item, is_condition_failure, to_item
from servicem8_connector.parking import RECONNECT_REQUIRED, DeliveryParking
from servicem8_connector.publishing import EventPublisher, TriggerEvent
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import ReconnectRequired, RecordNotFound
from servicem8_connector.staging import DeliveryBatch, Outcome
from servicem8_connector.triggers import (
    AddonDelivery,
    DedupeStore,
    Entry,
    EventDelivery,
    ObjectDelivery,
    SnapshotStore,
    Trigger,
    Unrecognised,
    announcements,
    classify,
    object_for_event,
    parse_delivery,
    snapshot_of,
)
from servicem8_connector.triggers.state import _dedupe_key  # one layout of the claim items

logger = logging.getLogger(__name__)
UNNAMED_OBJECTS = ("company", "job", "formresponse")
PRODUCT_TRIGGERS = frozenset(t.value for t in Trigger)
# Entry times are whole seconds of ServiceM8's clock; the margin absorbs that, clock skew
# and replica lag, so only changes clearly older than a fetch count as seen by it.
FETCH_COVERS_AFTER_SECONDS = 6.0
FETCHED_MARK_SECONDS = 3600
ALONE = "alone"  # the key of the one delivery in a batch of one


class QueuedDelivery(BaseModel):
    """The message the receiver puts on the delivery queue."""

    connection_id: str
    received_at: float
    content_type: str = ""
    body: str
    correlation_id: str = ""  # the receiver's request id: one id from webhook to event
    body_gzip: str = Field(default="", exclude=True)  # a body too large for SQS as it was

    @model_validator(mode="after")
    def _inflate(self) -> QueuedDelivery:
        if self.body_gzip and not self.body:
            try:
                self.body = gzip.decompress(base64.b64decode(self.body_gzip)).decode()
            except (ValueError, OSError, EOFError) as error:
                raise ValueError("body_gzip is not a gzip-compressed body") from error
            self.body_gzip = ""
        return self


@dataclass(frozen=True)
class _Seen:
    object_name: str
    record: dict[str, Any]
    event_type: str | None
    changed_fields: list[str] | None
    occurred_at: datetime | None
    delivery_id: str | None
    fetched_at: float | None = None  # when the fetch that returned ``record`` began
    from_snapshot: bool = False  # ``record`` is the stored snapshot: no fetch was needed


class DeliveryProcessor:
    """Classifies deliveries of every connection; collaborators are injected."""

    def __init__(
        self,
        *,
        connections: ConnectionStore,
        snapshots: SnapshotStore,
        dedupe: DedupeStore,
        publisher: EventPublisher,
        servicem8_for: Callable[[str], ServiceM8Client],
        dynamodb: Any,
        table: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._snapshots = snapshots
        self._dedupe = dedupe
        self._publisher = publisher
        self._servicem8_for = servicem8_for
        self._db = dynamodb
        self._table = table
        self._now = now
        self._parking = DeliveryParking(dynamodb, table, now=now)

    def batch(self) -> DeliveryBatch:
        """A batch to :meth:`stage` deliveries into and then ``finish``."""
        return DeliveryBatch(snapshots=self._snapshots, dedupe=self._dedupe,
                             publisher=self._publisher, published=self._published)

    def process(self, message: QueuedDelivery) -> Outcome:
        """One delivery on its own: staged, published, stored; raises if it must be retried."""
        return self._alone(lambda batch: self.stage(batch, ALONE, message))

    def stage(self, batch: DeliveryBatch, key: str, message: QueuedDelivery) -> None:
        """Classify and claim delivery ``key``; raises (and records) what must be retried."""
        try:
            self._stage(batch, key, message)
        except Exception as error:
            batch.failed(key, error)
            raise

    def _stage(self, batch: DeliveryBatch, key: str, message: QueuedDelivery) -> None:
        outcome = batch.outcome(key)
        connection = self._connections.get(message.connection_id)
        if connection is None:
            outcome.dropped = "connection-gone"
            return
        self._parking.keep_raw(message)
        delivery = parse_delivery(message.body, message.content_type)
        if isinstance(delivery, Unrecognised):
            outcome.parked = f"unrecognised: {delivery.reason}"
        elif isinstance(delivery, AddonDelivery) and delivery.account_uuid not in (
            None, connection.account_uuid
        ):
            outcome.dropped = "account-mismatch"
            return
        elif connection.status is ConnectionStatus.RECONNECT_REQUIRED:
            outcome.parked = RECONNECT_REQUIRED
        if outcome.parked:
            self._parking.park(message, outcome.parked)
            return
        try:
            seen_records = self._records(connection, delivery, batch, key, outcome)
        except ReconnectRequired:
            # The grant died before anyone noticed: keep the delivery for the reconnect
            # rather than failing it back to the queue every visibility timeout.
            outcome.parked = RECONNECT_REQUIRED
            self._parking.park(message, outcome.parked)
            return
        for seen in seen_records:
            self._classify_and_claim(batch, key, connection, seen)
            if seen.fetched_at is not None:
                uuid = str(seen.record.get("uuid") or "")
                mark = functools.partial(self._mark_fetched, connection, uuid, seen.fetched_at)
                batch.after_snapshots(key, mark)

    def _records(
        self, connection: Connection, delivery: Any, batch: DeliveryBatch, key: str,
        outcome: Outcome,
    ) -> list[_Seen]:
        if isinstance(delivery, EventDelivery):
            object_name = object_for_event(delivery.type)
            record = delivery.data or {}
            if not record.get("uuid"):
                return []
            if len(record) <= 2:  # only an id: fetch the record the event is about
                record = self._fetch(connection, object_name, str(record["uuid"]), outcome) or {}
            when = parse_event_time(delivery.created_at)
            return [_Seen(object_name, record, delivery.type, None, when, delivery.id)] if record \
                else []
        assert isinstance(delivery, (ObjectDelivery, AddonDelivery))
        # The add-on envelope may not name its object: try each one a trigger watches.
        candidates = (delivery.object.lower(),) if delivery.object else UNNAMED_OBJECTS
        seen: list[_Seen] = []
        fetched: dict[str, tuple[str, dict[str, Any]] | None] = {}
        started: dict[str, float] = {}
        for entry in delivery.entries:
            if entry.uuid not in fetched:  # one fetch per record, however many entries
                # A fetch saw this change, but was classified with another entry's
                # changed_fields: this entry's own word is read against its snapshot.
                known = self._known(connection, candidates, entry, batch, key) \
                    if self._covered(connection, entry, batch) else []
                if known:
                    outcome.coalesced += 1
                    seen += known
                    continue
                started[entry.uuid] = self._now()
                fetched[entry.uuid] = self._find(connection, candidates, entry.uuid, outcome)
                batch.note_fetch(key, connection.connection_id, entry.uuid, started[entry.uuid])
            found = fetched[entry.uuid]
            if found is not None:
                seen.append(_Seen(found[0], found[1], None, entry.changed_fields,
                                  entry.time, None, started[entry.uuid]))
        return seen

    def _known(
        self, connection: Connection, candidates: tuple[str, ...], entry: Entry,
        batch: DeliveryBatch, key: str,
    ) -> list[_Seen]:
        for object_name in candidates:
            record_key = (connection.connection_id, object_name, entry.uuid.lower())
            snapshot = batch.previous(key, record_key)
            if snapshot is not None:
                record = snapshot_of(object_name, snapshot)  # without its markers
                return [_Seen(object_name, record, None, entry.changed_fields, entry.time,
                              None, from_snapshot=True)]
        return []

    def _covered(self, connection: Connection, entry: Entry, batch: DeliveryBatch) -> bool:
        """A fetch of this record began after the entry's change: it saw it.

        The fetch counts once it is finished and stored, or when a delivery earlier in
        this batch made it and staged the record's snapshot without failing.
        """
        if entry.time is None:
            return False
        fetched_at = batch.fetch_started(connection.connection_id, entry.uuid)
        if fetched_at is None:
            answer = self._db.get_item(
                TableName=self._table,
                Key=to_item(_fetched_key(connection.connection_id, entry.uuid)),
                ConsistentRead=True,
            )
            fetched_at = from_item(answer.get("Item") or {}).get("fetched_at")
        changed_at = entry.time.timestamp()
        return isinstance(fetched_at, (int, float)) and \
            fetched_at >= changed_at + FETCH_COVERS_AFTER_SECONDS

    def _mark_fetched(self, connection: Connection, uuid: str, fetched_at: float) -> None:
        """Written only once the fetched record is classified, published and stored."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item(_fetched_key(connection.connection_id, uuid)),
                UpdateExpression="SET fetched_at = :at, expires_at = :expires",
                ConditionExpression="attribute_not_exists(fetched_at) OR fetched_at < :at",
                ExpressionAttributeValues=to_item(
                    {":at": fetched_at, ":expires": int(fetched_at) + FETCHED_MARK_SECONDS}
                ),
            )
        except ClientError as error:
            if not is_condition_failure(error):  # a newer fetch is marked already
                raise

    def _find(
        self, connection: Connection, candidates: tuple[str, ...], uuid: str, outcome: Outcome
    ) -> tuple[str, dict[str, Any]] | None:
        for object_name in candidates:
            record = self._fetch(connection, object_name, uuid, outcome)
            if record is not None:
                return object_name, record
        return None

    def _fetch(
        self, connection: Connection, object_name: str, uuid: str, outcome: Outcome
    ) -> dict[str, Any] | None:
        outcome.fetches += 1
        try:
            return self._servicem8_for(connection.connection_id).get(object_name, uuid)
        except RecordNotFound:
            return None

    def publish_polled(
        self,
        connection: Connection,
        object_name: str,
        record: dict[str, Any],
        *,
        proven_changes: list[str],
        occurred_at: datetime | None,
        triggers: Collection[str],
    ) -> Outcome:
        """Classify a record a backfill poll returned, on the same path as a delivery.

        ``proven_changes`` plays the part of ``changed_fields`` when the record has no
        snapshot; with one, the snapshot decides. Only ``triggers`` are published.
        """
        seen = _Seen(object_name, record, None, proven_changes, occurred_at, None)

        def stage(batch: DeliveryBatch) -> None:
            try:
                self._classify_and_claim(batch, ALONE, connection, seen, frozenset(triggers),
                                         polled=True)
            except Exception as error:
                batch.failed(ALONE, error)
                raise

        return self._alone(stage)

    def _alone(self, stage: Callable[[DeliveryBatch], None]) -> Outcome:
        """A batch of one: staged, published, stored; raises what must be retried."""
        batch = self.batch()
        try:
            stage(batch)
        finally:
            result = batch.finish()  # claims already taken are published even on a raise
        if ALONE in result.failures:
            raise result.failures[ALONE]
        return result.outcomes[ALONE]

    def _classify_and_claim(
        self, batch: DeliveryBatch, key: str, connection: Connection, seen: _Seen,
        triggers: frozenset[str] | None = None, polled: bool = False,
    ) -> None:
        uuid = str(seen.record.get("uuid") or "")
        record_key = (connection.connection_id, seen.object_name.lower(), uuid.lower())
        previous = batch.previous(key, record_key)
        # A poll's proven changes are only "not disproven": a snapshot knows better.
        changed = None if polled and previous is not None else seen.changed_fields
        occurrences = classify(
            object_name=seen.object_name,
            record=seen.record,
            previous=previous,
            event_type=seen.event_type,
            changed_fields=changed,
            occurred_at=seen.occurred_at,
            delivery_id=seen.delivery_id,
        )
        # A product trigger the connection turned off is not published; the other
        # ServiceM8 events pass through whenever a subscription brought them here.
        enabled = frozenset(connection.triggers) if triggers is None else triggers
        events = [
            (o, TriggerEvent.from_occurrence(o, connection_id=connection.connection_id,
                                             account_uuid=connection.account_uuid,
                                             delivery_id=seen.delivery_id))
            for o in occurrences if o.trigger not in PRODUCT_TRIGGERS or o.trigger in enabled
        ]
        if seen.from_snapshot:  # subscribers see the record is partial (record_truncated)
            events = [(o, event.truncated()) for o, event in events]
        batch.claim(key, connection, events)
        if not seen.from_snapshot:
            markers = announcements(seen.object_name, seen.record, previous, occurrences)
            batch.stage_snapshot(key, record_key,
                                 {**snapshot_of(seen.object_name, seen.record), **markers})

    def _published(self, connection_id: str, key: str) -> bool:
        answer = self._db.get_item(
            TableName=self._table, Key=to_item(_dedupe_key(connection_id, key)),
            ConsistentRead=True,
        )
        return from_item(answer.get("Item") or {}).get("state") == "published"


def _fetched_key(connection_id: str, uuid: str) -> dict[str, str]:
    return {"pk": f"CONN#{connection_id}", "sk": f"FETCHED#{uuid.lower()}"}


def parse_event_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for parse in (datetime.fromisoformat,
                  lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)):
        try:
            value = parse(text)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def decode_message(body: str) -> QueuedDelivery:
    return QueuedDelivery.model_validate(json.loads(body))
