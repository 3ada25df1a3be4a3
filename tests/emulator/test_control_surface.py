"""The emulator's own surface: Python API, /_emulator/ over HTTP, seed data, `python -m`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from local.emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]


def test_default_config_matches_the_documented_defaults() -> None:
    config = EmulatorConfig()
    assert (config.client_id, config.client_secret) == ("local-app-id", "local-app-secret")
    assert config.api_key is None and config.auto_approve is False
    assert config.delivery_retry_delays == (1.0, 5.0, 30.0)
    assert config.failures_before_deactivation == 5
    assert (config.per_minute_limit, config.per_day_limit, config.page_size) == (180, 20000, 5000)


def test_api_key_is_refused_when_none_is_configured(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    http = client_for(make_emulator(api_key=None))
    assert http.get("/api_1.0/job.json", headers={"X-API-Key": "anything"}).status_code == 401


def test_requests_log_redacts_secrets(
    emu: Emulator, client: httpx.Client, connect: Callable[..., dict[str, str]]
) -> None:
    tokens = connect("read_jobs")
    client.get("/api_1.0/job.json", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    log = emu.requests
    token_call = next(r for r in log if r["path"] == "/oauth/access_token")
    assert token_call["content_type"] == "application/x-www-form-urlencoded"
    assert token_call["form"]["client_secret"] == "[redacted]"
    assert token_call["form"]["code"] == "[redacted]"
    assert token_call["form"]["grant_type"] == "authorization_code"
    api_call = log[-1]
    assert api_call["headers"]["authorization"] == "[redacted]"
    assert api_call["account_uuid"] == emu.default_account_uuid and api_call["status"] == 200
    assert tokens["access_token"] not in repr(log)
    assert "local-app-secret" not in repr(log)


def test_reset_forgets_everything_but_config(
    emu: Emulator, client: httpx.Client, auth: dict[str, str], receiver: Any
) -> None:
    first_default = emu.default_account_uuid
    client.post(
        "/webhook_subscriptions/event",
        headers=auth,
        data={"event": "job.created", "callback_url": receiver.url()},
    )
    client.post("/api_1.0/company.json", headers=auth, json={"name": "Gone After Reset"})
    emu.add_account(name="Beta Plumbing")
    emu.faults.latency_seconds = 1.0
    emu.reset()
    assert emu.default_account_uuid == first_default  # deterministic account ids
    assert emu.records(emu.default_account_uuid, "company") == []
    assert emu.requests == [] and emu.deliveries == [] and emu.token_calls == 0
    assert emu.faults.latency_seconds == 0.0 and emu.config.api_key == "test-api-key"
    assert client.get("/api_1.0/job.json", headers=auth).status_code == 401
    assert emu.state()["subscriptions"] == [] and len(emu.state()["accounts"]) == 1


def test_put_record_validates_and_returns_full_record(emu: Emulator) -> None:
    account = emu.default_account_uuid
    job = emu.put_record(account, "Job", {"status": "Completed", "job_description": "UI job"})
    assert job["completion_date"] != "0000-00-00 00:00:00" and job["active"] == 1
    updated = emu.put_record(account, "job", {"uuid": job["uuid"], "edit_date": "2025-01-01"})
    assert updated["edit_date"] == "2025-01-01 00:00:00"  # UI writes may set read-only fields
    with pytest.raises(ValueError, match="status"):
        emu.put_record(account, "job", {"status": "Nope"})
    with pytest.raises(ValueError, match="unknown object"):
        emu.put_record(account, "invoice", {})


def test_http_control_surface_drives_a_separately_started_emulator(receiver: Any) -> None:
    emulator = Emulator(EmulatorConfig(api_key="k", delivery_retry_delays=(0.01,)))
    server = emulator.serve(port=0)
    try:
        with httpx.Client(base_url=server.url, trust_env=False) as http:
            state = http.get("/_emulator/state").json()
            assert state["default_account_uuid"] == emulator.default_account_uuid
            beta = http.post(
                "/_emulator/accounts",
                json={"name": "Beta Plumbing", "timezone_name": "Australia/Perth"},
            )
            beta_uuid = beta.json()["uuid"]
            assert (
                http.post("/_emulator/default-account", json={"account_uuid": beta_uuid}).json()[
                    "ok"
                ]
                is True
            )
            key = {"X-API-Key": "k"}
            http.post(
                "/webhook_subscriptions/event",
                headers=key,
                data={"event": "form.response_created", "callback_url": receiver.url()},
            )
            record = http.post(
                f"/_emulator/accounts/{beta_uuid}/records/formresponse",
                json={"field_data": "[]", "regarding_object": "job"},
            ).json()
            assert http.post("/_emulator/wait", json={"timeout": 5}).json() == {"ok": True}
            deliveries = http.get("/_emulator/deliveries").json()
            assert deliveries[0]["body"]["data"]["uuid"] == record["uuid"]
            listed = http.get(f"/_emulator/accounts/{beta_uuid}/records/formresponse").json()
            assert [r["uuid"] for r in listed] == [record["uuid"]]
            faults = http.post("/_emulator/faults", json={"fail_next": [503]}).json()
            assert faults["fail_next"] == [503]
            assert http.get("/api_1.0/job.json", headers=key).status_code == 503
            assert http.post("/_emulator/faults", json={"bogus": 1}).status_code == 400
            bad = http.post("/_emulator/faults", json={"fail_next": ["x"]})
            assert bad.status_code == 400
            requests_log = http.get("/_emulator/requests").json()
            assert all(not r["path"].startswith("/_emulator") for r in requests_log)
            assert http.post("/_emulator/reset").json()["ok"] is True
            assert http.get("/_emulator/deliveries").json() == []
    finally:
        server.shutdown()
        emulator.close()


def test_control_paths_are_not_servicem8_paths(client: httpx.Client) -> None:
    key = {"X-API-Key": "test-api-key"}
    assert client.get("/api_1.0/_emulator/state", headers=key).status_code == 400
    assert client.get("/_emulator/nothing").status_code == 404


def test_seed_is_deterministic_and_realistic(make_emulator: Callable[..., Emulator]) -> None:
    first, second = make_emulator(seed_records=20), make_emulator(seed_records=20)
    jobs_a = first.records(first.default_account_uuid, "job")
    jobs_b = second.records(second.default_account_uuid, "job")
    assert [j["uuid"] for j in jobs_a] == [j["uuid"] for j in jobs_b]
    assert len(jobs_a) == 20 and {j["status"] for j in jobs_a} >= {"Quote", "Work Order"}
    companies = first.records(first.default_account_uuid, "company")
    assert len(companies) == 20 and all(c["address_country"] == "Australia" for c in companies)
    company_uuids = {c["uuid"] for c in companies}
    assert all(j["company_uuid"] in company_uuids for j in jobs_a)
    queues = {q["name"] for q in first.records(first.default_account_uuid, "queue")}
    assert queues == {"Workshop", "Parts on order"}
    assert first.records(first.default_account_uuid, "staff")
    assert first.records(first.default_account_uuid, "form")
    empty = make_emulator(seed_records=0)
    assert empty.records(empty.default_account_uuid, "queue") == []
    beta = first.add_account(name="Beta Plumbing")
    beta_jobs = {j["uuid"] for j in first.records(beta, "job")}
    assert len(beta_jobs) == 20 and not beta_jobs & {j["uuid"] for j in jobs_a}


def test_seeding_and_paging_50000_records_is_fast(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    started = time.monotonic()
    emulator = make_emulator(seed_records=50_000)
    seeded = time.monotonic() - started
    http = client_for(emulator)
    total, cursor, pages = 0, "-1", 0
    while True:
        answer = http.get(
            "/api_1.0/job.json", headers={"X-API-Key": "test-api-key"}, params={"cursor": cursor}
        )
        total += len(answer.json())
        pages += 1
        if "x-next-cursor" not in answer.headers:
            break
        cursor = answer.headers["x-next-cursor"]
    elapsed = time.monotonic() - started
    assert (total, pages) == (50_000, 10)
    assert seeded < 8 and elapsed < 15, (seeded, elapsed)


def test_python_m_local_emulator_prints_banner_and_serves() -> None:
    env = dict(
        os.environ,
        PORT="0",
        SEED_RECORDS="2",
        SERVICEM8_API_KEY="env-key",
        EMULATOR_AUTO_APPROVE="1",
        EMULATOR_CLIENT_ID="env-app",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().strip()
        assert banner.startswith("ServiceM8 emulator on http://127.0.0.1:")
        assert banner.endswith("(client_id=env-app, auto_approve=True)")
        url = banner.split(" on ")[1].split(" ")[0]
        with httpx.Client(base_url=url, trust_env=False) as http:
            jobs = http.get("/api_1.0/job.json", headers={"X-API-Key": "env-key"})
            assert jobs.status_code == 200 and len(jobs.json()) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_put_record_on_vendor_updates_the_single_account_record(emu: Emulator) -> None:
    account = emu.default_account_uuid
    vendor = emu.put_record(account, "vendor", {"timezone_name": "Australia/Perth"})
    assert vendor["uuid"] == account and len(emu.records(account, "vendor")) == 1
    job = emu.put_record(account, "job", {"status": "Quote"})
    perth_now = datetime.fromtimestamp(emu.now(), ZoneInfo("Australia/Perth")).replace(tzinfo=None)
    stamped = datetime.strptime(str(job["edit_date"]), "%Y-%m-%d %H:%M:%S")
    assert abs((stamped - perth_now).total_seconds()) < 5
