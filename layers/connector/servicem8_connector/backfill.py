"""Catching up, by polling ``edit_date``, on changes no webhook brought while one was down.

**When.** Each maintenance run tells :meth:`Backfill.note_health` what it saw of a
connection's subscriptions. All active, and the previous look no older than the
schedule interval plus slack: nothing can have been missed, ``seen_until`` moves to
now, and no API call is spent. Otherwise (a subscription inactive or gone, or nobody
looked for too long: failed runs, a connection waiting for its reconnect) a gap opens
at ``seen_until`` minus ``LOOKBACK_SECONDS``, never before the connection was made.
The lookback is there because ServiceM8 deactivates a subscription only after its
deliveries kept failing for a while (FACTS.md §4.3): changes made shortly before the
last healthy look may be among them. The gap stays open until a pass covers it.

**How.** vendor.json gives the account's zone, since ServiceM8 dates carry none (§2.7).
The gap is walked in windows of ``edit_date`` (``gt`` start-1s, ``lt`` end+1s; the last
one open-ended), each one cursor-paged list per object the enabled triggers watch
(§2.4, §2.5, §4.6 note 3). Every record takes the processor's own path: snapshot,
classify, dedupe claim, publish; so a trigger a webhook already published is a
duplicate there, and a missed one goes out once. The cursor moves only after a whole
window; each finished window doubles the next, and a run that cannot finish its first
window halves it, so a busy account still gets through. Per connection and run: one
vendor call and at most ``MAX_PAGES_PER_RUN`` pages, from the account's rate budget.
Polling sees records, not events: the pass-through events (``job.updated``, …) of an
outage are not rebuilt, only the five triggers.

**New or merely edited?** A record without a snapshot never reached us. The classifier
calls such a record new unless told otherwise, which is wrong for one made before the
connection and merely edited during the gap. So the poll passes as ``changed_fields``
only what the record itself proves happened since the gap opened:

* formresponse: ``timestamp`` is its creation time in UTC (§3.1), so it is new when that
  is inside the gap; without one it counts as new (responses are rarely edited later).
* job: made before the gap when its ``date`` is an earlier day, or any status stamp
  (``quote_date``, ``work_order_date``, ``completion_date``, ``unsuccessful_date``, set
  when the job enters that status, never before it exists) is before the gap. Otherwise
  it is new, and a queue it is in was entered during the gap. Completed in the gap when
  ``completion_date`` is inside it. An older, never-seen job moved into a queue during
  the gap is not reported: nothing dates the move.
* company: ServiceM8 keeps no creation stamp on a client (§2.8), so an unseen client is
  reported as New Client. Losing the clients created during an outage is the failure
  this module exists to prevent; the opposite error needs a client that existed before
  the connection, never reached us since, and was edited during the outage. It is
  reported once (dedupe on its uuid) and its snapshot is kept for the next gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from servicem8_connector.connections import Connection
from servicem8_connector.dynamo import from_item, to_item
from servicem8_connector.processor import DeliveryProcessor
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.filters import Filter
from servicem8_connector.subscriptions import OBJECT_FIELDS_FOR_TRIGGER
from servicem8_connector.triggers import normalise_record
from servicem8_connector.triggers.records import present

QUIET_LIMIT_SECONDS = 3600 + 900  # template.yaml runs maintenance hourly; plus slack
LOOKBACK_SECONDS = 3 * 3600
WINDOW_SECONDS, MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS = 6 * 3600, 900, 24 * 3600
MAX_PAGES_PER_RUN = 30
UNKNOWN_ZONE_MARGIN = timedelta(hours=14)  # the widest UTC offset in use
SERVICEM8_TIME = "%Y-%m-%d %H:%M:%S"
_JOB_STAMPS = ("quote_date", "work_order_date", "completion_date", "unsuccessful_date")


@dataclass
class BackfillState:
    seen_until: int  # every change before this instant reached us or was polled
    gap_start: int | None = None  # what the new-ness evidence is measured against
    cursor: int | None = None  # the next window starts here
    window_seconds: int = WINDOW_SECONDS
    watermark: str = ""  # account-local end of the last finished window, for people
    timezone_name: str = ""


@dataclass
class BackfillResult:
    pages: int = 0
    records: int = 0
    published: int = 0
    complete: bool = False


class _OutOfBudget(Exception):
    """No pages or time left in this run."""


def watched_objects(triggers: Iterable[str]) -> list[str]:
    objects = {OBJECT_FIELDS_FOR_TRIGGER[t][0] for t in triggers if t in OBJECT_FIELDS_FOR_TRIGGER}
    return sorted(objects)


def account_zone(vendor: dict[str, Any]) -> tuple[tzinfo, timedelta]:
    """The account's zone and how much to widen windows by; UTC ± 14 h when unknown."""
    try:
        return ZoneInfo(str(vendor.get("timezone_name") or "")), timedelta(0)
    except (KeyError, ValueError, TypeError):  # ZoneInfoNotFoundError is a KeyError
        return UTC, UNKNOWN_ZONE_MARGIN


def local_text(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime(SERVICEM8_TIME)


def proven_changes(
    object_name: str, record: dict[str, Any], gap_start: datetime, zone: tzinfo
) -> list[str]:
    """What ``record`` proves changed since ``gap_start``, as ``changed_fields`` for classify."""
    current = normalise_record(record)
    if object_name == "formresponse":
        created = _parse(present(current.get("timestamp")), UTC)
        return ["uuid"] if created is None or created >= gap_start else []
    if object_name != "job":
        return ["uuid"]  # company: nothing dates its creation (module docstring)
    start = local_text(gap_start, zone)
    day = present(current.get("date"))
    stamps = [present(current.get(name)) for name in _JOB_STAMPS]
    made_before = (day is not None and day[:10] < start[:10]) or any(
        stamp is not None and stamp < start for stamp in stamps)
    proven = [] if made_before else ["uuid", "queue_uuid"]
    completed = present(current.get("completion_date"))
    if completed is not None and completed >= start:
        proven.append("status")
    return proven


def changed_at(object_name: str, record: dict[str, Any], zone: tzinfo) -> datetime | None:
    if object_name == "formresponse" and (made := _parse(record.get("timestamp"), UTC)):
        return made
    return _parse(record.get("edit_date"), zone)


def _parse(text: object, zone: tzinfo) -> datetime | None:
    try:
        return datetime.strptime(str(text), SERVICEM8_TIME).replace(tzinfo=zone)
    except ValueError:
        return None


class Backfill:
    """Keeps each connection's watermark and polls its gaps; collaborators injected."""

    def __init__(
        self, *, dynamodb: Any, table: str, processor: DeliveryProcessor,
        servicem8_for: Callable[[str], ServiceM8Client], now: Callable[[], float] = time.time,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._processor = processor
        self._servicem8_for = servicem8_for
        self._now = now

    def note_health(self, connection: Connection, healthy: bool) -> bool:
        """Record one look at the subscriptions; True when a gap is waiting to be polled."""
        state = self.state(connection)
        now = int(self._now())
        if state.gap_start is None:
            if healthy and now - state.seen_until <= QUIET_LIMIT_SECONDS:
                state.seen_until = now
                self._save(connection, state)
                return False
            start = max(state.seen_until - LOOKBACK_SECONDS, int(connection.created_at))
            state.gap_start = state.cursor = start
            self._save(connection, state)
        return True

    def run(self, connection: Connection, *, deadline: float) -> BackfillResult:
        """Poll the open gap, window by window, until done, out of pages or out of time."""
        result = BackfillResult()
        state = self.state(connection)
        if state.gap_start is None or state.cursor is None:
            result.complete = True
            return result
        client = self._servicem8_for(connection.connection_id)
        vendor = client.vendor()
        zone, margin = account_zone(vendor)
        state.timezone_name = str(vendor.get("timezone_name") or "")
        # An unknown zone moves the evidence line earlier: rather report than lose.
        evidence_from = datetime.fromtimestamp(state.gap_start, UTC) - margin
        target, finished = int(self._now()), 0
        while state.cursor <= target:
            if result.pages >= MAX_PAGES_PER_RUN or self._now() >= deadline:
                break
            end = min(state.cursor + state.window_seconds, target)
            try:
                self._window(connection, client, state.cursor, end, end >= target,
                             (zone, margin, evidence_from), deadline, result)
            except _OutOfBudget:
                if not finished:  # a whole run could not finish one window: make it smaller
                    state.window_seconds = max(MIN_WINDOW_SECONDS, state.window_seconds // 2)
                break
            finished += 1
            state.cursor = end + 1
            state.window_seconds = min(MAX_WINDOW_SECONDS, state.window_seconds * 2)
            state.watermark = local_text(datetime.fromtimestamp(end, UTC), zone)
            self._save(connection, state)
        if state.cursor > target:
            state.seen_until, state.gap_start, state.cursor = target, None, None
            result.complete = True
        self._save(connection, state)
        return result

    def _window(
        self, connection: Connection, client: ServiceM8Client, start: int, end: int,
        open_end: bool, account: tuple[tzinfo, timedelta, datetime], deadline: float,
        result: BackfillResult,
    ) -> None:
        zone, margin, evidence_from = account
        first = datetime.fromtimestamp(start - 1, UTC) - margin
        terms = Filter().where("edit_date", "gt", local_text(first, zone))
        if not open_end:
            last = datetime.fromtimestamp(end + 1, UTC) + margin
            terms = terms.where("edit_date", "lt", local_text(last, zone))

        def next_page() -> None:  # each page is one call of the account's budget
            if result.pages >= MAX_PAGES_PER_RUN:
                raise _OutOfBudget
            result.pages += 1

        for object_name in watched_objects(connection.triggers):
            for record in client.records(object_name, terms, before_page=next_page):
                if self._now() >= deadline:
                    raise _OutOfBudget
                if not present(record.get("uuid")):
                    continue
                outcome = self._processor.publish_polled(
                    connection, object_name, record,
                    proven_changes=proven_changes(object_name, record, evidence_from, zone),
                    occurred_at=changed_at(object_name, record, zone),
                    triggers=connection.triggers,
                )
                result.records += 1
                result.published += outcome.published

    def state(self, connection: Connection) -> BackfillState:
        answer = self._db.get_item(TableName=self._table, Key=to_item(_key(connection)),
                                   ConsistentRead=True)
        item = from_item(answer.get("Item") or {})
        if not item:
            return BackfillState(seen_until=int(connection.created_at))
        fields = BackfillState.__dataclass_fields__
        return BackfillState(**{k: v for k, v in item.items() if k in fields})

    def _save(self, connection: Connection, state: BackfillState) -> None:
        values = {k: v for k, v in asdict(state).items() if v is not None}
        item = {**_key(connection), **values, "updated_at": self._now()}
        self._db.put_item(TableName=self._table, Item=to_item(item))


def _key(connection: Connection) -> dict[str, str]:
    return {"pk": f"CONN#{connection.connection_id}", "sk": "BACKFILL"}
