"""PROBLEMS.md #3: "The new API throttling" — webhook-driven fetches hit 429.

ServiceM8 allows 180 calls a minute per app and account. The connector spends a
per-account budget (25 calls per 10 s window) before each call, and coalesces
notifications for one record into one fetch.

Two tests, because a real minute is too long for CI:

* the budget itself, at production numbers, on a fake clock over the stack's
  DynamoDB table: 300 calls for ``tnt_alpha`` never put more than 180 in any 60 s,
  and ``tnt_beta`` beside it never waits;
* the whole path (receiver → queue → processor → emulator) with time divided by 20
  and counts by about 12: a "minute" of 3 s allowing 15 calls, a budget of 2 calls
  per 0.5 s window (7 windows of 2 stay under 15, as 7 windows of 25 stay under 180),
  and 60 deliveries over 24 jobs (the case's 300 over 120, divided by 5).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.chaos import queue_depth
from local.emulator import Emulator, ratelimit
from local.environment import LocalEnvironment
from tests.problems.conftest import (
    TriggerEvents,
    account_of,
    calls,
    connect,
    gateway,
    live,
    webhook_url,
)

MINUTE, PER_MINUTE = 60.0, 180
SCALED_MINUTE, SCALED_PER_MINUTE = 3.0, 15
SCALED_WINDOW, SCALED_PER_WINDOW = 0.5, 2
JOBS, DELIVERIES = 24, 60
BETA_JOBS = 6


def most_in_any_window(stamps: list[float], window: float) -> int:
    """The largest number of ``stamps`` inside any half-open interval of ``window``."""
    ordered, most, start = sorted(stamps), 0, 0
    for end, stamp in enumerate(ordered):
        while ordered[start] <= stamp - window:
            start += 1
        most = max(most, end - start + 1)
    return most


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_budget_keeps_any_minute_under_180_and_accounts_apart(env: LocalEnvironment) -> None:
    assert env.stack is not None
    clock = FakeClock()
    budget = live("ratebudget").RateBudget(
        env.stack.client("dynamodb"), table=env.stack.physical_id("ConnectorTable"),
        now=lambda: clock.now, sleep=clock.sleep, max_wait=60.0,
    )
    granted: list[float] = []
    beta_waits = 0.0
    for call in range(300):
        budget.spend("tnt_alpha-p3")
        granted.append(clock.now)
        clock.now += 0.01  # the caller's own work between calls
        if call % 10 == 0:
            before = clock.now
            budget.spend("tnt_beta-p3")
            beta_waits += clock.now - before
    assert most_in_any_window(granted, MINUTE) <= PER_MINUTE
    assert granted[-1] - granted[0] > MINUTE  # the budget did hold alpha back
    assert beta_waits == 0.0


@dataclass
class Load:
    alpha: str
    beta: str
    alpha_account: str
    beta_account: str
    alpha_jobs: list[str]
    beta_jobs: list[str]
    refused: Counter[str]
    statuses: list[int]


def _object_delivery(job_uuid: str, changed_at: datetime) -> dict[str, Any]:
    return {
        "object": "job",
        "entry": [{"uuid": job_uuid, "changed_fields": ["uuid", "status"],
                   "time": changed_at.strftime("%Y-%m-%d %H:%M:%S")}],
        "resource_url": f"https://api.example.test/api_1.0/job/{job_uuid}.json",
    }


@pytest.fixture(scope="module")
def load(env: LocalEnvironment) -> Load:
    """Both tenants' deliveries, sent and processed under the scaled limits."""
    emulator = env.emulator
    assert emulator is not None and env.stack is not None
    alpha = connect(env, "P3 Alpha Plumbing", event_webhooks=False).connection_id
    beta = connect(env, "P3 Beta Plumbing", event_webhooks=False).connection_id
    connected_at = time.monotonic()
    alpha_account, beta_account = account_of(env, alpha), account_of(env, beta)
    alpha_jobs = [emulator.put_record(alpha_account, "job", {"status": "Quote"},
                                      notify=False)["uuid"] for _ in range(JOBS)]
    beta_jobs = [emulator.put_record(beta_account, "job", {"status": "Quote"},
                                     notify=False)["uuid"] for _ in range(BETA_JOBS)]
    refused: Counter[str] = Counter()
    budget_class = live("ratebudget").RateBudget

    class CountingBudget(budget_class):  # type: ignore[misc, valid-type]
        def _take(self, account_uuid: str, window: int) -> bool:
            taken = bool(super()._take(account_uuid, window))
            refused[account_uuid] += 0 if taken else 1
            return taken

    budget = CountingBudget(env.stack.client("dynamodb"),
                            table=env.stack.physical_id("ConnectorTable"),
                            calls_per_window=SCALED_PER_WINDOW,
                            window_seconds=SCALED_WINDOW)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live("runtime"), "rate_budget", lambda: budget)
        patch.setattr(ratelimit, "_MINUTE", SCALED_MINUTE)
        patch.setattr(emulator.limiter, "per_minute", SCALED_PER_MINUTE)
        # Connecting made a few calls outside any budget: let them leave the "minute".
        time.sleep(max(0.0, connected_at + SCALED_MINUTE - time.monotonic()))
        statuses = _send(env, alpha, alpha_jobs, beta, beta_jobs)
        env.drain(timeout=60)
    return Load(alpha, beta, alpha_account, beta_account, alpha_jobs, beta_jobs, refused,
                statuses)


def _send(env: LocalEnvironment, alpha: str, alpha_jobs: list[str], beta: str,
          beta_jobs: list[str]) -> list[int]:
    """300:120 scaled to 60:24 for alpha (every job at least once), 6 for beta, interleaved."""
    picks = random.Random(3)
    alpha_uuids = alpha_jobs + [picks.choice(alpha_jobs) for _ in range(DELIVERIES - JOBS)]
    picks.shuffle(alpha_uuids)
    changed_at = datetime.now(UTC) - timedelta(seconds=10)
    alpha_path = webhook_url(env, alpha).split("/", 3)[3]
    beta_path = webhook_url(env, beta).split("/", 3)[3]
    sends = [(alpha_path, u) for u in alpha_uuids]
    for index, job_uuid in enumerate(beta_jobs):
        sends.insert(index * 10, (beta_path, job_uuid))
    with gateway(env) as receiver, ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(
            lambda send: receiver.post(f"/{send[0]}", content=json.dumps(
                _object_delivery(send[1], changed_at)),
                headers={"Content-Type": "application/json"}).status_code,
            sends,
        ))


def _fetches(emulator: Emulator, account: str) -> list[dict[str, Any]]:
    return calls(emulator, account=account, path="/api_1.0/job/", method="GET")


def test_every_delivery_is_accepted(load: Load) -> None:
    assert load.statuses == [200] * (DELIVERIES + BETA_JOBS)


def test_never_more_than_the_limit_in_any_minute(emu: Emulator, load: Load) -> None:
    seen = calls(emu, account=load.alpha_account)
    stamps = [float(c["at"]) for c in seen]
    assert most_in_any_window(stamps, SCALED_MINUTE) <= SCALED_PER_MINUTE
    assert [c for c in seen if c["status"] == 429] == []
    assert load.refused[load.alpha_account] > 0  # the budget, not luck, kept it under


def test_notifications_for_one_job_cause_one_fetch(emu: Emulator, load: Load) -> None:
    fetched = Counter(str(c["path"]) for c in _fetches(emu, load.alpha_account))
    assert len(fetched) == JOBS
    assert set(fetched.values()) == {1}


def test_every_trigger_published_and_none_dead_lettered(
    env: LocalEnvironment, trigger_events: TriggerEvents, load: Load
) -> None:
    alpha_events = trigger_events.of(load.alpha)
    new_jobs = Counter(e["detail"]["record_uuid"] for e in alpha_events
                       if e["detail-type"] == "New Job")
    assert new_jobs == Counter(load.alpha_jobs)
    assert sorted(e["detail"]["record_uuid"] for e in trigger_events.of(load.beta)) == \
        sorted(load.beta_jobs)
    assert queue_depth(env, "DeliveryDLQ") == 0


def test_second_tenant_has_its_own_budget(emu: Emulator, load: Load) -> None:
    assert load.refused[load.beta_account] == 0
    beta_calls = calls(emu, account=load.beta_account)
    assert [c for c in beta_calls if c["status"] == 429] == []
    assert len(_fetches(emu, load.beta_account)) == BETA_JOBS
