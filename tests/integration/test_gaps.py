"""No gaps: an outage is backfilled, and deliveries parked for a reconnect are replayed once.

Both stories run on the local stack: the emulator stands in for ServiceM8, the
MaintenanceFunction runs as its schedule would invoke it, and trigger events are read
from the sample SubscriberQueue as any subscriber would read them.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx

from local.demo import subscriber_events
from local.environment import LocalEnvironment
from tests.integration.conftest import connect_new_account

FORM = "7f1c2d3e-0000-4000-8000-00000000f0f0"


def our_subscriptions(env: LocalEnvironment, connection_id: str) -> list[Any]:
    assert env.emulator is not None
    return [s for s in env.emulator.subscriptions.all()
            if connection_id in s.unique_id]


def route_url(env: LocalEnvironment, connection_id: str) -> str:
    return str(our_subscriptions(env, connection_id)[0].callback_url)


def table_items(env: LocalEnvironment, connection_id: str, prefix: str) -> list[dict[str, Any]]:
    assert env.stack is not None
    answer = env.stack.client("dynamodb").query(
        TableName=env.stack.physical_id("ConnectorTable"),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"CONN#{connection_id}"},
                                   ":prefix": {"S": prefix}},
    )
    return list(answer["Items"])


def triggers_seen(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["detail-type"], e["detail"]["record_uuid"]) for e in events)


def run_maintenance(env: LocalEnvironment) -> dict[str, int]:
    assert env.stack is not None
    counts = env.stack.invoke_schedule("MaintenanceFunction")
    env.drain()
    return dict(counts or {})


def test_an_hour_long_outage_is_backfilled_exactly_once(local_env: LocalEnvironment) -> None:
    env, emu = local_env, local_env.emulator
    assert emu is not None
    owner = connect_new_account(env, "Outage Plumbing")
    account = emu.default_account_uuid
    # Made before the connection existed (no webhook, dated last year), edited in the outage.
    old = emu.put_record(account, "job", {
        "status": "Quote", "date": "2025-01-10", "quote_date": "2025-01-10 09:00:00",
        "edit_date": "2025-01-10 09:00:00", "job_description": "Old gutter job"}, notify=False)
    to_complete = emu.put_record(account, "job", {"status": "Work Order"})
    to_queue = emu.put_record(account, "job", {"status": "Quote"})
    queue = emu.put_record(account, "queue", {"name": "Parts on order"}, notify=False)
    env.drain()
    before = subscriber_events(env, owner.connection_id, want=2, timeout=10)
    assert {e["detail"]["record_uuid"] for e in before} == {to_complete["uuid"], to_queue["uuid"]}

    with emu.subscriptions.lock:  # ServiceM8 gave up on our endpoint
        for subscription in our_subscriptions(env, owner.connection_id):
            subscription.active = 0
    emu.advance_clock(1800)
    new_job = emu.put_record(account, "job", {"status": "Quote", "job_description": "New"})
    emu.put_record(account, "job", {"uuid": to_complete["uuid"], "status": "Completed"})
    emu.put_record(account, "job", {"uuid": to_queue["uuid"], "queue_uuid": queue["uuid"],
                                    "queue_expiry_date": "2030-01-01 17:00:00"})
    client = emu.put_record(account, "company", {"name": "Outage Client Pty Ltd"})
    form = emu.put_record(account, "formresponse", {
        "form_uuid": FORM, "regarding_object": "job", "regarding_object_uuid": new_job["uuid"],
        "field_data": json.dumps([{"question": "Done?", "answer": "Yes"}])})
    emu.put_record(account, "job", {"uuid": old["uuid"], "job_description": "Edited"})
    emu.advance_clock(1800)
    env.drain()
    assert subscriber_events(env, owner.connection_id, want=0, timeout=2) == []

    counts = run_maintenance(env)
    assert counts.get("SubscriptionsRenewed", 0) >= 1
    assert counts.get("TriggersBackfilled") == 5 and counts.get("BackfillsComplete") == 1
    events = subscriber_events(env, owner.connection_id, want=5, timeout=15)
    assert triggers_seen(events) == Counter({
        ("New Job", new_job["uuid"]): 1,
        ("Job Completed", to_complete["uuid"]): 1,
        ("Job Queued", to_queue["uuid"]): 1,
        ("New Client", client["uuid"]): 1,
        ("New Form Response", form["uuid"]): 1,
    })
    assert all(e["detail"]["connection_id"] == owner.connection_id for e in events)
    assert len({e["detail"]["idempotency_key"] for e in events}) == 5
    assert all(s.active for s in our_subscriptions(env, owner.connection_id))

    # ServiceM8's late deliveries of the same changes, then the next hourly run.
    late = [("job.created", emu.records(account, "job"), new_job["uuid"]),
            ("job.completed", emu.records(account, "job"), to_complete["uuid"]),
            ("job.queued", emu.records(account, "job"), to_queue["uuid"]),
            ("company.created", emu.records(account, "company"), client["uuid"]),
            ("form.response_created", emu.records(account, "formresponse"), form["uuid"])]
    url = route_url(env, owner.connection_id)
    for number, (event, records, uuid) in enumerate(late):
        data = next(r for r in records if r["uuid"] == uuid)
        answer = httpx.post(url, json={"id": f"smwe_late_{number}", "type": event, "data": data},
                            timeout=30)
        assert answer.status_code == 200
    env.drain()
    assert run_maintenance(env).get("SubscriptionsHealthy", 0) >= 1
    assert subscriber_events(env, owner.connection_id, want=0, timeout=3) == []


def test_deliveries_parked_for_a_reconnect_are_replayed_once(local_env: LocalEnvironment) -> None:
    env, emu = local_env, local_env.emulator
    assert emu is not None
    owner = connect_new_account(env, "Lapsed Electrical")
    account = emu.default_account_uuid
    emu.revoke(account)  # the grant dies: ServiceM8 answers 401, then invalid_grant
    base = f"{env.api_url}/connections/{owner.connection_id}"
    lapsed = httpx.get(f"{base}/jobs", headers=owner.headers, timeout=30)
    assert lapsed.status_code == 409
    assert lapsed.json()["type"] == "/problems/reconnect-required"

    deliveries_before = len(emu.deliveries)
    client = emu.put_record(account, "company", {"name": "Parked Client"})
    job = emu.put_record(account, "job", {"status": "Quote"})
    form = emu.put_record(account, "formresponse", {
        "form_uuid": FORM, "regarding_object": "job", "regarding_object_uuid": job["uuid"]})
    env.drain()
    sent = emu.deliveries[deliveries_before:]
    assert [d["status"] for d in sent] == [200, 200, 200]
    # PROBLEMS.md case 5's own input: one object delivery, three times, to be fetched back.
    done = emu.put_record(account, "job", {"status": "Completed"}, notify=False)
    entry = {"uuid": done["uuid"], "changed_fields": ["uuid", "status"],
             "time": "2025-03-01 08:00:00"}
    url = route_url(env, owner.connection_id)
    for _ in range(3):
        answer = httpx.post(url, json={"object": "job", "entry": [entry]}, timeout=30)
        assert answer.status_code == 200
    env.drain()
    assert subscriber_events(env, owner.connection_id, want=0, timeout=2) == []
    parked = table_items(env, owner.connection_id, "PARK#")
    assert [p["reason"]["S"] for p in parked] == ["reconnect-required"] * 6
    raw = table_items(env, owner.connection_id, "RAW#")
    week = 7 * 24 * 3600
    assert len(raw) >= 3
    assert all(int(r["expires_at"]["N"]) == int(float(r["received_at"]["N"])) + week
               for r in raw)

    with httpx.Client(timeout=30) as browser:
        started = browser.get(f"{env.api_url}/connect", params={"reconnect": owner.connection_id})
        consent = browser.get(started.headers["location"])
        back = browser.get(consent.headers["location"])
    assert back.status_code < 400, back.text
    env.drain()
    events = subscriber_events(env, owner.connection_id, want=5, timeout=15)
    assert triggers_seen(events) == Counter({("New Client", client["uuid"]): 1,
                                             ("New Job", job["uuid"]): 1,
                                             ("New Form Response", form["uuid"]): 1,
                                             ("New Job", done["uuid"]): 1,
                                             ("Job Completed", done["uuid"]): 1})
    assert table_items(env, owner.connection_id, "PARK#") == []
    assert httpx.get(f"{base}/jobs", headers=owner.headers, timeout=30).status_code == 200

    run_maintenance(env)
    assert subscriber_events(env, owner.connection_id, want=0, timeout=3) == []
