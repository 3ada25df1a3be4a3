"""Connections only their owner can use: API keys, cross-tenant 404s, disconnect, reconnect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.demo import Connected
from local.environment import LocalEnvironment
from tests.integration.conftest import connect_new_account

RECORD = "00000000-0000-4000-8000-000000000001"
ACTION_ROUTES = [
    ("POST", "clients", {"name": "Intruder"}),
    ("GET", "clients", None),
    ("GET", f"clients/{RECORD}", None),
    ("PATCH", f"clients/{RECORD}", {"name": "x"}),
    ("DELETE", f"clients/{RECORD}", None),
    ("POST", "jobs", {"status": "Quote"}),
    ("GET", "jobs", None),
    ("GET", f"jobs/{RECORD}", None),
    ("PATCH", f"jobs/{RECORD}", {"status": "Completed"}),
    ("DELETE", f"jobs/{RECORD}", None),
]


@pytest.fixture(scope="module")
def other_tenant(local_env: LocalEnvironment) -> Connected:
    return connect_new_account(local_env, "Other Tenant Roofing")


def fresh(local_env: LocalEnvironment) -> Connected:
    return connect_new_account(local_env)


@pytest.mark.parametrize(("method", "path", "body"), ACTION_ROUTES,
                         ids=[f"{m} {p.split('/')[0]}{'/uuid' if '/' in p else ''}"
                              for m, p, _ in ACTION_ROUTES])
def test_another_tenants_key_gets_the_same_404_as_a_made_up_connection(
    local_env: LocalEnvironment, connected: Connected, other_tenant: Connected,
    method: str, path: str, body: dict[str, object] | None,
) -> None:
    assert local_env.emulator is not None
    seen = len(local_env.emulator.requests)
    theirs = httpx.request(method, f"{local_env.api_url}/connections/{connected.connection_id}/"
                           f"{path}", json=body, headers=other_tenant.headers, timeout=30)
    made_up = httpx.request(method, f"{local_env.api_url}/connections/"
                            f"con_MadeUpMadeUpMadeUp00/{path}", json=body,
                            headers=other_tenant.headers, timeout=30)
    assert theirs.status_code == made_up.status_code == 404
    assert theirs.json() | {"instance": None} == made_up.json() | {"instance": None}
    assert len(local_env.emulator.requests) == seen, "ServiceM8 must not be called"


def test_claim_works_once(local_env: LocalEnvironment) -> None:
    with httpx.Client(timeout=30) as browser:
        started = browser.get(f"{local_env.api_url}/connect",
                              params={"return_url": f"{local_env.app_url}/return"})
        consent = browser.get(started.headers["location"])
        back = browser.get(consent.headers["location"])
    query = parse_qs(urlsplit(back.headers["location"]).query)
    url = f"{local_env.api_url}/connections/{query['connection_id'][0]}/api-key"
    first = httpx.post(url, json={"claim": query["claim"][0]}, timeout=30)
    second = httpx.post(url, json={"claim": query["claim"][0]}, timeout=30)
    assert first.status_code == 201
    assert first.json()["api_key"].startswith("sm8c_")
    assert second.status_code == 404


def test_describe_and_turn_a_trigger_off(local_env: LocalEnvironment) -> None:
    owner = fresh(local_env)
    url = f"{local_env.api_url}/connections/{owner.connection_id}"
    described = httpx.get(url, headers=owner.headers, timeout=30).json()
    assert described["status"] == "active"
    assert len(described["triggers"]) == 5
    changed = httpx.put(f"{url}/triggers", headers=owner.headers,
                        json={"triggers": ["new_job", "job_completed"]}, timeout=30)
    assert changed.status_code == 200, changed.text
    assert sorted(changed.json()["subscriptions"]["events"]) == ["job.completed", "job.created"]


def test_disconnect_stops_webhooks_and_actions(local_env: LocalEnvironment) -> None:
    owner = fresh(local_env)
    assert local_env.emulator is not None
    callback_urls = {s["callback_url"] for s in local_env.emulator.state()["subscriptions"]
                     if owner.connection_id in str(s.get("unique_id"))}
    url = f"{local_env.api_url}/connections/{owner.connection_id}"
    answer = httpx.delete(url, headers=owner.headers, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["servicem8_subscriptions_removed"] is True
    remaining = {s["callback_url"] for s in local_env.emulator.state()["subscriptions"]}
    assert not callback_urls & remaining
    for callback_url in callback_urls:
        late = httpx.post(callback_url, json={"id": "smwe_x", "type": "job.created",
                                              "data": {"uuid": RECORD}}, timeout=30)
        assert late.status_code == 404
    assert httpx.get(f"{url}/jobs", headers=owner.headers, timeout=30).status_code == 404


def test_reconnect_with_another_account_changes_nothing(local_env: LocalEnvironment) -> None:
    owner = fresh(local_env)
    emulator = local_env.emulator
    assert emulator is not None
    original = emulator.default_account_uuid
    emulator.default_account_uuid = emulator.add_account(name="Someone Else Electrical")
    try:
        with httpx.Client(timeout=30) as browser:
            started = browser.get(f"{local_env.api_url}/connect",
                                  params={"reconnect": owner.connection_id})
            consent = browser.get(started.headers["location"])
            answer = browser.get(consent.headers["location"])
    finally:
        emulator.default_account_uuid = original
    assert answer.status_code == 409
    assert answer.json()["type"] == "/problems/account-mismatch"
    described = httpx.get(f"{local_env.api_url}/connections/{owner.connection_id}",
                          headers=owner.headers, timeout=30).json()
    assert described["account_uuid"] == original


def test_other_servicem8_events_pass_through_when_asked_for(local_env: LocalEnvironment) -> None:
    from local.demo import subscriber_events

    owner = fresh(local_env)
    emulator = local_env.emulator
    assert emulator is not None
    url = f"{local_env.api_url}/connections/{owner.connection_id}"
    changed = httpx.put(f"{url}/triggers", headers=owner.headers, timeout=30,
                        json={"triggers": ["new_job", "job.invoice_paid"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["subscriptions"]["events"] == {"job.created": "active",
                                                         "job.invoice_paid": "active"}
    job = httpx.post(f"{url}/jobs", json={"status": "Completed"}, headers=owner.headers,
                     timeout=30).json()["uuid"]
    record = next(r for r in emulator.records(emulator.default_account_uuid, "job")
                  if r["uuid"] == job)
    emulator.emit_event(emulator.default_account_uuid, "job.invoice_paid", record)
    local_env.drain()
    kinds = sorted(e["detail-type"] for e in
                   subscriber_events(local_env, owner.connection_id, want=2, timeout=10))
    assert kinds == ["New Job", "ServiceM8 job.invoice_paid"]


def test_reconnect_of_an_unknown_connection_is_refused_before_consent(
    local_env: LocalEnvironment,
) -> None:
    answer = httpx.get(f"{local_env.api_url}/connect",
                       params={"reconnect": "con_DoesNotExist00000000"}, timeout=30)
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/not-found"


def test_sample_app_claims_the_key_from_its_server(local_env: LocalEnvironment) -> None:
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        returned = browser.get(f"{local_env.app_url}/")
        connect_url = returned.text.split('id="connect" href="')[1].split('"')[0]
        landing = browser.get(connect_url.replace("&amp;", "&"))
        assert 'id="claim"' in landing.text
        query = parse_qs(urlsplit(str(landing.url)).query)
        claimed = browser.post(f"{local_env.app_url}/claim", data={
            "connection_id": query["connection_id"][0], "claim": query["claim"][0]})
    assert "id='api-key'>sm8c_" in claimed.text
