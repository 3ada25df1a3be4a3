"""PROBLEMS.md #6: a successful write reported as a failure → a duplicate payment.

The created record's uuid is in ``x-record-uuid``, not the body. A create carries a
uuid the connector chose (from the Idempotency-Key), so a repeat cannot duplicate.
A 2xx that is not ServiceM8's answer (an interstitial page) is "outcome unknown",
and a read whose body cannot be read is an error, never an empty list.

The connector has no job-payment action; creating a job is the same kind of write.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Response

from local.emulator import Emulator
from local.emulator.replies import INTERSTITIAL_HTML
from local.environment import LocalEnvironment
from tests.problems.conftest import (
    Answers,
    Reply,
    account_of,
    api,
    calling,
    calls,
    connect,
    live,
)

SERVICEM8_UUID = "dddddddd-0000-4000-8000-000000000002"
PAYMENT = {"status": "Work Order", "job_description": "Payment 150.00 by Card"}
JOBS = "/api_1.0/job.json"


@pytest.fixture(scope="module")
def owner(env: LocalEnvironment) -> Any:
    return connect(env, "P6 Payments Plumbing")


def interstitial(status: int = 200, content_type: str = "text/html",
                 text: str = INTERSTITIAL_HTML) -> Reply:
    return lambda _request, _real: Response(text, status, content_type=content_type)


def created(answer: httpx.Response) -> str:
    assert answer.status_code == 201, answer.text
    uuid = str(answer.json()["uuid"])
    assert answer.headers["location"].endswith(f"/jobs/{uuid}")
    return uuid


def jobs_with(emulator: Emulator, account: str, uuid: str) -> int:
    return sum(1 for job in emulator.records(account, "job") if job["uuid"] == uuid)


def test_empty_200_with_record_uuid_header_is_a_201(
    env: LocalEnvironment, emu: Emulator, answers: Answers, owner: Any
) -> None:
    account = account_of(env, owner.connection_id)
    answers.when(calling("POST", JOBS, account, emu),
                 lambda _request, _real: Response(b"", 200,
                                                  headers={"x-record-uuid": SERVICEM8_UUID}),
                 times=1)
    with api(env, owner) as client:
        answer = client.post("/jobs", json=PAYMENT, headers={"Idempotency-Key": "idem-0000"})
    assert created(answer) == SERVICEM8_UUID


def test_repeated_key_sequential_is_one_record_one_uuid(
    env: LocalEnvironment, emu: Emulator, owner: Any
) -> None:
    account = account_of(env, owner.connection_id)
    expected = live("idempotency").record_uuid_for(owner.connection_id, "jobs", "idem-0001")
    with api(env, owner) as client:
        uuids = [created(client.post("/jobs", json=PAYMENT,
                                     headers={"Idempotency-Key": "idem-0001"}))
                 for _ in range(2)]
    assert uuids == [expected, expected]
    _one_record_for(emu, account, expected)


def test_repeated_key_concurrent_is_one_record_one_uuid(
    env: LocalEnvironment, emu: Emulator, owner: Any
) -> None:
    account = account_of(env, owner.connection_id)
    expected = live("idempotency").record_uuid_for(owner.connection_id, "jobs", "idem-0002")
    with api(env, owner) as client, ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(
            lambda _n: client.post("/jobs", json=PAYMENT,
                                   headers={"Idempotency-Key": "idem-0002"}), range(2)))
    # Each duplicate gets the stored answer, or 409 while the first is still running.
    assert sorted(a.status_code for a in answers) in ([201, 201], [201, 409])
    assert {created(a) for a in answers if a.status_code == 201} == {expected}
    _one_record_for(emu, account, expected)


def test_reused_key_with_another_body_is_refused_and_changes_nothing(
    env: LocalEnvironment, emu: Emulator, owner: Any
) -> None:
    account = account_of(env, owner.connection_id)
    with api(env, owner) as client:
        first = created(client.post("/jobs", json=PAYMENT,
                                    headers={"Idempotency-Key": "idem-0004"}))
        other = client.post("/jobs", json={**PAYMENT, "job_description": "Something else"},
                            headers={"Idempotency-Key": "idem-0004"})
        as_client = client.post("/clients", json={"name": "Same Key Pty Ltd"},
                                headers={"Idempotency-Key": "idem-0004"})
    assert other.status_code == 422, other.text
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert jobs_with(emu, account, first) == 1
    assert as_client.status_code == 201  # the key is scoped to the resource
    assert as_client.json()["uuid"] != first


def _one_record_for(emulator: Emulator, account: str, uuid: str) -> None:
    posts = [c for c in calls(emulator, account=account, path=JOBS, method="POST")
             if isinstance(c["json"], dict) and c["json"].get("uuid") == uuid]
    assert 1 <= len(posts) <= 2  # a repeat carries the identical client uuid
    assert jobs_with(emulator, account, uuid) == 1


def test_interstitial_200_is_outcome_unknown_and_the_retry_creates_once(
    env: LocalEnvironment, emu: Emulator, answers: Answers, owner: Any
) -> None:
    account = account_of(env, owner.connection_id)
    answers.when(calling("POST", JOBS, account, emu), interstitial(), times=1)
    with api(env, owner) as client:
        unknown = client.post("/jobs", json=PAYMENT, headers={"Idempotency-Key": "idem-0003"})
        assert unknown.status_code == 502, unknown.text
        problem = unknown.json()
        assert problem["type"] == "/problems/upstream-unavailable"
        assert problem["title"] == "Outcome unknown"
        assert "same Idempotency-Key" in problem["detail"]
        retried = created(client.post("/jobs", json=PAYMENT,
                                      headers={"Idempotency-Key": "idem-0003"}))
    assert jobs_with(emu, account, retried) == 1


@pytest.mark.parametrize(("path", "reply"), [
    ("/jobs", interstitial()),
    ("/jobs", interstitial(content_type="application/json", text='[{"uuid": "a",')),
    ("/jobs", interstitial(content_type="application/json", text="")),
    ("/jobs", interstitial(content_type="application/json", text='{"errorCode": 0}')),
    ("/clients", interstitial()),
], ids=["html", "truncated-json", "empty", "object-not-list", "clients-html"])
def test_unreadable_list_is_502_never_an_empty_list(
    env: LocalEnvironment, emu: Emulator, answers: Answers, owner: Any, path: str, reply: Reply
) -> None:
    account = account_of(env, owner.connection_id)
    answers.when(calling("GET", "/api_1.0/", account, emu), reply, times=1)
    with api(env, owner) as client:
        answer = client.get(path)
    assert answer.status_code == 502, answer.text
    assert answer.json()["type"] == "/problems/upstream-unavailable"
    assert "items" not in answer.json()
