"""PROBLEMS.md #4: "OAuth Scopes" — a fine-grained scope is missing: 403.

A 403 naming a scope is the grant's shape, not a dead token: it becomes a 403
``insufficient-scope`` problem carrying ``required_scope`` when ServiceM8 names it,
with no refresh, no retry and the connection left as it was. Where the connector
already knows the scope an action needs, it refuses without calling ServiceM8.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from local.emulator import Emulator, EmulatorConfig
from local.environment import LocalEnvironment
from tests.problems.conftest import account_of, api, calls, connect, describe, live

NARROW = "read_jobs read_customers"
CONTACT = "eeeeeeee-0000-4000-8000-000000000005"
EMULATOR = "http://emulator.test"


@pytest.fixture
def alone() -> Iterator[Emulator]:
    """An emulator of its own, in-process (no socket)."""
    emulator = Emulator(EmulatorConfig(auto_approve=True))
    yield emulator
    emulator.close()


def granted_token(emulator: Emulator, scope: str) -> str:
    """The OAuth dance by hand, asking only for ``scope``; returns the access token."""
    http = httpx.Client(transport=httpx.WSGITransport(app=emulator.wsgi_app), base_url=EMULATOR)
    config = emulator.config
    redirect_uri = "http://127.0.0.1/callback"
    authorized = http.get("/oauth/authorize", params={
        "response_type": "code", "client_id": config.client_id, "scope": scope,
        "redirect_uri": redirect_uri, "state": "s"})
    code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
    oauth = live("oauth").OAuthClient(
        http, authorize_url=f"{EMULATOR}/oauth/authorize",
        token_url=f"{EMULATOR}/oauth/access_token",
        client_id=config.client_id, client_secret=config.client_secret)
    grant = oauth.exchange_code(code=code, redirect_uri=redirect_uri, now=time.time())
    assert grant.scopes == tuple(scope.split())
    return str(grant.access_token)


def client_for(app: Callable[..., Any], token: str, refreshes: list[int]) -> Any:
    return live("servicem8.client").ServiceM8Client(
        httpx.Client(transport=httpx.WSGITransport(app=app)), api_url=EMULATOR,
        access_token=lambda: token, refresh=lambda: refreshes.append(1),
        sleep=lambda _seconds: None)


def problem_body(error: Exception) -> dict[str, Any]:
    return dict(live("problems").problem_for(error).body())


def test_missing_scope_is_a_403_problem_naming_it(alone: Emulator) -> None:
    refreshes: list[int] = []
    client = client_for(alone.wsgi_app, granted_token(alone, NARROW), refreshes)
    with pytest.raises(live("servicem8.errors").MissingScope) as raised:
        client.get("companycontact", CONTACT)
    assert raised.value.required_scope == "read_customer_contacts"
    assert [r["path"] for r in alone.requests if str(r["path"]).startswith("/api_1.0")] \
        == [f"/api_1.0/companycontact/{CONTACT}.json"]  # once: no retry
    assert refreshes == []
    body = problem_body(raised.value)
    assert body["status"] == 403 and body["type"] == "/problems/insufficient-scope"
    assert body["required_scope"] == "read_customer_contacts"


def _answering_403(text: str, emulator: Emulator) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if Request(environ).path.startswith("/api_1.0/companycontact"):
            return Response(text, 403, content_type="text/plain")(environ, start_response)
        return emulator.wsgi_app(environ, start_response)

    return app


@pytest.mark.parametrize(("text", "scope"), [
    ("read_customer_contacts scope required", "read_customer_contacts"),
    ("Access forbidden.", None),
])
def test_plain_text_403_names_the_scope_only_when_it_is_there(
    alone: Emulator, text: str, scope: str | None
) -> None:
    refreshes: list[int] = []
    client = client_for(_answering_403(text, alone), granted_token(alone, NARROW), refreshes)
    with pytest.raises(live("servicem8.errors").MissingScope) as raised:
        client.get("companycontact", CONTACT)
    body = problem_body(raised.value)
    assert body["type"] == "/problems/insufficient-scope"
    assert body.get("required_scope") == scope
    assert ("required_scope" in body) is (scope is not None)
    assert refreshes == []


def test_action_with_a_narrow_grant_answers_403_and_leaves_the_connection(
    env: LocalEnvironment, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vendor too: connecting reads vendor.json to learn the account.
    monkeypatch.setattr(live("connect"), "CONNECTOR_SCOPES", ("vendor", *NARROW.split()))
    connected = connect(env, "P4 Narrow Plumbing")
    monkeypatch.undo()
    account = account_of(env, connected.connection_id)
    assert describe(env, connected)["scopes"] == ["vendor", *NARROW.split()]
    token_calls, started = emu.token_calls, time.monotonic()
    with api(env, connected) as owner:
        answer = owner.post("/jobs", json={"status": "Quote"})
        assert owner.get("/jobs").status_code == 200  # what the grant covers still works
    assert answer.status_code == 403, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/insufficient-scope"
    assert problem["required_scope"] == "create_jobs"
    posts = calls(emu, account=account, since=started, path="/api_1.0/job.json", method="POST")
    assert len(posts) <= 1  # once at most (none when the scope map answers first): no retry
    assert emu.token_calls == token_calls
    assert describe(env, connected)["status"] == "active"


def test_scope_map_refuses_without_calling_servicem8(alone: Emulator) -> None:
    refreshes: list[int] = []
    client = client_for(alone.wsgi_app, granted_token(alone, NARROW), refreshes)
    actions = live("actions").Actions(lambda _connection_id: client,
                                      scopes_for=lambda _connection_id: tuple(NARROW.split()))
    body = live("records").JobCreate(status="Quote")
    calls_before = len(alone.requests)
    with pytest.raises(live("servicem8.errors").MissingScope) as raised:
        actions.create("con_p4", "jobs", body)
    assert len(alone.requests) == calls_before
    assert problem_body(raised.value)["required_scope"] == "create_jobs"
    with pytest.raises(live("servicem8.errors").MissingScope) as raised:
        actions.update("con_p4", "clients", CONTACT, live("records").ClientUpdate(name="X"))
    assert raised.value.required_scope == "manage_customers"
    assert len(alone.requests) == calls_before
    assert actions.list("con_p4", "jobs", None, False)["count"] == 0  # read_jobs: allowed
    assert len(alone.requests) == calls_before + 1
