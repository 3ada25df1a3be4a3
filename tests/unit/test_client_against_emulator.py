"""The ServiceM8 client against the emulator, in-process (WSGI transport, no socket).

Where ``test_client.py`` scripts single answers, these run the client against a
whole emulated ServiceM8: OAuth tokens, records, cursors, filters, throttling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.emulator import Emulator, EmulatorConfig
from servicem8_connector.oauth import OAuthClient
from servicem8_connector.servicem8 import errors
from servicem8_connector.servicem8.client import RetryPolicy, ServiceM8Client
from servicem8_connector.servicem8.filters import Filter

EMULATOR = "http://emulator.test"
REDIRECT_URI = "http://127.0.0.1/callback"
SCOPES = "vendor read_customers manage_customers read_jobs create_jobs manage_jobs"


@dataclass
class Connected:
    """A client acting for the emulator's default account, and what it did."""

    emulator: Emulator
    oauth: OAuthClient
    tokens: list[str]
    refresh_token: str
    slept: list[float] = field(default_factory=list)
    budget_spent: int = 0

    def client(self, **kwargs: object) -> ServiceM8Client:
        def spend() -> None:
            self.budget_spent += 1

        return ServiceM8Client(
            _http(self.emulator), api_url=EMULATOR,
            access_token=lambda: self.tokens[-1], refresh=self.refresh, spend_budget=spend,
            retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0),
            sleep=kwargs.pop("sleep", self.slept.append),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

    def refresh(self) -> None:
        grant = self.oauth.refresh(refresh_token=self.refresh_token, now=time.time())
        self.tokens.append(grant.access_token)
        self.refresh_token = grant.refresh_token or self.refresh_token

    def api_calls(self) -> list[dict[str, object]]:
        return [r for r in self.emulator.requests if str(r["path"]).startswith("/api_1.0")]


def _http(emulator: Emulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=emulator.wsgi_app), base_url=EMULATOR)


def connected_to(emulator: Emulator) -> Connected:
    """The authorization-code dance by hand, then the code exchanged by our OAuth client."""
    config = emulator.config
    authorized = _http(emulator).get("/oauth/authorize", params={
        "response_type": "code", "client_id": config.client_id, "scope": SCOPES,
        "redirect_uri": REDIRECT_URI, "state": "s"})
    code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
    oauth = OAuthClient(_http(emulator), authorize_url=f"{EMULATOR}/oauth/authorize",
                        token_url=f"{EMULATOR}/oauth/access_token",
                        client_id=config.client_id, client_secret=config.client_secret)
    grant = oauth.exchange_code(code=code, redirect_uri=REDIRECT_URI, now=time.time())
    assert grant.refresh_token is not None
    return Connected(emulator, oauth, [grant.access_token], grant.refresh_token)


def _emulator(**config: object) -> Iterator[Connected]:
    emulator = Emulator(EmulatorConfig(auto_approve=True, **config))  # type: ignore[arg-type]
    try:
        yield connected_to(emulator)
    finally:
        emulator.close()


@pytest.fixture
def sm8() -> Iterator[Connected]:
    yield from _emulator(page_size=3)


def test_create_get_update_and_soft_delete(sm8: Connected) -> None:
    client = sm8.client()
    created = client.create("company", {"name": "Harbour View Plumbing"})
    assert client.get("company", created)["name"] == "Harbour View Plumbing"
    client.update("company", created, {"name": "Harbour View Plumbing Pty"})
    assert client.get("company", created)["name"] == "Harbour View Plumbing Pty"
    client.delete("company", created)
    kept = client.get("company", created)  # soft: still there, inactive
    assert str(kept["active"]) == "0"


def test_create_answers_the_uuid_from_x_record_uuid_and_repeats_do_not_duplicate(
    sm8: Connected,
) -> None:
    client = sm8.client()
    chosen = "cccccccc-0000-4000-8000-000000000001"
    first = client.create("job", {"uuid": chosen, "status": "Quote"})
    again = client.create("job", {"uuid": chosen, "status": "Quote"})
    assert first == again == chosen
    assert [j["uuid"] for j in sm8.emulator.records(sm8.emulator.default_account_uuid, "job")
            ].count(chosen) == 1


def test_records_follow_x_next_cursor(sm8: Connected) -> None:
    client = sm8.client()
    made = {client.create("job", {"status": "Quote"}) for _ in range(7)}
    pages = 0

    def count_page() -> None:
        nonlocal pages
        pages += 1

    records = list(client.records("job", before_page=count_page))
    assert pages == 3 and len(records) == 7
    assert {r["uuid"] for r in records} == made
    cursors = [parse_qs(str(r["query"]))["cursor"][0] for r in sm8.api_calls()
               if r["method"] == "GET"]
    assert cursors[0] == "-1" and len(set(cursors)) == 3


def test_filter_is_encoded_so_servicem8_applies_it(sm8: Connected) -> None:
    client = sm8.client()
    quotes = {client.create("job", {"status": "Quote"}) for _ in range(2)}
    client.create("job", {"status": "Work Order"})
    found = list(client.records("job", Filter().where("status", "eq", "Quote")))
    assert {r["uuid"] for r in found} == quotes  # an unencoded filter would return all three
    query = str(sm8.api_calls()[-1]["query"])
    assert "%24filter=" in query and "%27Quote%27" in query and " " not in query


def _waiting_a_minute(sm8: Connected) -> Callable[[float], None]:
    """A sleep that lets the emulator's rolling minute pass instead of waiting it out."""

    def sleep(seconds: float) -> None:
        sm8.slept.append(seconds)
        sm8.emulator.advance_clock(61)

    return sleep


def test_per_minute_429_is_retried_after_waiting() -> None:
    for sm8 in _emulator(per_minute_limit=2):
        client = sm8.client(sleep=_waiting_a_minute(sm8))
        created = client.create("company", {"name": "A"})
        client.get("company", created)
        assert client.get("company", created)["name"] == "A"  # 429 first, then allowed
        assert len(sm8.slept) == 1
        assert [r["status"] for r in sm8.api_calls()] == [200, 200, 429, 200]


def test_per_day_429_is_not_retried() -> None:
    for sm8 in _emulator(per_day_limit=2):
        client = sm8.client()
        created = client.create("company", {"name": "A"})
        client.get("company", created)
        with pytest.raises(errors.QuotaExhausted):
            client.get("company", created)
        assert sm8.slept == []
        assert [r["status"] for r in sm8.api_calls()] == [200, 200, 429]


def test_unpaid_account_is_account_suspended_not_retried(sm8: Connected) -> None:
    sm8.emulator.set_unpaid(sm8.emulator.default_account_uuid)
    with pytest.raises(errors.AccountSuspended):
        next(sm8.client().records("job"))
    assert len(sm8.api_calls()) == 1 and sm8.slept == []


def test_edge_html_400_is_transient(sm8: Connected) -> None:
    client = sm8.client()
    sm8.emulator.faults.html_400_next = 1
    assert list(client.records("job")) == []
    assert len(sm8.slept) == 1
    sm8.emulator.faults.html_400_next = 10
    with pytest.raises(errors.RetryLater) as raised:
        client.get("job", "cccccccc-0000-4000-8000-000000000001")
    assert raised.value.status == 502
    assert len(sm8.slept) == 1 + 3  # four attempts in all


def test_interstitial_200_on_create_is_outcome_unknown(sm8: Connected) -> None:
    sm8.emulator.faults.html_200_next = 1
    with pytest.raises(errors.OutcomeUnknown):
        sm8.client().create("job", {"status": "Quote"})


def test_expired_token_is_refreshed_once_then_a_revoked_grant_needs_reconnect(
    sm8: Connected,
) -> None:
    client = sm8.client()
    sm8.emulator.advance_clock(3700)
    assert list(client.records("job")) == []
    assert len(sm8.tokens) == 2
    sm8.emulator.revoke(sm8.emulator.default_account_uuid)
    with pytest.raises(errors.ReconnectRequired):
        list(client.records("job"))
    assert len(sm8.tokens) == 2


def test_missing_scope_names_it_and_is_not_retried(sm8: Connected) -> None:
    with pytest.raises(errors.MissingScope) as raised:
        sm8.client().get("formresponse", "cccccccc-0000-4000-8000-000000000001")
    assert raised.value.required_scope == "read_forms"
    assert len(sm8.api_calls()) == 1 and len(sm8.tokens) == 1


def test_subscription_refusal_quotes_servicem8(sm8: Connected) -> None:
    with pytest.raises(errors.RejectedByServiceM8) as raised:
        # Not loopback: the emulator cannot deliver the challenge there, and says so.
        sm8.client().subscribe_object("job", ["uuid", "status"],
                                      "https://hooks.example.test/sm8/route", "con_x")
    assert "challenge" in raised.value.message
    call = sm8.emulator.requests[-1]
    assert call["content_type"] == "application/x-www-form-urlencoded"
    form: Any = call["form"]
    assert form == {"object": "job", "fields": "uuid,status",
                            "callback_url": "https://hooks.example.test/sm8/route",
                            "unique_id": "con_x"}


def test_a_refused_token_spends_no_rate_budget(sm8: Connected) -> None:
    def dead() -> str:
        raise errors.ReconnectRequired("this connection must be reconnected")

    client = ServiceM8Client(_http(sm8.emulator), api_url=EMULATOR, access_token=dead,
                             spend_budget=lambda: pytest.fail("budget spent"))
    with pytest.raises(errors.ReconnectRequired):
        client.get("job", "cccccccc-0000-4000-8000-000000000001")
    assert sm8.api_calls() == []
