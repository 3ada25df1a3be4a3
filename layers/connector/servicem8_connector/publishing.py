"""Trigger events on the EventBridge bus: the ``detail`` contract and a careful publisher.

The detail of every event is a :class:`TriggerEvent`; its JSON Schemas live in
``schemas/events/<detail-type-slug>.v1.json``. PutEvents can accept a request yet
reject single entries (``FailedEntryCount``), so the publisher retries exactly those and
raises :class:`PublishError` for any it could not place; none is dropped silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from servicem8_connector.settings import EVENT_SOURCE
from servicem8_connector.triggers.classify import FieldChange, Occurrence, Trigger, detail_type_for
from servicem8_connector.triggers.records import snapshot_of

MAX_ENTRIES_PER_CALL = 10
MAX_REQUEST_BYTES = 256 * 1024
MAX_RETRIES = 3
_BACKOFF_SECONDS = (0.1, 0.3, 0.9)
_TIME_FIELD_BYTES = 14  # EventBridge counts a set Time as 14 bytes of the entry size


class TriggerEvent(BaseModel):
    """The ``detail`` of a trigger event, as subscribers receive it (schema version 1)."""

    model_config = ConfigDict(
        frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    schema_version: Literal["1"] = "1"
    trigger: Trigger | str
    connection_id: str
    account_uuid: str | None
    object_name: str = Field(alias="object")
    record_uuid: str | None
    record: dict[str, Any]
    record_truncated: bool = False
    changes: dict[str, FieldChange]
    occurred_at: datetime
    idempotency_key: str
    delivery_id: str | None = None

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        # Naive times in this package are UTC already (webhook entry times are UTC).
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_serializer("occurred_at")
    def _iso_utc(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    @property
    def detail_type(self) -> str:
        return detail_type_for(self.trigger)

    @classmethod
    def from_occurrence(
        cls,
        occurrence: Occurrence,
        *,
        connection_id: str,
        account_uuid: str | None,
        delivery_id: str | None = None,
    ) -> TriggerEvent:
        """The bus event for one classified occurrence of one connection."""
        return cls(
            trigger=occurrence.trigger,
            connection_id=connection_id,
            account_uuid=account_uuid,
            object=occurrence.object_name,
            record_uuid=occurrence.record_uuid,
            record=occurrence.record,
            changes=occurrence.changes,
            occurred_at=occurrence.occurred_at,
            idempotency_key=f"{connection_id}:{occurrence.dedupe_key}",
            delivery_id=delivery_id,
        )

    def detail_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), separators=(",", ":"))

    def truncated(self) -> TriggerEvent:
        """This event with ``record`` cut to its snapshot fields, to fit EventBridge."""
        record = snapshot_of(self.object_name, self.record)
        return self.model_copy(update={"record": record, "record_truncated": True})


class EventsClient(Protocol):
    """The slice of a boto3 EventBridge client the publisher calls."""

    def put_events(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class FailedEntry:
    """An event EventBridge would not take, with its last error."""

    idempotency_key: str
    error_code: str
    error_message: str


@dataclass(frozen=True)
class PublishResult:
    """PutEvents calls made, and the EventBridge event id per idempotency key."""

    calls: int
    event_ids: dict[str, str] = field(default_factory=dict)


class PublishError(Exception):
    """Some events are not on the bus: release their dedupe claims and retry later.

    ``result`` names the events that did get published, which must stay claimed.
    """

    def __init__(self, failures: Sequence[FailedEntry], result: PublishResult) -> None:
        keys = ", ".join(failure.idempotency_key for failure in failures)
        super().__init__(f"{len(failures)} event(s) not published: {keys}")
        self.failures = tuple(failures)
        self.result = result


@dataclass
class _Pending:
    event: TriggerEvent
    entry: dict[str, Any]
    size: int
    error: FailedEntry | None = None


class EventPublisher:
    """Puts trigger events on one bus, in batches PutEvents accepts."""

    def __init__(
        self,
        events_client: EventsClient,
        bus_name: str,
        source: str = EVENT_SOURCE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = events_client
        self._bus = bus_name
        self._source = source
        self._sleep = sleep

    def publish(self, events: Sequence[TriggerEvent]) -> PublishResult:
        """Publish every event, retrying rejected entries up to three times.

        Raises:
            PublishError: Some events are still rejected, or one cannot fit a request.
        """
        pending, failures = self._prepare(events)
        calls = 0
        event_ids: dict[str, str] = {}
        for attempt in range(MAX_RETRIES + 1):
            if not pending:
                break
            if attempt:
                self._sleep(_BACKOFF_SECONDS[attempt - 1])
            rejected: list[_Pending] = []
            for batch in _batches(pending):
                calls += 1
                rejected += self._put(batch, event_ids)
            pending = rejected
        failures += [item.error for item in pending if item.error is not None]
        result = PublishResult(calls=calls, event_ids=event_ids)
        if failures:
            raise PublishError(failures, result)
        return result

    def _prepare(self, events: Sequence[TriggerEvent]) -> tuple[list[_Pending], list[FailedEntry]]:
        pending: list[_Pending] = []
        too_big: list[FailedEntry] = []
        for event in events:
            item = self._pending(event)
            if item.size > MAX_REQUEST_BYTES:
                item = self._pending(event.truncated())
            if item.size > MAX_REQUEST_BYTES:
                message = f"{item.size} bytes even with the record truncated"
                too_big.append(FailedEntry(event.idempotency_key, "EntryTooLarge", message))
            else:
                pending.append(item)
        return pending, too_big

    def _pending(self, event: TriggerEvent) -> _Pending:
        entry = {
            "Source": self._source,
            "DetailType": event.detail_type,
            "Detail": event.detail_json(),
            "EventBusName": self._bus,
            "Time": event.occurred_at,
        }
        size = _TIME_FIELD_BYTES + sum(
            len(str(entry[name]).encode()) for name in ("Source", "DetailType", "Detail")
        )
        return _Pending(event=event, entry=entry, size=size)

    def _put(self, batch: list[_Pending], event_ids: dict[str, str]) -> list[_Pending]:
        """One PutEvents call; returns the entries it rejected, each with its error."""
        try:
            answer = self._client.put_events(Entries=[item.entry for item in batch])
        except (ClientError, BotoCoreError) as error:
            # The whole call failed (throttled, network): every entry in it is retried.
            answer = {"Entries": [_call_failure(error)] * len(batch)}
        results = answer.get("Entries", [])
        rejected = []
        for index, item in enumerate(batch):
            outcome = results[index] if index < len(results) else {}
            if outcome.get("EventId") and not outcome.get("ErrorCode"):
                event_ids[item.event.idempotency_key] = outcome["EventId"]
                continue
            item.error = FailedEntry(
                idempotency_key=item.event.idempotency_key,
                error_code=str(outcome.get("ErrorCode", "MissingResult")),
                error_message=str(outcome.get("ErrorMessage", "no result for this entry")),
            )
            rejected.append(item)
        return rejected


def _call_failure(error: ClientError | BotoCoreError) -> dict[str, str]:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "ClientError"))
    else:
        code = type(error).__name__
    return {"ErrorCode": code, "ErrorMessage": str(error)[:500]}


def _batches(items: list[_Pending]) -> Iterator[list[_Pending]]:
    """Runs of at most 10 entries whose sizes add up to at most 256 KB."""
    batch: list[_Pending] = []
    size = 0
    for item in items:
        if batch and (len(batch) == MAX_ENTRIES_PER_CALL or size + item.size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch
