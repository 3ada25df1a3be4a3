"""PROBLEMS.md #5: add-on authentication after the refresh token expired.

A connection idle for 45 days meets ``invalid_grant``: it is marked for
reconnection, actions answer 409 with a link to reconnect (and nothing secret),
and webhook deliveries are still accepted but publish nothing and fetch nothing.

Parking those deliveries and replaying them after a reconnect is covered by the
parking tests; this module checks what the caller and ServiceM8 observe.
"""

from __future__ import annotations

import time

import httpx

from local.chaos import queue_depth
from local.emulator import Emulator
from local.environment import LocalEnvironment
from tests.problems.conftest import (
    TriggerEvents,
    account_of,
    api,
    calls,
    connect,
    describe,
    live,
    webhook_url,
)

IDLE_SECONDS = 45 * 24 * 3600


def test_expired_grant_needs_reconnect_and_deliveries_publish_nothing(
    env: LocalEnvironment, emu: Emulator, trigger_events: TriggerEvents
) -> None:
    connected = connect(env, "P5 Idle Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    route = webhook_url(env, connected.connection_id)
    store = live("runtime").connection_store()
    connection = store.get(connected.connection_id)
    last_refresh = time.time() - IDLE_SECONDS
    store.update(connection, refreshed_at=last_refresh, access_expires_at=last_refresh + 3600)
    emu.faults.update({"token_fail_next": ["invalid_grant"]})
    token_calls = emu.token_calls

    with api(env, connected) as owner:
        answer = owner.get("/jobs")
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/reconnect-required"
    assert problem["reconnect_url"] == (
        f"{env.api_url}/connect?reconnect={connected.connection_id}")
    for secret in (connected.api_key, route.rsplit("/", 1)[-1]):
        assert secret not in answer.text
    assert describe(env, connected)["status"] == "reconnect_required"
    assert emu.token_calls == token_calls + 1

    job = emu.put_record(account, "job", {"status": "Completed"}, notify=False)["uuid"]
    started = time.monotonic()
    delivery = {"object": "job", "entry": [{"uuid": job, "changed_fields": ["uuid", "status"],
                                            "time": "2025-03-01 08:00:00"}]}
    statuses = [httpx.post(route, json=delivery, timeout=30).status_code for _ in range(3)]
    env.drain()
    assert statuses == [200, 200, 200]
    assert trigger_events.of(connected.connection_id) == []
    # Not hot-retried: no fetch, no token call, nothing left on the queues.
    assert calls(emu, account=account, since=started) == []
    assert emu.token_calls == token_calls + 1
    assert queue_depth(env, "DeliveryQueue") == queue_depth(env, "DeliveryDLQ") == 0
