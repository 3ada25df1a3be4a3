"""One account's burst against its ServiceM8 rate budget, next to a quiet account.

Account A gets ``jobs x notifications`` object-webhook deliveries within a minute
(each job created, edited, completed); account B gets a few at the same time. Object
deliveries carry no values, so each would cost a fetch: the check is that A's calls
stay within 180 in every rolling minute (the budget allows 175), repeated notifications
for one job coalesce into few fetches, every trigger is still published, and B's calls
never wait for A's budget.

The emulator's request log has no timestamps, so calls are stamped here by wrapping
``Emulator.log_request`` on the running instance.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.chaos import Account, connect_account, queue_depth, read_queue
from local.environment import LocalEnvironment

SERVICEM8_LIMIT_PER_MINUTE = 180
JOB_TRIGGERS = ("New Job", "Job Completed")


@dataclass
class CallLog:
    """ServiceM8 API calls per account, with the time each one arrived."""

    stamps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    delivered: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _entries: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def install(self, env: LocalEnvironment) -> Callable[[], None]:
        assert env.emulator is not None
        emulator = env.emulator
        original = emulator.log_request
        lock = threading.Lock()

        def stamped(request: Any) -> dict[str, Any]:
            entry = original(request)
            with lock:
                self._entries.append((time.time(), entry))
            return entry

        log_delivery = emulator.log_delivery

        def delivered(entry: dict[str, Any]) -> None:  # stamped as the delivery is answered
            with lock:
                self.delivered[str(entry.get("url"))].append(time.time())
            log_delivery(entry)

        emulator.log_request = stamped  # type: ignore[method-assign]
        emulator.log_delivery = delivered  # type: ignore[method-assign]

        def undo() -> None:
            del emulator.log_request
            del emulator.log_delivery

        return undo

    def delivery_span(self, callback_url: str) -> float:
        """Seconds from the first delivery to a callback URL to the last."""
        stamps = self.delivered.get(callback_url, [])
        return max(stamps) - min(stamps) if stamps else 0.0

    def settle(self) -> None:
        """Sort the stamped entries by account (filled in after authentication)."""
        for stamp, entry in self._entries:
            account = entry.get("account_uuid")
            if not account or not str(entry.get("path", "")).startswith("/api_1.0/"):
                continue
            self.stamps[str(account)].append(stamp)
            if entry.get("status") == 429:
                self.refused[str(account)] += 1

    def busiest_minute(self, account_uuid: str) -> int:
        """Most calls in any 60-second window (two pointers over sorted stamps)."""
        stamps = sorted(self.stamps.get(account_uuid, []))
        best = start = 0
        for end, stamp in enumerate(stamps):
            while stamp - stamps[start] >= 60.0:
                start += 1
            best = max(best, end - start + 1)
        return best


@dataclass
class BudgetWaits:
    """Seconds each account's calls slept waiting for room in its rate budget."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    waits: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def install(self) -> Callable[[], None]:
        from servicem8_connector import runtime

        budget = runtime.rate_budget()
        spend, sleep = budget.spend, budget._sleep
        spending = threading.local()

        def spend_for(account_uuid: str) -> None:
            spending.account = account_uuid
            try:
                spend(account_uuid)
            finally:
                spending.account = None

        def sleep_for(seconds: float) -> None:  # the budget sleeps only when it is spent
            account = str(getattr(spending, "account", None))
            self.seconds[account] += seconds
            self.waits[account] += 1
            sleep(seconds)

        budget.spend = spend_for  # type: ignore[method-assign]
        budget._sleep = sleep_for

        def undo() -> None:
            del budget.spend
            budget._sleep = sleep

        return undo


@dataclass(frozen=True)
class LoadPlan:
    jobs: int = 100
    notifications_per_job: int = 10  # created, edited (n - 2) times, completed
    burst_seconds: float = 12.0  # all of A's changes are made within this
    quiet_jobs: int = 5  # account B: created and completed during A's burst
    timeout: float = 240.0


@dataclass
class LoadReport:
    plan: LoadPlan
    deliveries: int
    delivered_within: float
    busiest_minute: int
    fetches: int
    refused: int
    expected: int
    published: int
    duplicated: int
    in_dlq: int
    quiet_expected: int
    quiet_published: int
    quiet_waits: int
    quiet_wait_seconds: float
    quiet_refused: int
    burst_wait_seconds: float
    seconds: float

    @property
    def ok(self) -> bool:
        return (self.busiest_minute <= SERVICEM8_LIMIT_PER_MINUTE and self.refused == 0
                and self.delivered_within <= 60.0
                and self.published == self.expected and self.duplicated == 0
                and self.in_dlq == 0 and self.quiet_published == self.quiet_expected
                and self.quiet_waits == 0 and self.quiet_refused == 0)

    def lines(self) -> list[str]:
        verdict = "OK" if self.ok else "FAILED"
        return [
            f"account A   {self.deliveries} deliveries within {self.delivered_within:.0f} s "
            f"({self.plan.jobs} jobs x {self.plan.notifications_per_job} notifications, "
            f"changed within {self.plan.burst_seconds:.0f} s)",
            f"            ServiceM8 calls: {self.fetches} (naive: one per delivery), busiest "
            f"minute {self.busiest_minute} (limit {SERVICEM8_LIMIT_PER_MINUTE}), "
            f"429s {self.refused}, budget waits {self.burst_wait_seconds:.0f} s",
            f"            triggers published {self.published}/{self.expected}, "
            f"duplicated {self.duplicated}, in DLQ {self.in_dlq}",
            f"account B   triggers published {self.quiet_published}/{self.quiet_expected}, "
            f"budget waits {self.quiet_waits} ({self.quiet_wait_seconds:.1f} s), "
            f"429s {self.quiet_refused}",
            f"{verdict}: rate budget under load ({self.seconds:.0f} s)",
        ]


def burst(env: LocalEnvironment, account: Account, plan: LoadPlan) -> None:
    """A's changes in rounds across ``burst_seconds``: create all, edit all, complete all."""
    assert env.emulator is not None
    emulator = env.emulator
    rounds = plan.notifications_per_job
    pause = plan.burst_seconds / max(1, rounds - 1)
    jobs = []
    for _ in range(plan.jobs):
        job = emulator.put_record(account.account_uuid, "job", {"status": "Quote"})
        jobs.append(str(job["uuid"]))
        account.expected.update((str(job["uuid"]), kind) for kind in JOB_TRIGGERS)
    for index in range(1, rounds):
        time.sleep(pause)
        edit: dict[str, Any] = {"status": "Completed"} if index == rounds - 1 else \
            {"queue_expiry_date": f"2027-01-{index:02d} 17:00:00"}  # watched, fires nothing
        for uuid in jobs:
            emulator.put_record(account.account_uuid, "job", {"uuid": uuid, **edit})


def quiet(env: LocalEnvironment, account: Account, plan: LoadPlan) -> None:
    assert env.emulator is not None
    for _ in range(plan.quiet_jobs):
        job = env.emulator.put_record(account.account_uuid, "job", {"status": "Quote"})
        uuid = str(job["uuid"])
        account.expected.update((uuid, kind) for kind in JOB_TRIGGERS)
        time.sleep(plan.burst_seconds / (2 * plan.quiet_jobs))
        env.emulator.put_record(account.account_uuid, "job",
                                {"uuid": uuid, "status": "Completed"})


def run(env: LocalEnvironment, plan: LoadPlan) -> LoadReport:
    """The load check on a started environment (two accounts of its own)."""
    started = time.monotonic()
    busy = connect_account(env, "burst", event_webhooks=False)
    calm = connect_account(env, "quiet", event_webhooks=False)
    env.drain()
    calls, waits = CallLog(), BudgetWaits()
    undo = [calls.install(env), waits.install()]
    try:
        side = threading.Thread(target=quiet, args=(env, calm, plan), daemon=True)
        side.start()
        burst(env, busy, plan)
        side.join(timeout=plan.burst_seconds * 4)
        env.drain(timeout=plan.timeout)
    finally:
        for action in undo:
            action()
    calls.settle()
    events = read_queue(env, "SubscriberQueue")
    got: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in events:
        detail = event["detail"]
        got[detail["connection_id"]].append((detail["record_uuid"], event["detail-type"]))
    mine, theirs = (got[a.connected.connection_id] for a in (busy, calm))
    assert env.emulator is not None
    deliveries = sum(1 for d in env.emulator.deliveries if d["url"] == busy.callback_url)
    return LoadReport(
        plan=plan, deliveries=deliveries, delivered_within=calls.delivery_span(busy.callback_url),
        busiest_minute=calls.busiest_minute(busy.account_uuid),
        fetches=len(calls.stamps[busy.account_uuid]), refused=calls.refused[busy.account_uuid],
        expected=len(busy.expected), published=len(set(mine) & busy.expected),
        duplicated=len(mine) - len(set(mine)),
        in_dlq=queue_depth(env, "DeliveryDLQ") + queue_depth(env, "SubscriberDLQ"),
        quiet_expected=len(calm.expected), quiet_published=len(set(theirs) & calm.expected),
        quiet_waits=waits.waits[calm.account_uuid],
        quiet_wait_seconds=waits.seconds[calm.account_uuid],
        quiet_refused=calls.refused[calm.account_uuid],
        burst_wait_seconds=waits.seconds[busy.account_uuid],
        seconds=time.monotonic() - started,
    )
