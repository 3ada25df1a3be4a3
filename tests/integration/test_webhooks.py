"""Webhook receiver → queue → processor → bus → subscriber, on the local stack."""

from __future__ import annotations

import httpx

from local.demo import subscriber_events
from local.environment import LocalEnvironment
from tests.integration.conftest import connect_new_account


def route_url(env: LocalEnvironment, connection_id: str) -> str:
    """Our webhook URL for a connection, as ServiceM8 was given it."""
    assert env.emulator is not None
    for subscription in env.emulator.state()["subscriptions"]:
        if connection_id in str(subscription.get("unique_id")):
            return str(subscription["callback_url"])
    raise AssertionError("no subscription for the connection")


def test_handshake_echoes_the_challenge(local_env: LocalEnvironment, connection_id: str) -> None:
    response = httpx.post(route_url(local_env, connection_id),
                          data={"mode": "subscribe", "challenge": "c-123"}, timeout=30)
    assert response.status_code == 200 and response.text == "c-123"


def test_unknown_route_token_is_404_and_enqueues_nothing(local_env: LocalEnvironment) -> None:
    url = f"{local_env.api_url}/webhooks/servicem8/{'x' * 43}"
    delivery = httpx.post(url, json={"id": "smwe_1", "type": "job.created", "data": {}}, timeout=30)
    challenge = httpx.post(url, data={"mode": "subscribe", "challenge": "c-1"}, timeout=30)
    assert delivery.status_code == challenge.status_code == 404
    assert "c-1" not in challenge.text


def test_object_webhooks_when_event_webhooks_are_refused(local_env: LocalEnvironment) -> None:
    emulator = local_env.emulator
    assert emulator is not None
    emulator.faults.update({"event_webhooks_enabled": False})
    try:
        connected = connect_new_account(local_env, "Object Webhook Electrical")
    finally:
        emulator.faults.update({"event_webhooks_enabled": True})
    connection_id = connected.connection_id
    mine = [s for s in emulator.state()["subscriptions"]
            if s.get("callback_url") == route_url(local_env, connection_id)]
    assert {s.get("object") for s in mine} >= {"job", "company", "formresponse"}

    base = f"{local_env.api_url}/connections/{connection_id}"
    auth = connected.headers
    job = httpx.post(f"{base}/jobs", json={"status": "Quote"}, headers=auth,
                     timeout=30).json()["uuid"]
    httpx.patch(f"{base}/jobs/{job}", json={"status": "Completed"}, headers=auth, timeout=30)
    local_env.drain()
    events = subscriber_events(local_env, connection_id, want=2, timeout=10)
    kinds = sorted(e["detail-type"] for e in events if e["detail"]["record_uuid"] == job)
    assert kinds == ["Job Completed", "New Job"]


def test_expired_token_is_refreshed_on_401(
    local_env: LocalEnvironment, connection_id: str, api: httpx.Client
) -> None:
    emulator = local_env.emulator
    assert emulator is not None
    local_env.drain()  # nothing else may refresh meanwhile
    calls = emulator.token_calls
    emulator.advance_clock(3700)  # ServiceM8 now considers the access token expired
    response = api.get(f"/connections/{connection_id}/clients")
    assert response.status_code == 200
    assert emulator.token_calls == calls + 1
