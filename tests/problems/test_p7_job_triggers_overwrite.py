"""PROBLEMS.md #7: Job triggers overwrite each other (one subscription per object).

With object webhooks ServiceM8 keeps one subscription per object, and each create
replaces its field list; deleting is by object. So the connector keeps exactly one
Job subscription with the union of the fields every enabled Job trigger watches,
and deletes it only when no Job trigger is left. With event webhooks each trigger
has its own subscription, and removing one leaves the others alone.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.emulator import Emulator
from local.environment import LocalEnvironment
from tests.problems.conftest import TriggerEvents, account_of, api, calls, connect

QUEUE_FIELDS = ["queue_expiry_date", "queue_uuid"]
STEPS: list[tuple[list[str], list[str]]] = [
    (["job_completed"], ["uuid", "status"]),
    (["job_completed", "job_queued"], ["uuid", *QUEUE_FIELDS, "status"]),
    (["new_job", "job_completed", "job_queued"], ["uuid", *QUEUE_FIELDS, "status"]),
    (["job_completed", "job_queued"], ["uuid", *QUEUE_FIELDS, "status"]),  # new_job off
]


def subscriptions(emulator: Emulator, account: str) -> list[dict[str, Any]]:
    state: dict[str, Any] = emulator.state()
    return [s for s in state["subscriptions"] if s["account_uuid"] == account]


def test_object_webhooks_keep_one_job_subscription_with_the_union(
    env: LocalEnvironment, emu: Emulator, trigger_events: TriggerEvents
) -> None:
    connected = connect(env, "P7 Object Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    with api(env, connected) as owner:
        assert owner.put("/triggers", json={"triggers": []}).status_code == 200
        started = time.monotonic()
        for triggers, fields in STEPS:
            answer = owner.put("/triggers", json={"triggers": triggers})
            assert answer.status_code == 200, answer.text
            jobs = [s for s in subscriptions(emu, account) if s.get("object") == "job"]
            assert len(jobs) == 1, triggers
            assert jobs[0]["fields"].split(",") == fields, triggers
            assert jobs[0]["active"] == 1
    deletes = calls(emu, account=account, since=started, path="/webhook_subscriptions",
                    method="DELETE")
    assert [d for d in deletes if (d["form"] or {}).get("object") == "job"] == []

    # A later status change is still classified: Job Completed, exactly once.
    job = emu.put_record(account, "job", {"status": "Work Order"})["uuid"]
    env.drain()
    emu.put_record(account, "job", {"uuid": job, "status": "Completed"})
    env.drain()
    emu.put_record(account, "job", {"uuid": job, "job_description": "signed off"})
    env.drain()
    kinds = trigger_events.kinds(connected.connection_id, job)
    assert kinds.count("Job Completed") == 1


def test_a_disabled_trigger_is_not_published(
    env: LocalEnvironment, emu: Emulator, trigger_events: TriggerEvents
) -> None:
    connected = connect(env, "P7 Disabled Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    with api(env, connected) as owner:
        answer = owner.put("/triggers", json={"triggers": ["job_completed", "job_queued"]})
    assert answer.status_code == 200, answer.text
    job = emu.put_record(account, "job", {"status": "Completed"})["uuid"]
    env.drain()
    assert trigger_events.kinds(connected.connection_id, job) == ["Job Completed"]


@pytest.mark.parametrize("removed", ["new_job", "job_queued"])
def test_event_webhooks_removing_one_trigger_leaves_the_others(
    env: LocalEnvironment, emu: Emulator, removed: str
) -> None:
    connected = connect(env, f"P7 Event Plumbing {removed}")
    account = account_of(env, connected.connection_id)
    wanted = ["new_job", "job_completed", "job_queued"]
    with api(env, connected) as owner:
        assert owner.put("/triggers", json={"triggers": wanted}).status_code == 200
        before = {s["event"]: s["uuid"] for s in subscriptions(emu, account)}
        started = time.monotonic()
        answer = owner.put("/triggers", json={"triggers": [t for t in wanted if t != removed]})
    assert answer.status_code == 200, answer.text
    after = {s["event"]: s["uuid"] for s in subscriptions(emu, account)}
    gone = {"new_job": "job.created", "job_queued": "job.queued"}[removed]
    assert set(before) - set(after) == {gone}
    assert {e: u for e, u in before.items() if e != gone} == after  # untouched, same uuids
    made = calls(emu, account=account, since=started, path="/webhook_subscriptions")
    assert [(c["method"], (c["form"] or {}).get("event")) for c in made] == [("DELETE", gone)]
