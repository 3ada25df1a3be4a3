"""The ServiceM8 client against scripted answers (httpx.MockTransport, no network)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from servicem8_connector.servicem8 import errors
from servicem8_connector.servicem8.client import RetryPolicy, ServiceM8Client
from servicem8_connector.servicem8.filters import Filter

API = "https://servicem8.example.test"
OK = {"errorCode": 0, "message": "OK"}


class Script:
    """Answers requests in order and remembers them."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer


def client_for(script: Script, **kwargs: object) -> tuple[ServiceM8Client, list[float]]:
    slept: list[float] = []
    client = ServiceM8Client(
        httpx.Client(transport=httpx.MockTransport(script)),
        api_url=API,
        access_token=lambda: "access-1",
        sleep=slept.append,
        retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0),
        **kwargs,  # type: ignore[arg-type]
    )
    return client, slept


def test_create_returns_uuid_from_x_record_uuid_header() -> None:
    script = Script(httpx.Response(200, text="", headers={"x-record-uuid": "dddd-0002"}))
    client, _ = client_for(script)
    assert client.create("job", {"status": "Quote"}) == "dddd-0002"


def test_create_sends_its_own_uuid_so_a_retry_cannot_duplicate() -> None:
    script = Script(httpx.Response(503, text="down"), httpx.Response(200, json=OK))
    client, slept = client_for(script)
    created = client.create("company", {"name": "Acme"})
    sent = [json.loads(r.content)["uuid"] for r in script.requests]
    assert sent[0] == sent[1] == created
    assert len(slept) == 1


def test_create_answered_with_html_is_outcome_unknown_not_success() -> None:
    page = "<html><body>Checking your browser</body></html>"
    script = Script(httpx.Response(200, text=page, headers={"content-type": "text/html"}))
    client, _ = client_for(script)
    with pytest.raises(errors.OutcomeUnknown):
        client.create("job", {"status": "Quote"})


def test_update_with_unreadable_answer_is_outcome_unknown() -> None:
    client, _ = client_for(Script(httpx.Response(200, text="garbage{")))
    with pytest.raises(errors.OutcomeUnknown):
        client.update("job", "u1", {"status": "Completed"})


def test_list_with_unreadable_body_is_an_error_never_an_empty_list() -> None:
    script = Script(*[httpx.Response(200, text="<<not json>>") for _ in range(4)])
    client, _ = client_for(script)
    with pytest.raises(errors.RetryLater):
        list(client.records("job"))


def test_per_minute_429_is_retried_with_backoff() -> None:
    minute = "Number of allowed API requests per minute exceeded"
    script = Script(httpx.Response(429, text=minute), httpx.Response(429, text=minute),
                    httpx.Response(200, json={"uuid": "u1"}))
    client, slept = client_for(script)
    assert client.get("job", "u1") == {"uuid": "u1"}
    assert len(slept) == 2
    assert all(0 <= s <= 8.0 for s in slept)


def test_retry_after_is_honoured() -> None:
    script = Script(httpx.Response(503, headers={"retry-after": "3"}, text="busy"),
                    httpx.Response(200, json={"uuid": "u1"}))
    client, slept = client_for(script)
    client.get("job", "u1")
    assert slept == [3.0]


def test_per_day_quota_is_not_retried() -> None:
    script = Script(httpx.Response(429, text="Number of allowed API requests per day exceeded"))
    client, slept = client_for(script)
    with pytest.raises(errors.QuotaExhausted):
        client.get("job", "u1")
    assert slept == [] and len(script.requests) == 1


def test_retries_stop_after_the_policy_attempts() -> None:
    script = Script(*[httpx.Response(500, text="boom") for _ in range(4)])
    client, slept = client_for(script)
    with pytest.raises(errors.RetryLater):
        client.get("job", "u1")
    assert len(script.requests) == 4 and len(slept) == 3


def test_401_refreshes_once_then_retries() -> None:
    refreshed: list[bool] = []
    script = Script(httpx.Response(401, json={"errorCode": 401, "message": "expired"}),
                    httpx.Response(200, json={"uuid": "u1"}))
    client, _ = client_for(script, refresh=lambda: refreshed.append(True))
    assert client.get("job", "u1")["uuid"] == "u1"
    assert refreshed == [True]


def test_second_401_means_reconnect() -> None:
    script = Script(*[httpx.Response(401, json={"message": "revoked"}) for _ in range(2)])
    client, _ = client_for(script, refresh=lambda: None)
    with pytest.raises(errors.ReconnectRequired):
        client.get("job", "u1")


def test_403_is_not_retried_and_names_the_scope() -> None:
    script = Script(httpx.Response(403, text="read_customer_contacts scope required"))
    client, slept = client_for(script)
    with pytest.raises(errors.MissingScope) as raised:
        client.get("companycontact", "u1")
    assert raised.value.required_scope == "read_customer_contacts"
    assert slept == [] and len(script.requests) == 1


def test_records_follow_x_next_cursor_until_absent() -> None:
    def page(records: list[dict[str, str]], cursor: str | None) -> httpx.Response:
        headers = {"x-next-cursor": cursor} if cursor else {}
        return httpx.Response(200, json=records, headers=headers)

    script = Script(page([{"uuid": "a"}], "c1"), page([{"uuid": "b"}], "c2"),
                    page([{"uuid": "c"}], None))
    client, _ = client_for(script)
    records: Iterator[dict[str, object]] = client.records(
        "job", Filter().where("active", "eq", 1)
    )
    assert [r["uuid"] for r in records] == ["a", "b", "c"]
    cursors = [r.url.params["cursor"] for r in script.requests]
    assert cursors == ["-1", "c1", "c2"]
    assert all(r.url.params["$filter"] == "active eq 1" for r in script.requests)


def test_records_stop_on_a_repeated_cursor() -> None:
    answers = [httpx.Response(200, json=[{"uuid": "x"}], headers={"x-next-cursor": "same"})
               for _ in range(3)]
    client, _ = client_for(Script(*answers))
    assert len(list(client.records("job"))) == 2


def test_a_list_that_breaks_off_midway_is_an_error_after_the_records_before_it() -> None:
    whole = json.dumps([{"uuid": f"r{i}", "note": "x" * 100} for i in range(50)])
    client, _ = client_for(Script(httpx.Response(200, text=whole[: len(whole) // 2])))
    got: list[str] = []

    def read_all() -> None:
        got.extend(str(record["uuid"]) for record in client.records("job"))

    with pytest.raises(errors.RetryLater):
        read_all()
    assert 0 < len(got) < 50


def test_a_list_call_answered_with_an_object_is_an_error() -> None:
    client, _ = client_for(Script(httpx.Response(200, json={"errorCode": 0})))
    with pytest.raises(errors.RetryLater, match="something else"):
        list(client.records("job"))


def test_numbers_in_a_streamed_list_read_as_json_loads_reads_them() -> None:
    row = {"uuid": "a", "total_invoice_amount": 12.5, "active": 1, "geo": None}
    client, _ = client_for(Script(httpx.Response(200, json=[row])))
    assert list(client.records("job")) == [row]


def test_subscriptions_are_form_encoded_at_the_host_root() -> None:
    script = Script(httpx.Response(200, json={"success": True}))
    client, _ = client_for(script)
    client.subscribe_object("job", ["uuid", "status"], "https://hooks.example.test/sm8/t", "c1")
    request = script.requests[0]
    assert request.url.path == "/webhook_subscriptions/object"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"object=job" in request.content and b"fields=uuid%2Cstatus" in request.content


def test_subscription_refusal_quotes_servicem8() -> None:
    refusal = {"success": False, "message": "Please specify an object for subscription"}
    client, slept = client_for(Script(httpx.Response(400, json=refusal)))
    with pytest.raises(errors.ServiceM8Error) as raised:
        client.subscribe_object("job", ["uuid"], "https://hooks.example.test/x", "c1")
    assert "Please specify an object for subscription" in raised.value.message
    assert slept == []


def test_budget_is_spent_before_every_call() -> None:
    spent: list[int] = []
    script = Script(httpx.Response(500, text="x"), httpx.Response(200, json={"uuid": "u"}))
    client, _ = client_for(script, spend_budget=lambda: spent.append(1))
    client.get("job", "u")
    assert len(spent) == 2


def test_a_number_past_pythons_digit_limit_is_an_unreadable_answer() -> None:
    body = '[{"uuid": "a", "total": ' + "9" * 5000 + "}]"
    client, _ = client_for(Script(httpx.Response(200, text=body)))
    with pytest.raises(errors.RetryLater, match="unreadable"):
        list(client.records("job"))
