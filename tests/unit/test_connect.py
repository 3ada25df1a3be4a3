"""OAuth state: random, stored hashed, bound to the browser, single use, expiring."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from servicem8_connector.connect import ConnectRefused, ConnectService
from servicem8_connector.connections import ConnectionStore
from servicem8_connector.oauth import OAuthClient
from servicem8_connector.servicem8.client import ServiceM8Client
from tests.support.aws import MockedStack


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def service(mocked_aws: MockedStack, clock: Clock) -> tuple[ConnectService, list[httpx.Request]]:
    settings = mocked_aws.settings
    token_calls: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        token_calls.append(request)
        return httpx.Response(400, json={"error": "invalid_grant"})

    oauth = OAuthClient(httpx.Client(transport=httpx.MockTransport(token_endpoint)),
                        authorize_url=settings.authorize_url, token_url=settings.token_url,
                        client_id="app", client_secret="app-secret")
    store = ConnectionStore(mocked_aws.client("dynamodb"), mocked_aws.client("kms"),
                            table=settings.connector_table, key_id=settings.token_key_id)

    def no_servicem8(token: str) -> ServiceM8Client:
        raise AssertionError("ServiceM8 must not be called")

    connect = ConnectService(settings, dynamodb=mocked_aws.client("dynamodb"), oauth=oauth,
                             store=store, servicem8_for=no_servicem8, now=clock)
    return connect, token_calls


def state_of(redirect_url: str) -> str:
    return parse_qs(urlsplit(redirect_url).query)["state"][0]


def test_state_is_random_and_stored_only_hashed(mocked_aws: MockedStack) -> None:
    connect, _ = service(mocked_aws, Clock())
    states = {state_of(connect.start(return_url=None, reference=None).redirect_url)
              for _ in range(20)}
    assert len(states) == 20
    assert all(len(s) >= 43 for s in states)
    table = mocked_aws.client("dynamodb").scan(
        TableName=mocked_aws.settings.connector_table)["Items"]
    dump = json.dumps(table)
    assert not any(s in dump for s in states)


def test_expired_state_is_refused_without_a_token_call(mocked_aws: MockedStack) -> None:
    clock = Clock()
    connect, token_calls = service(mocked_aws, clock)
    started = connect.start(return_url=None, reference=None)
    clock.now += 601
    with pytest.raises(ConnectRefused) as refused:
        connect.finish(state=state_of(started.redirect_url), code="c", error=None,
                       browser_nonce=started.browser_nonce)
    assert refused.value.kind == "invalid-state"
    assert token_calls == []


def test_state_from_another_browser_is_refused_and_spent(mocked_aws: MockedStack) -> None:
    connect, token_calls = service(mocked_aws, Clock())
    started = connect.start(return_url=None, reference=None)
    state = state_of(started.redirect_url)
    with pytest.raises(ConnectRefused):
        connect.finish(state=state, code="c", error=None, browser_nonce="someone-else")
    with pytest.raises(ConnectRefused):  # the owner's later try finds it spent
        connect.finish(state=state, code="c", error=None, browser_nonce=started.browser_nonce)
    assert token_calls == []


def test_return_url_must_match_an_allowed_prefix(mocked_aws: MockedStack) -> None:
    connect, _ = service(mocked_aws, Clock())
    for url in ("https://app.example.test.evil.test/return", "https://evil.test/return",
                "https://app.example.test/returnx", "https://user@app.example.test/return",
                "javascript:alert(1)"):
        with pytest.raises(ConnectRefused):
            connect.start(return_url=url, reference=None)
    assert connect.start(return_url="https://app.example.test/return/ok", reference=None)


@pytest.mark.parametrize("url", [
    "https://app.example.test/return/../admin",
    "https://app.example.test/return/%2e%2e/admin",
    "https://app.example.test/return/%2E%2E/admin",
    "https://app.example.test/return/./x",
])
def test_return_url_with_dot_segments_is_refused(mocked_aws: MockedStack, url: str) -> None:
    connect, _ = service(mocked_aws, Clock())
    with pytest.raises(ConnectRefused):
        connect.start(return_url=url, reference=None)
