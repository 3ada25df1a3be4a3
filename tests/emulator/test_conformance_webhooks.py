"""The emulator against FACTS.md §4 (webhooks): management, handshake, deliveries, faults.

Deliveries and handshakes go to a real loopback receiver (the `receiver` fixture).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from local.emulator import Emulator

JOB = "/api_1.0/job.json"
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def subscribe_object(
    client: httpx.Client,
    auth: dict[str, str],
    object_name: str,
    fields: str,
    url: str,
    path: str = "/webhook_subscriptions/object",
) -> httpx.Response:
    data = {"object": object_name, "fields": fields, "callback_url": url, "unique_id": url}
    return client.post(path, headers=auth, data=data)


def subscribe_event(
    client: httpx.Client, auth: dict[str, str], event: str, url: str
) -> httpx.Response:
    data = {"event": event, "callback_url": url, "unique_id": url}
    return client.post("/webhook_subscriptions/event", headers=auth, data=data)


def listed(client: httpx.Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get("/webhook_subscriptions", headers=auth)
    assert answer.status_code == 200
    return list(answer.json())


def new_job(client: httpx.Client, auth: dict[str, str], **fields: object) -> str:
    answer = client.post(JOB, headers=auth, json={"status": "Quote", **fields})
    assert answer.status_code == 200, answer.text
    return answer.headers["x-record-uuid"]


def update_job(client: httpx.Client, auth: dict[str, str], job: str, **fields: object) -> None:
    answer = client.post(f"/api_1.0/job/{job}.json", headers=auth, json=fields)
    assert answer.status_code == 200, answer.text


# --- §4.1 management ----------------------------------------------------------------------


def test_webhook_paths_under_api_1_0_are_refused(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    for path in ("/api_1.0/webhook_subscriptions", "/api_1.0/webhook_subscriptions/object"):
        answer = subscribe_object(client, auth, "job", "status", receiver.url(), path=path)
        assert answer.status_code == 400
        assert answer.json() == {
            "errorCode": 400,
            "message": "webhook_subscriptions is not an authorised object type",
        }


def test_json_body_on_subscription_is_not_read(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    body = {"object": "job", "fields": "status", "callback_url": receiver.url()}
    for path in ("/webhook_subscriptions", "/webhook_subscriptions/object"):
        answer = client.post(path, headers=auth, json=body)
        assert answer.status_code == 400
        assert answer.json() == {
            "success": False,
            "message": "Please specify an object for subscription",
        }
    assert listed(client, auth) == [] and receiver.challenges == []


def test_query_string_parameters_are_accepted(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    params = {"object": "Company", "fields": "uuid", "callback_url": receiver.url()}
    answer = client.post("/webhook_subscriptions", headers=auth, params=params)
    assert answer.json()["success"] is True
    assert listed(client, auth)[0]["object"] == "company"


def test_subscription_requires_credentials(client: httpx.Client, receiver: Any) -> None:
    answer = subscribe_object(client, {}, "job", "status", receiver.url())
    assert answer.status_code == 401


def test_object_subscription_challenge_is_form_encoded_and_echoed(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    answer = subscribe_object(client, auth, "job", "uuid,status", receiver.url())
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert len(receiver.challenges) == 1
    handshake = receiver.challenges[0]
    assert handshake["mode"] == "subscribe" and len(handshake["challenge"]) >= 16


def test_failed_challenge_stores_nothing(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    receiver.echo_challenge = False
    answer = subscribe_object(client, auth, "job", "status", receiver.url())
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "message": "Callback URL did not respond with the challenge",
    }
    assert listed(client, auth) == []


def test_unreachable_callback_fails_the_subscribe_call(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    answer = subscribe_object(client, auth, "job", "status", "http://127.0.0.1:9/nothing-here")
    assert answer.status_code == 400 and answer.json()["success"] is False


def test_non_loopback_callback_is_never_contacted(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    answer = subscribe_object(client, auth, "job", "status", "https://hooks.example.test/sm8")
    assert answer.status_code == 400
    assert emu.handshakes[-1]["status"] is None
    assert "loopback" in str(emu.handshakes[-1]["error"])


def test_object_subscription_replaces_previous_for_same_object(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "status", receiver.url("/first"))
    subscribe_object(client, auth, "Job", "uuid,queue_uuid", receiver.url("/second"))
    subscribe_object(client, auth, "company", "uuid", receiver.url("/clients"))
    subs = listed(client, auth)
    jobs = [s for s in subs if s.get("object") == "job"]
    assert len(jobs) == 1 and len(subs) == 2
    assert jobs[0]["fields"] == "uuid,queue_uuid"
    assert jobs[0]["callback_url"] == receiver.url("/second")


def test_list_subscriptions_shows_fields(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "uuid,status", receiver.url())
    subscribe_event(client, auth, "job.completed", receiver.url("/events"))
    subs = {s.get("object") or s.get("event"): s for s in listed(client, auth)}
    job = subs["job"]
    assert job["fields"] == "uuid,status" and job["active"] == 1
    assert job["last_failure_reason"] == "" and uuid.UUID(job["uuid"])
    assert job["unique_id"] == receiver.url()
    assert subs["job.completed"]["callback_url"] == receiver.url("/events")


def test_subscriptions_are_per_account(
    emu: Emulator, client: httpx.Client, connect: Callable[..., dict[str, str]], receiver: Any
) -> None:
    alpha = {"Authorization": f"Bearer {connect('read_jobs')['access_token']}"}
    beta_uuid = emu.add_account(name="Beta Plumbing")
    beta = {"Authorization": f"Bearer {connect('read_jobs', beta_uuid)['access_token']}"}
    subscribe_object(client, alpha, "job", "status", receiver.url("/alpha"))
    subscribe_object(client, beta, "job", "status", receiver.url("/beta"))
    assert [s["callback_url"] for s in listed(client, alpha)] == [receiver.url("/alpha")]
    assert [s["callback_url"] for s in listed(client, beta)] == [receiver.url("/beta")]


def test_delete_object_subscription_by_form_body(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "status", receiver.url())
    subscribe_object(client, auth, "company", "uuid", receiver.url())
    answer = client.request(
        "DELETE", "/webhook_subscriptions", headers=auth, data={"object": "Job"}
    )
    assert answer.json() == {"success": True}
    assert [s["object"] for s in listed(client, auth)] == ["company"]


def test_event_subscriptions_coexist_per_event_and_url(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    for event in ("job.created", "job.completed", "job.queued"):
        assert subscribe_event(client, auth, event, receiver.url("/a")).json()["success"]
    subscribe_event(client, auth, "job.completed", receiver.url("/b"))
    subscribe_event(client, auth, "job.completed", receiver.url("/b"))  # modify, not add
    assert len(listed(client, auth)) == 4


def test_all_25_events_are_accepted_and_unknown_is_refused(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    from local.emulator.config import EVENT_NAMES

    assert len(EVENT_NAMES) == 25
    for event in sorted(EVENT_NAMES):
        assert subscribe_event(client, auth, event, receiver.url()).status_code == 200
    answer = subscribe_event(client, auth, "job.exploded", receiver.url())
    assert answer.status_code == 400 and answer.json()["success"] is False


def test_event_webhooks_disabled_for_account_rollout(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    emu.faults.event_webhooks_enabled = False
    answer = subscribe_event(client, auth, "job.created", receiver.url())
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "message": "Webhook events are not yet enabled for this account",
    }
    assert subscribe_object(client, auth, "job", "uuid", receiver.url()).status_code == 200


def test_delete_event_subscription_leaves_others(
    client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "job.created", receiver.url("/a"))
    subscribe_event(client, auth, "job.completed", receiver.url("/a"))
    subscribe_object(client, auth, "job", "uuid", receiver.url("/o"))
    client.request(
        "DELETE",
        "/webhook_subscriptions",
        headers=auth,
        data={"event": "job.created", "callback_url": receiver.url("/a")},
    )
    remaining = {s.get("event") or s.get("object") for s in listed(client, auth)}
    assert remaining == {"job.completed", "job"}


# --- §4.3 object deliveries ------------------------------------------------------------------


def test_object_delivery_shape_on_create_lists_populated_fields(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "uuid", receiver.url())
    job = new_job(client, auth, job_description="Blocked drain")
    emu.wait_for_deliveries()
    [delivery] = receiver.deliveries
    assert delivery["content_type"] == "application/json"
    body = delivery["body"]
    assert set(body) == {"object", "entry", "resource_url"}
    assert body["object"] == "job"
    [entry] = body["entry"]
    assert entry["uuid"] == job and UTC_TIME.match(entry["time"])
    assert {"uuid", "status", "job_description", "active", "edit_date"} <= set(
        entry["changed_fields"]
    )
    assert "completion_date" not in entry["changed_fields"]
    assert body["resource_url"].endswith(f"/api_1.0/Job/{job}.json")
    assert emu.deliveries[0]["ok"] is True and emu.deliveries[0]["kind"] == "object"


def test_object_delivery_only_when_subscribed_fields_change(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    job = new_job(client, auth)
    subscribe_object(client, auth, "job", "status,queue_uuid", receiver.url())
    update_job(client, auth, job, job_description="Only the description")
    update_job(client, auth, job, status="Work Order")
    emu.wait_for_deliveries()
    [body] = receiver.bodies()
    assert "status" in body["entry"][0]["changed_fields"]
    assert "work_order_date" in body["entry"][0]["changed_fields"]


def test_unchanged_update_sends_nothing(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    job = new_job(client, auth)
    subscribe_object(client, auth, "job", "uuid,status,edit_date", receiver.url())
    update_job(client, auth, job, status="Quote")
    emu.wait_for_deliveries()
    assert receiver.deliveries == []


def test_resource_url_points_at_served_emulator(
    emu: Emulator, auth: dict[str, str], receiver: Any
) -> None:
    server = emu.serve(port=0)
    try:
        with httpx.Client(base_url=server.url, trust_env=False) as http:
            subscribe_object(http, auth, "company", "uuid", receiver.url())
            http.post("/api_1.0/company.json", headers=auth, json={"name": "Socket Co"})
            emu.wait_for_deliveries()
            resource_url = receiver.bodies()[0]["resource_url"]
            assert resource_url.startswith(server.url + "/api_1.0/Company/")
            assert http.get(resource_url, headers=auth).json()["name"] == "Socket Co"
    finally:
        server.shutdown()


# --- §4.4 event deliveries ------------------------------------------------------------------


def _events(receiver: Any) -> list[tuple[str, str]]:
    return [(b["type"], b["data"]["uuid"]) for b in receiver.bodies()]


def test_event_delivery_shape_job_completed(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    job = new_job(client, auth, status="Work Order")
    subscribe_event(client, auth, "job.completed", receiver.url())
    update_job(client, auth, job, status="Completed")
    emu.wait_for_deliveries()
    [body] = receiver.bodies()
    assert set(body) == {"id", "type", "data"}
    assert body["type"] == "job.completed"
    assert re.match(r"^smwe_[0-9a-f-]{36}$", body["id"])
    assert body["data"]["uuid"] == job and body["data"]["status"] == "Completed"
    assert body["data"]["completion_date"] != "0000-00-00 00:00:00"


def test_job_lifecycle_events(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    for event in (
        "job.created",
        "job.updated",
        "job.status_changed",
        "job.completed",
        "job.queued",
    ):
        subscribe_event(client, auth, event, receiver.url())
    queue = emu.put_record(emu.default_account_uuid, "queue", {"name": "Workshop"})["uuid"]
    job = new_job(client, auth)
    update_job(client, auth, job, queue_uuid=queue)
    update_job(client, auth, job, status="Completed")
    emu.wait_for_deliveries()
    assert _events(receiver) == [
        ("job.created", job),
        ("job.updated", job),
        ("job.queued", job),
        ("job.updated", job),
        ("job.status_changed", job),
        ("job.completed", job),
    ]


def test_company_created_and_updated_events(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "company.created", receiver.url())
    subscribe_event(client, auth, "company.updated", receiver.url())
    answer = client.post("/api_1.0/company.json", headers=auth, json={"name": "New Client"})
    company = answer.headers["x-record-uuid"]
    client.post(f"/api_1.0/company/{company}.json", headers=auth, json={"website": "x.au"})
    emu.wait_for_deliveries()
    assert _events(receiver) == [("company.created", company), ("company.updated", company)]


def test_form_response_created_event_from_put_record(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "form.response_created", receiver.url("/events"))
    subscribe_object(client, auth, "formresponse", "uuid", receiver.url("/objects"))
    form = emu.put_record(emu.default_account_uuid, "form", {"name": "JSA"})["uuid"]
    record = emu.put_record(
        emu.default_account_uuid,
        "formresponse",
        {"form_uuid": form, "field_data": '[{"answer":"yes"}]', "regarding_object": "job"},
    )
    emu.wait_for_deliveries()
    by_path = {d["path"]: d["body"] for d in receiver.deliveries}
    assert by_path["/events"]["type"] == "form.response_created"
    assert by_path["/events"]["data"]["uuid"] == record["uuid"]
    assert by_path["/objects"]["object"] == "formresponse"


def test_put_record_without_notify_sends_nothing(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "company.created", receiver.url())
    emu.put_record(emu.default_account_uuid, "company", {"name": "Quiet"}, notify=False)
    emu.wait_for_deliveries()
    assert receiver.deliveries == []


def test_emit_event_for_events_without_a_record_model(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "staff.clocked_on", receiver.url())
    emu.emit_event(emu.default_account_uuid, "staff.clocked_on", {"uuid": "s-1"})
    emu.wait_for_deliveries()
    assert _events(receiver) == [("staff.clocked_on", "s-1")]


# --- delivery failures and faults -----------------------------------------------------------


def test_delivery_retries_after_failure(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "job.created", receiver.url())
    receiver.status = 503
    new_job(client, auth)
    emu.wait_for_deliveries()
    attempts = [d["attempt"] for d in emu.deliveries]
    assert attempts == [1, 2, 3, 4]  # first try + one retry per configured delay
    assert len({d["body"]["id"] for d in receiver.deliveries}) == 1


def test_retry_succeeds_when_callback_recovers(
    make_emulator: Callable[..., Emulator],
    client_for: Callable[[Emulator], httpx.Client],
    receiver: Any,
) -> None:
    emulator = make_emulator(delivery_retry_delays=(0.3,))
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    subscribe_event(http, headers, "job.created", receiver.url())
    receiver.status = 500
    new_job(http, headers)
    time.sleep(0.15)
    receiver.status = 200
    emulator.wait_for_deliveries()
    assert [(d["attempt"], d["ok"]) for d in emulator.deliveries] == [(1, False), (2, True)]


def test_delivery_failures_deactivate_subscription(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "uuid,status", receiver.url())
    receiver.status = 500
    new_job(client, auth)  # 1 try + 3 retries = 4 failures
    emu.wait_for_deliveries()
    assert listed(client, auth)[0]["active"] == 1
    new_job(client, auth)  # 5th consecutive failure
    emu.wait_for_deliveries()
    [sub] = listed(client, auth)
    assert sub["active"] == 0 and sub["last_failure_reason"] == "HTTP 500"
    assert len(emu.deliveries) == 5


def test_deactivated_subscription_receives_nothing(
    make_emulator: Callable[..., Emulator],
    client_for: Callable[[Emulator], httpx.Client],
    receiver: Any,
) -> None:
    emulator = make_emulator(failures_before_deactivation=1)
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    subscribe_event(http, headers, "job.created", receiver.url())
    receiver.status = 500
    new_job(http, headers)
    emulator.wait_for_deliveries()
    receiver.status = 200
    new_job(http, headers)
    emulator.wait_for_deliveries()
    assert len(receiver.deliveries) == 1
    # Subscribing again (handshake passes) reactivates it.
    subscribe_event(http, headers, "job.created", receiver.url())
    new_job(http, headers)
    emulator.wait_for_deliveries()
    assert len(receiver.deliveries) == 2


def test_slow_callback_counts_as_failure(
    make_emulator: Callable[..., Emulator],
    client_for: Callable[[Emulator], httpx.Client],
    receiver: Any,
) -> None:
    emulator = make_emulator(delivery_timeout=0.2, delivery_retry_delays=())
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    subscribe_event(http, headers, "job.created", receiver.url())
    receiver.delay = 0.5
    new_job(http, headers)
    emulator.wait_for_deliveries()
    [delivery] = emulator.deliveries
    assert delivery["ok"] is False and delivery["error"] == "timeout"


def test_duplicate_deliveries_fault(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "job.created", receiver.url())
    emu.faults.duplicate_deliveries = 1
    new_job(client, auth)
    new_job(client, auth)
    emu.wait_for_deliveries()
    ids = [b["id"] for b in receiver.bodies()]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]


def test_drop_deliveries_fault(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "job.created", receiver.url())
    emu.faults.drop_deliveries = 2
    jobs = [new_job(client, auth) for _ in range(3)]
    emu.wait_for_deliveries()
    assert _events(receiver) == [("job.created", jobs[2])]
    assert len(emu.dropped_deliveries) == 2


def test_reorder_deliveries_fault(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_event(client, auth, "job.created", receiver.url())
    emu.faults.reorder_deliveries = True
    jobs = [new_job(client, auth) for _ in range(6)]
    emu.wait_for_deliveries()
    delivered = [uuid_ for _, uuid_ in _events(receiver)]
    assert sorted(delivered) == sorted(jobs) and delivered != jobs


def test_multi_entry_object_delivery(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    subscribe_object(client, auth, "job", "uuid", receiver.url())
    emu.faults.object_entries_per_delivery = 3
    jobs = [new_job(client, auth) for _ in range(4)]
    emu.wait_for_deliveries()
    entries = [[e["uuid"] for e in b["entry"]] for b in receiver.bodies()]
    assert entries == [jobs[:3], jobs[3:]]


@pytest.mark.parametrize("kind", ["object", "event"])
def test_deliveries_are_logged(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any, kind: str
) -> None:
    if kind == "object":
        subscribe_object(client, auth, "job", "uuid", receiver.url())
    else:
        subscribe_event(client, auth, "job.created", receiver.url())
    new_job(client, auth)
    emu.wait_for_deliveries()
    [logged] = emu.deliveries
    assert {"url", "body", "status", "ok", "attempt", "kind"} <= set(logged)
    assert (logged["url"], logged["status"], logged["kind"]) == (receiver.url(), 200, kind)
