"""The emulator against FACTS.md §2 (REST), §2.3-§2.6 errors and throttling, §3 forms/queues."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from local.emulator import Emulator

JOB = "/api_1.0/job.json"
COMPANY = "/api_1.0/company.json"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
NOT_FOUND = {"errorCode": 404, "message": "Resource not found."}


def create(client: httpx.Client, auth: dict[str, str], path: str, body: dict[str, object]) -> str:
    answer = client.post(path, headers=auth, json=body)
    assert answer.status_code == 200, answer.text
    return answer.headers["x-record-uuid"]


def fetch(client: httpx.Client, auth: dict[str, str], object_name: str, uuid_: str) -> dict:
    answer = client.get(f"/api_1.0/{object_name}/{uuid_}.json", headers=auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# --- §2.2 create / update / delete ---------------------------------------------------------


def test_create_answers_x_record_uuid(client: httpx.Client, auth: dict[str, str]) -> None:
    answer = client.post(COMPANY, headers=auth, json={"name": "Harbour Electrical"})
    assert answer.status_code == 200
    assert answer.json() == {"errorCode": 0, "message": "OK"}
    record_uuid = answer.headers["x-record-uuid"]
    assert uuid.UUID(record_uuid)
    assert fetch(client, auth, "company", record_uuid)["name"] == "Harbour Electrical"


def test_client_given_uuid_makes_create_idempotent(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    chosen = str(uuid.uuid4())
    body = {"uuid": chosen, "status": "Quote", "job_description": "Fix gutter"}
    assert create(client, auth, JOB, body) == chosen
    assert create(client, auth, JOB, body) == chosen  # the retry
    jobs = [j for j in emu.records(emu.default_account_uuid, "job") if j["uuid"] == chosen]
    assert len(jobs) == 1


def test_create_with_known_uuid_updates_that_record(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    chosen = create(client, auth, JOB, {"status": "Quote", "job_description": "A"})
    create(client, auth, JOB, {"uuid": chosen, "job_description": "B"})
    record = fetch(client, auth, "job", chosen)
    assert record["job_description"] == "B" and record["status"] == "Quote"


def test_update_changes_only_given_fields(client: httpx.Client, auth: dict[str, str]) -> None:
    job = create(client, auth, JOB, {"status": "Quote", "job_description": "Leaking tap"})
    before = fetch(client, auth, "job", job)
    answer = client.post(f"/api_1.0/job/{job}.json", headers=auth, json={"status": "Work Order"})
    assert answer.json() == {"errorCode": 0, "message": "OK"}
    after = fetch(client, auth, "job", job)
    assert after["status"] == "Work Order"
    assert after["job_description"] == "Leaking tap"
    assert after["generated_job_id"] == before["generated_job_id"]


def test_update_of_unknown_uuid_is_404(client: httpx.Client, auth: dict[str, str]) -> None:
    url = f"/api_1.0/job/{uuid.uuid4()}.json"
    answer = client.post(url, headers=auth, json={"status": "Quote"})
    assert answer.status_code == 404 and answer.json() == NOT_FOUND


def test_get_of_unknown_uuid_is_404(client: httpx.Client, auth: dict[str, str]) -> None:
    answer = client.get(f"/api_1.0/company/{uuid.uuid4()}.json", headers=auth)
    assert answer.status_code == 404 and answer.json() == NOT_FOUND


def test_delete_is_soft_and_lists_still_show_record(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    company = create(client, auth, COMPANY, {"name": "Soon Gone Pty Ltd"})
    answer = client.delete(f"/api_1.0/company/{company}.json", headers=auth)
    assert answer.status_code == 200 and answer.json() == {"errorCode": 0, "message": "OK"}
    assert fetch(client, auth, "company", company)["active"] == 0
    listed = [c for c in client.get(COMPANY, headers=auth).json() if c["uuid"] == company]
    assert listed and listed[0]["active"] == 0
    assert client.delete(f"/api_1.0/company/{uuid.uuid4()}.json", headers=auth).status_code == 404


def test_restore_by_posting_active_1(client: httpx.Client, auth: dict[str, str]) -> None:
    company = create(client, auth, COMPANY, {"name": "Back Again"})
    client.delete(f"/api_1.0/company/{company}.json", headers=auth)
    client.post(f"/api_1.0/company/{company}.json", headers=auth, json={"active": 1})
    assert fetch(client, auth, "company", company)["active"] == 1


def test_object_names_are_case_insensitive(client: httpx.Client, auth: dict[str, str]) -> None:
    job = create(client, auth, "/api_1.0/Job.json", {"status": "Quote"})
    assert fetch(client, auth, "JOB", job)["uuid"] == job
    assert client.get("/api_1.0/Company.json", headers=auth).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (JOB, {"job_description": "no status"}, "status is required"),
        (JOB, {"status": "Done"}, "Invalid status"),
        (COMPANY, {"abn_number": "1"}, "name is required"),
        (COMPANY, {"name": "x" * 101}, "maximum length of 100"),
        (JOB, {"status": "Quote", "purchase_order_number": "p" * 101}, "maximum length of 100"),
        (JOB, {"status": "Quote", "colour": "red"}, "'colour' is not a valid field"),
        (JOB, {"status": "Quote", "queue_uuid": "not-a-uuid"}, "valid UUID"),
        (JOB, {"status": "Quote", "badges": ["a"]}, "badges must be a JSON array encoded string"),
        (JOB, {"status": "Quote", "badges": "abc"}, "badges must be a JSON array encoded string"),
    ],
)
def test_invalid_writes_are_400_with_message(
    client: httpx.Client, auth: dict[str, str], path: str, body: dict, message: str
) -> None:
    answer = client.post(path, headers=auth, json=body)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == 400
    assert message in answer.json()["message"]


def test_badges_json_encoded_string_is_accepted_and_returned_as_string(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    badges = json.dumps([str(uuid.uuid4())])
    job = create(client, auth, JOB, {"status": "Quote", "badges": badges})
    assert fetch(client, auth, "job", job)["badges"] == badges


def test_server_managed_fields_on_create(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    job = fetch(client, auth, "job", create(client, auth, JOB, {"status": "Work Order"}))
    assert job["active"] == 1
    assert DATETIME.match(str(job["edit_date"]))
    assert job["work_order_date"] == job["edit_date"]
    assert job["generated_job_id"].isdigit()
    assert job["completion_date"] == "0000-00-00 00:00:00"
    assert job["quote_date"] == "0000-00-00 00:00:00"
    local = datetime.fromtimestamp(emu.now(), ZoneInfo("Australia/Brisbane"))
    assert job["date"] == local.strftime("%Y-%m-%d")
    other = fetch(client, auth, "job", create(client, auth, JOB, {"status": "Quote"}))
    assert int(other["generated_job_id"]) == int(job["generated_job_id"]) + 1


def test_completion_date_set_when_status_becomes_completed(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    job = create(client, auth, JOB, {"status": "Work Order"})
    emu.advance_clock(120)
    client.post(f"/api_1.0/job/{job}.json", headers=auth, json={"status": "Completed"})
    record = fetch(client, auth, "job", job)
    assert record["completion_date"] == record["edit_date"] != "0000-00-00 00:00:00"
    assert record["completion_date"] > record["work_order_date"]


def test_edit_date_uses_account_timezone(
    emu: Emulator, client: httpx.Client, connect: Callable[..., dict[str, str]]
) -> None:
    perth = emu.add_account(name="Perth Plumbing", timezone_name="Australia/Perth")
    token = connect("create_jobs read_jobs", account_uuid=perth)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    job = fetch(client, headers, "job", create(client, headers, JOB, {"status": "Quote"}))
    expected = datetime.fromtimestamp(emu.now(), ZoneInfo("Australia/Perth"))
    stamped = datetime.strptime(str(job["edit_date"]), "%Y-%m-%d %H:%M:%S")
    assert abs((stamped - expected.replace(tzinfo=None)).total_seconds()) < 5


def test_formresponse_timestamp_is_utc(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    created = create(client, auth, "/api_1.0/formresponse.json", {"field_data": "[]"})
    record = fetch(client, auth, "formresponse", created)
    utc = datetime.fromtimestamp(emu.now(), UTC).replace(tzinfo=None)
    stamped = datetime.strptime(str(record["timestamp"]), "%Y-%m-%d %H:%M:%S")
    assert abs((stamped - utc).total_seconds()) < 5


def test_vendor_json_returns_account_as_list_of_one(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    vendors = client.get("/api_1.0/vendor.json", headers=auth).json()
    assert isinstance(vendors, list) and len(vendors) == 1
    assert vendors[0]["uuid"] == emu.default_account_uuid
    assert vendors[0]["timezone_name"] == "Australia/Brisbane"
    assert fetch(client, auth, "vendor", emu.default_account_uuid)["name"] == "Alpha Plumbing"


def test_unknown_object_is_not_an_authorised_object_type(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    answer = client.get("/api_1.0/note.json", headers=auth)
    assert answer.status_code == 400
    assert answer.json() == {"errorCode": 400, "message": "note is not an authorised object type"}


# --- §2.5 pagination -------------------------------------------------------------------------


def _seeded(make_emulator: Callable[..., Emulator], count: int, **overrides: object) -> Emulator:
    return make_emulator(seed_records=count, **overrides)


def test_pagination_pages_with_x_next_cursor(
    make_emulator: Callable[..., Emulator],
    client_for: Callable[[Emulator], httpx.Client],
    oauth: object,
) -> None:
    emulator = _seeded(make_emulator, 23, page_size=10)
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    seen: list[str] = []
    cursor = "-1"
    pages = 0
    while True:
        answer = http.get(JOB, headers=headers, params={"cursor": cursor})
        page = answer.json()
        assert len(page) <= 10
        seen += [j["uuid"] for j in page]
        pages += 1
        if "x-next-cursor" not in answer.headers:
            break
        cursor = answer.headers["x-next-cursor"]
        assert uuid.UUID(cursor)
    assert pages == 3 and len(seen) == len(set(seen)) == 23


def test_list_without_cursor_returns_everything(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    http = client_for(_seeded(make_emulator, 23, page_size=10))
    answer = http.get(JOB, headers={"X-API-Key": "test-api-key"})
    assert len(answer.json()) == 23 and "x-next-cursor" not in answer.headers


def test_pagination_combines_with_filter(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    emulator = _seeded(make_emulator, 60, page_size=5)
    http = client_for(emulator)
    expected = {
        j["uuid"]
        for j in emulator.records(emulator.default_account_uuid, "job")
        if j["status"] == "Completed"
    }
    got: list[str] = []
    params = {"cursor": "-1", "$filter": "status eq 'Completed'"}
    while True:
        answer = http.get(JOB, headers={"X-API-Key": "test-api-key"}, params=params)
        assert all(j["status"] == "Completed" for j in answer.json())
        got += [j["uuid"] for j in answer.json()]
        if "x-next-cursor" not in answer.headers:
            break
        params["cursor"] = answer.headers["x-next-cursor"]
    assert set(got) == expected and len(got) == len(expected) > 5


def test_unknown_cursor_is_400(client: httpx.Client, auth: dict[str, str]) -> None:
    answer = client.get(JOB, headers=auth, params={"cursor": str(uuid.uuid4())})
    assert answer.status_code == 400


# --- §2.4 filtering ----------------------------------------------------------------------------


@pytest.fixture
def three_jobs(client: httpx.Client, auth: dict[str, str]) -> dict[str, str]:
    return {
        status: create(client, auth, JOB, {"status": status, "purchase_order_number": po})
        for status, po in (("Quote", "PO-1"), ("Work Order", "PO-2"), ("Completed", "PO-3"))
    }


def _filtered(client: httpx.Client, auth: dict[str, str], expression: str) -> set[str]:
    answer = client.get(JOB, headers=auth, params={"$filter": expression})
    assert answer.status_code == 200, answer.text
    return {j["uuid"] for j in answer.json()}


def test_filter_eq_ne_gt_lt(
    client: httpx.Client, auth: dict[str, str], three_jobs: dict[str, str]
) -> None:
    assert _filtered(client, auth, "status eq 'Quote'") == {three_jobs["Quote"]}
    assert _filtered(client, auth, "status ne 'Quote'") == {
        three_jobs["Work Order"],
        three_jobs["Completed"],
    }
    assert _filtered(client, auth, "purchase_order_number gt 'PO-1'") == {
        three_jobs["Work Order"],
        three_jobs["Completed"],
    }
    assert _filtered(client, auth, "purchase_order_number lt 'PO-2'") == {three_jobs["Quote"]}


def test_filter_terms_join_with_and(
    client: httpx.Client, auth: dict[str, str], three_jobs: dict[str, str]
) -> None:
    expression = "status ne 'Quote' and purchase_order_number lt 'PO-3' and active eq 1"
    assert _filtered(client, auth, expression) == {three_jobs["Work Order"]}


def test_filter_allows_ten_terms_not_eleven(client: httpx.Client, auth: dict[str, str]) -> None:
    ten = " and ".join(["active eq 1"] * 10)
    assert client.get(JOB, headers=auth, params={"$filter": ten}).status_code == 200
    eleven = " and ".join(["active eq 1"] * 11)
    assert client.get(JOB, headers=auth, params={"$filter": eleven}).status_code == 400


def test_quoted_and_bare_numbers_both_match(
    client: httpx.Client, auth: dict[str, str], three_jobs: dict[str, str]
) -> None:
    client.delete(f"/api_1.0/job/{three_jobs['Quote']}.json", headers=auth)
    assert _filtered(client, auth, "active eq 1") == _filtered(client, auth, "active eq '1'")
    assert three_jobs["Quote"] not in _filtered(client, auth, "active eq 1")


def test_filter_on_dates_compares_as_text(
    client: httpx.Client, auth: dict[str, str], three_jobs: dict[str, str]
) -> None:
    done = _filtered(client, auth, "completion_date gt '2000-01-01 00:00:00'")
    assert done == {three_jobs["Completed"]}


def test_unencoded_filter_returns_everything(
    client: httpx.Client, auth: dict[str, str], three_jobs: dict[str, str]
) -> None:
    # httpx keeps the quotes raw when the filter is written into the URL string.
    raw = client.get(JOB + "?$filter=status eq 'Quote'", headers=auth)
    assert len(raw.json()) == 3
    encoded = client.get(JOB + "?%24filter=status%20eq%20%27Quote%27", headers=auth)
    assert [j["uuid"] for j in encoded.json()] == [three_jobs["Quote"]]


def test_bad_filter_is_400(client: httpx.Client, auth: dict[str, str]) -> None:
    for expression in (
        "status = 'Quote'",
        "status eq Quote",
        "status eq 'Quote' or active eq 1",
        "status ge 'Quote'",
    ):
        answer = client.get(JOB, headers=auth, params={"$filter": expression})
        assert answer.status_code == 400, expression
        assert answer.json()["errorCode"] == 400


def test_filter_field_names_are_case_sensitive(client: httpx.Client, auth: dict[str, str]) -> None:
    answer = client.get(JOB, headers=auth, params={"$filter": "Status eq 'Quote'"})
    assert answer.status_code == 400


# --- §2.3 / §2.6 errors and throttling ---------------------------------------------


def test_429_per_minute_text_after_180_calls(client: httpx.Client, auth: dict[str, str]) -> None:
    for _ in range(180):
        assert client.get("/api_1.0/queue.json", headers=auth).status_code == 200
    refused = client.get("/api_1.0/queue.json", headers=auth)
    assert refused.status_code == 429
    assert refused.text == "Number of allowed API requests per minute exceeded"


def test_rate_limit_window_slides_after_a_minute(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    emulator = make_emulator(per_minute_limit=3)
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    assert [http.get(JOB, headers=headers).status_code for _ in range(4)] == [200, 200, 200, 429]
    emulator.advance_clock(61)
    assert http.get(JOB, headers=headers).status_code == 200


def test_429_per_day_text(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> None:
    emulator = make_emulator(per_day_limit=5)
    http = client_for(emulator)
    headers = {"X-API-Key": "test-api-key"}
    for _ in range(5):
        emulator.advance_clock(61)
        assert http.get(JOB, headers=headers).status_code == 200
    refused = http.get(JOB, headers=headers)
    assert (refused.status_code, refused.text) == (
        429,
        "Number of allowed API requests per day exceeded",
    )
    emulator.advance_clock(86400)
    assert http.get(JOB, headers=headers).status_code == 200


def test_rate_limits_are_per_account(
    emu: Emulator, client: httpx.Client, connect: Callable[..., dict[str, str]]
) -> None:
    emu.limiter.per_minute = 2
    alpha = {"Authorization": f"Bearer {connect('read_jobs')['access_token']}"}
    beta_uuid = emu.add_account(name="Beta Plumbing")
    beta = {"Authorization": f"Bearer {connect('read_jobs', beta_uuid)['access_token']}"}
    assert [client.get(JOB, headers=alpha).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(JOB, headers=beta).status_code == 200


def test_token_endpoint_is_not_rate_limited(
    emu: Emulator, client: httpx.Client, connect: Callable[..., dict[str, str]]
) -> None:
    emu.limiter.per_minute = 1
    for _ in range(3):
        connect("read_jobs")
    assert emu.token_calls == 3


def test_unpaid_account_answers_402(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    emu.set_unpaid(emu.default_account_uuid)
    answer = client.get(JOB, headers=auth)
    assert answer.status_code == 402 and answer.json()["errorCode"] == 402
    emu.set_unpaid(emu.default_account_uuid, False)
    emu.faults.unpaid_accounts = [emu.default_account_uuid]
    assert client.get(JOB, headers=auth).status_code == 402


def test_fail_next_injects_statuses_in_order(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    emu.faults.fail_next = [429, 500, 503]
    first, second, third, fourth = (client.get(JOB, headers=auth) for _ in range(4))
    assert (first.status_code, first.text) == (
        429,
        "Number of allowed API requests per minute exceeded",
    )
    assert second.status_code == 500 and second.json()["errorCode"] == 500
    assert third.status_code == 503 and third.json()["errorCode"] == 503
    assert fourth.status_code == 200


def test_html_400_from_edge(emu: Emulator, client: httpx.Client, auth: dict[str, str]) -> None:
    emu.faults.html_400_next = 1
    answer = client.get(JOB, headers=auth)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "<html>" in answer.text
    assert client.get(JOB, headers=auth).status_code == 200


def test_latency_fault_slows_answers(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    emu.faults.latency_seconds = 0.2
    started = time.monotonic()
    client.get(JOB, headers=auth)
    assert time.monotonic() - started >= 0.2


def test_html_200_interstitial_has_no_record_uuid(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    # PROBLEMS.md #6: a 2xx that is not the API's answer must not count as a successful write.
    emu.faults.html_200_next = 1
    answer = client.post(COMPANY, headers=auth, json={"name": "Maybe Created"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "x-record-uuid" not in answer.headers
    assert emu.records(emu.default_account_uuid, "company") == []
