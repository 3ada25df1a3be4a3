"""Backfill: what counts as a gap, what a record proves, and each missed trigger once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from servicem8_connector import backfill as backfill_module
from servicem8_connector.backfill import (
    LOOKBACK_SECONDS,
    QUIET_LIMIT_SECONDS,
    Backfill,
    proven_changes,
)
from servicem8_connector.connections import Connection, ConnectionStatus
from servicem8_connector.processor import DeliveryProcessor
from servicem8_connector.publishing import PublishResult
from servicem8_connector.servicem8.errors import RetryLater
from servicem8_connector.servicem8.filters import Filter
from servicem8_connector.subscriptions import ALL_TRIGGERS
from servicem8_connector.triggers import DedupeStore, SnapshotStore, snapshot_of
from tests.support.aws import create_connector_table

BRISBANE = ZoneInfo("Australia/Brisbane")  # UTC+10, no daylight saving
T0 = datetime(2026, 3, 3, 0, 0, tzinfo=UTC).timestamp()  # 10:00 in Brisbane
GAP = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)  # 10:30 in Brisbane


def local(hours_after_t0: float) -> str:
    moment = datetime.fromtimestamp(T0 + hours_after_t0 * 3600, BRISBANE)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(("object_name", "record", "expected"), [
    ("job", {"date": "2026-03-03", "quote_date": local(1)}, ["uuid", "queue_uuid"]),
    ("job", {"date": "2025-01-10", "quote_date": "0000-00-00 00:00:00"}, []),
    ("job", {"date": "2026-03-03", "quote_date": local(0.25)}, []),  # same day, before the gap
    ("job", {"date": "2025-01-10", "completion_date": local(1)}, ["status"]),
    ("job", {"date": "2026-03-03", "work_order_date": local(1), "completion_date": local(2)},
     ["uuid", "queue_uuid", "status"]),
    ("formresponse", {"timestamp": "2026-03-03 00:45:00"}, ["uuid"]),  # UTC, inside the gap
    ("formresponse", {"timestamp": "2026-03-03 00:15:00"}, []),  # UTC, before it
    ("company", {"name": "No creation stamp"}, ["uuid"]),
], ids=["new-job", "old-job", "same-day-older-job", "old-job-completed", "new-job-completed",
        "new-form", "old-form", "company"])
def test_what_a_record_without_snapshot_proves(
    object_name: str, record: dict[str, Any], expected: list[str]
) -> None:
    assert proven_changes(object_name, record, GAP, BRISBANE) == expected


class Publisher:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, events: list[Any]) -> PublishResult:
        self.events.extend(events)
        return PublishResult(calls=1)

    def seen(self) -> list[tuple[str, str | None]]:
        return sorted((e.detail_type, e.record_uuid) for e in self.events)


class ServiceM8:
    """Lists records filtered by ``edit_date`` the way ServiceM8 does, one page at a time."""

    def __init__(self, records: dict[str, list[dict[str, Any]]], page_size: int = 5000) -> None:
        self.rows = records
        self.page_size = page_size
        self.calls: list[str] = []
        self.fail_on: str | None = None

    def vendor(self) -> dict[str, Any]:
        self.calls.append("vendor")
        return {"uuid": "account", "timezone_name": "Australia/Brisbane"}

    def records(
        self, object_name: str, terms: Filter, before_page: Callable[[], None]
    ) -> Iterator[dict[str, Any]]:
        if object_name == self.fail_on:
            raise RetryLater("injected")
        found = [r for r in self.rows.get(object_name, [])
                 if all(_holds(r.get(t.field), t.op, str(t.value)) for t in terms.terms)]
        for start in range(0, max(len(found), 1), self.page_size):
            before_page()
            self.calls.append(f"{object_name}?{terms.render()}")
            yield from found[start:start + self.page_size]


def _holds(value: Any, op: str, bound: str) -> bool:
    return str(value) > bound if op == "gt" else str(value) < bound


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield create_connector_table(boto3.client("dynamodb", region_name="us-east-1"))


class Rig:
    def __init__(self, table: tuple[Any, str], records: dict[str, list[dict[str, Any]]],
                 triggers: tuple[str, ...] = ALL_TRIGGERS, page_size: int = 5000) -> None:
        client, name = table
        self.clock = Clock()
        self.publisher = Publisher()
        self.snapshots = SnapshotStore(client, name, now=self.clock)
        self.dedupe = DedupeStore(client, name, now=self.clock)
        self.servicem8 = ServiceM8(records, page_size)
        processor = DeliveryProcessor(
            connections=None,  # type: ignore[arg-type]  # polled records need no lookup
            snapshots=self.snapshots, dedupe=self.dedupe,
            publisher=self.publisher,  # type: ignore[arg-type]
            # A fake with the few client methods used here.
            servicem8_for=self._servicem8_for,
            dynamodb=client, table=name, now=self.clock)
        self.backfill = Backfill(dynamodb=client, table=name, processor=processor,
                                 servicem8_for=self._servicem8_for,
                                 now=self.clock)
        self.connection = Connection(
            connection_id="con_gap", status=ConnectionStatus.ACTIVE, account_uuid="account",
            created_at=T0, access_expires_at=T0, refreshed_at=T0, sealed_secrets="-",
            triggers=triggers)

    def _servicem8_for(self, _connection_id: str) -> Any:
        return self.servicem8

    def look(self, healthy: bool, at_hours: float) -> bool:
        self.clock.now = T0 + at_hours * 3600
        return self.backfill.note_health(self.connection, healthy)

    def seen_before_the_gap(self, object_name: str, record: dict[str, Any]) -> None:
        self.snapshots.put("con_gap", object_name, record["uuid"], snapshot_of(object_name, record))


def job(uuid: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "active": 1, "status": "Quote", "date": "2026-03-03",
            "queue_uuid": "", "completion_date": "0000-00-00 00:00:00", **fields}


def test_healthy_subscriptions_looked_at_hourly_cost_no_call(table: tuple[Any, str]) -> None:
    rig = Rig(table, {})
    assert rig.look(healthy=True, at_hours=1) is False
    assert rig.look(healthy=True, at_hours=2) is False
    assert rig.backfill.state(rig.connection).seen_until == int(T0 + 2 * 3600)
    assert rig.servicem8.calls == []


def test_gap_opens_a_lookback_before_the_last_healthy_look_never_before_the_connection(
    table: tuple[Any, str],
) -> None:
    rig = Rig(table, {})
    assert rig.look(healthy=False, at_hours=1) is True
    assert rig.backfill.state(rig.connection).gap_start == int(T0)
    rig.backfill.run(rig.connection, deadline=float("inf"))
    for hour in range(2, 6):
        assert rig.look(healthy=True, at_hours=hour) is False
    assert rig.look(healthy=False, at_hours=6) is True
    assert rig.backfill.state(rig.connection).gap_start == int(T0 + 5 * 3600 - LOOKBACK_SECONDS)
    rig.backfill.run(rig.connection, deadline=float("inf"))
    assert rig.look(healthy=True, at_hours=16) is True  # nobody looked for ten hours
    assert rig.backfill.state(rig.connection).gap_start == int(T0 + 6 * 3600 - LOOKBACK_SECONDS)
    rig.backfill.run(rig.connection, deadline=float("inf"))
    assert rig.look(healthy=True, at_hours=16 + QUIET_LIMIT_SECONDS / 3600) is False


def test_each_missed_trigger_is_published_once_and_an_edited_old_job_not_at_all(
    table: tuple[Any, str],
) -> None:
    was_open = job("a", status="Work Order", edit_date=local(-5))
    was_free = job("b", edit_date=local(-4))
    delivered = job("d", quote_date=local(0.9), edit_date=local(0.9))
    records = {
        "job": [
            job("a", status="Completed", completion_date=local(1.5), edit_date=local(1.5)),
            job("b", queue_uuid="q1", queue_expiry_date="2026-03-10 17:00:00",
                edit_date=local(1.2)),
            job("c", quote_date=local(1.1), edit_date=local(1.1)),
            job("old", date="2025-01-10", quote_date="2025-01-10 09:00:00", edit_date=local(1.3)),
            job("old-done", date="2025-01-10", status="Completed", completion_date=local(1.4),
                edit_date=local(1.4)),
            delivered,
        ],
        "company": [{"uuid": "client", "active": 1, "name": "New", "edit_date": local(1.2)}],
        "formresponse": [
            {"uuid": "form", "active": 1, "timestamp": "2026-03-03 01:00:00",
             "edit_date": local(1)},
            {"uuid": "old-form", "active": 1, "timestamp": "2026-02-01 01:00:00",
             "edit_date": local(1.6)},
        ],
    }
    rig = Rig(table, records)
    rig.seen_before_the_gap("job", was_open)
    rig.seen_before_the_gap("job", was_free)
    rig.seen_before_the_gap("job", delivered)  # its webhook came through before the outage
    assert rig.dedupe.claim("con_gap", "new_job:d")
    rig.dedupe.mark_published("con_gap", "new_job:d")

    assert rig.look(healthy=False, at_hours=2) is True
    result = rig.backfill.run(rig.connection, deadline=float("inf"))

    assert result.complete and result.published == 6
    assert rig.publisher.seen() == sorted([
        ("Job Completed", "a"), ("Job Queued", "b"), ("New Job", "c"),
        ("Job Completed", "old-done"), ("New Client", "client"), ("New Form Response", "form")])
    filters = [c for c in rig.servicem8.calls if c != "vendor"]
    assert filters == [f"{o}?edit_date gt '{local(-1 / 3600)}'"
                       for o in ("company", "formresponse", "job")]
    state = rig.backfill.state(rig.connection)
    assert state.gap_start is None and state.seen_until == int(T0 + 2 * 3600)
    assert state.watermark == local(2) and state.timezone_name == "Australia/Brisbane"

    assert rig.look(healthy=False, at_hours=3) is True  # down again: the overlap is re-read
    rig.backfill.run(rig.connection, deadline=float("inf"))
    assert len(rig.publisher.events) == 6


def test_disabled_triggers_are_neither_polled_nor_published(table: tuple[Any, str]) -> None:
    records = {"job": [job("c", quote_date=local(1), status="Completed",
                           completion_date=local(1), edit_date=local(1))],
               "company": [{"uuid": "client", "name": "New", "edit_date": local(1)}]}
    rig = Rig(table, records, triggers=("job_completed",))
    rig.look(healthy=False, at_hours=2)
    rig.backfill.run(rig.connection, deadline=float("inf"))
    assert rig.publisher.seen() == [("Job Completed", "c")]
    assert not any(c.startswith("company") for c in rig.servicem8.calls)


def test_a_failed_pass_keeps_the_gap_and_the_retry_publishes_only_what_is_left(
    table: tuple[Any, str],
) -> None:
    records = {"company": [{"uuid": "client", "name": "New", "edit_date": local(1)}],
               "job": [job("c", quote_date=local(1), edit_date=local(1))]}
    rig = Rig(table, records)
    rig.look(healthy=False, at_hours=2)
    rig.servicem8.fail_on = "job"
    with pytest.raises(RetryLater):
        rig.backfill.run(rig.connection, deadline=float("inf"))
    assert rig.backfill.state(rig.connection).cursor == int(T0)
    rig.servicem8.fail_on = None
    rig.clock.now += 3600
    assert rig.backfill.run(rig.connection, deadline=float("inf")).complete
    assert rig.publisher.seen() == [("New Client", "client"), ("New Job", "c")]


def test_a_long_gap_is_walked_within_the_page_budget_and_finishes(
    table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backfill_module, "MAX_PAGES_PER_RUN", 3)
    # A busy first two hours, then one every three hours for a day and a half.
    hours = [0.25, 0.5, 0.75, 1.25, 1.5, 1.75, *range(3, 40, 3)]
    forms = [{"uuid": f"form-{n}", "timestamp": "2026-03-04 00:00:00", "edit_date": local(n)}
             for n in hours]
    rig = Rig(table, {"formresponse": forms}, triggers=("new_form_response",), page_size=1)
    rig.look(healthy=False, at_hours=40)
    runs = 0
    while not rig.backfill.run(rig.connection, deadline=float("inf")).complete:
        runs += 1
        assert runs < 30, "the backfill made no progress"
    assert rig.publisher.seen() == sorted(("New Form Response", f["uuid"]) for f in forms)


def test_running_out_of_time_leaves_the_window_for_next_run(table: tuple[Any, str]) -> None:
    rig = Rig(table, {"job": [job("c", quote_date=local(1), edit_date=local(1))]})
    rig.look(healthy=False, at_hours=2)
    result = rig.backfill.run(rig.connection, deadline=rig.clock.now)
    assert not result.complete and rig.publisher.events == []
    assert rig.backfill.run(rig.connection, deadline=float("inf")).complete
    assert rig.publisher.seen() == [("New Job", "c")]
