"""Tokens: sealed per connection, refreshed once however many callers ask."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from servicem8_connector.connections import (
    Connection,
    ConnectionSecrets,
    ConnectionStatus,
    ConnectionStore,
    new_connection_id,
)
from servicem8_connector.oauth import OAuthClient
from servicem8_connector.servicem8.errors import ReconnectRequired
from servicem8_connector.tokens import TokenManager
from tests.support.aws import MockedStack


class TokenEndpoint:
    """A rotating-refresh-token endpoint that counts its calls."""

    def __init__(self, answer: str = "ok") -> None:
        self.calls = 0
        self.answer = answer
        self.live_refresh = "refresh-0"
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
            form = dict(httpx.QueryParams(request.content.decode()))
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            if self.answer != "ok":
                return httpx.Response(400, json={"error": self.answer})
            if form.get("refresh_token") != self.live_refresh:
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.live_refresh = f"refresh-{self.calls}"
            time.sleep(0.05)  # a slow endpoint widens the race window
            return httpx.Response(200, json={
                "access_token": f"access-{self.calls}", "expires_in": 3600,
                "refresh_token": self.live_refresh, "scope": "vendor read_jobs",
            })


class AtomicCalls:
    """DynamoDB applies each conditional write atomically; moto's in-process model does
    not, so calls are serialised here to give threads the guarantee the service gives."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        method = getattr(self._client, name)

        def locked(*args: object, **kwargs: object) -> object:
            with self._lock:
                return method(*args, **kwargs)

        return locked


def make_store(mocked_aws: MockedStack) -> ConnectionStore:
    return ConnectionStore(
        AtomicCalls(mocked_aws.client("dynamodb")), mocked_aws.client("kms"),
        table=mocked_aws.settings.connector_table, key_id=mocked_aws.settings.token_key_id,
    )


def make_manager(store: ConnectionStore, endpoint: TokenEndpoint) -> TokenManager:
    oauth = OAuthClient(
        httpx.Client(transport=httpx.MockTransport(endpoint)),
        authorize_url="https://sm8.example.test/oauth/authorize",
        token_url="https://sm8.example.test/oauth/access_token",
        client_id="app", client_secret="app-secret",
    )
    return TokenManager(store, oauth)


def stored_connection(store: ConnectionStore, *, expires_in: float) -> Connection:
    connection_id = new_connection_id()
    route_token = f"route-token-xyz-{connection_id}"
    secrets = ConnectionSecrets(access_token="access-0", refresh_token="refresh-0",
                                route_token=route_token)
    now = time.time()
    connection = Connection(
        connection_id=connection_id, status=ConnectionStatus.ACTIVE,
        account_uuid="99999999-0000-4000-8000-000000000000", created_at=now,
        access_expires_at=now + expires_in, refreshed_at=now,
        sealed_secrets=store.seal(connection_id, secrets),
    )
    store.create(connection, route_token)
    return connection


def test_valid_token_is_served_without_calling_the_endpoint(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    endpoint = TokenEndpoint()
    connection = stored_connection(store, expires_in=3000)
    assert make_manager(store, endpoint).access_token(connection.connection_id) == "access-0"
    assert endpoint.calls == 0


def test_expired_token_is_refreshed_and_rotated_refresh_token_kept(
    mocked_aws: MockedStack,
) -> None:
    store = make_store(mocked_aws)
    endpoint = TokenEndpoint()
    connection = stored_connection(store, expires_in=-10)
    manager = make_manager(store, endpoint)
    assert manager.access_token(connection.connection_id) == "access-1"
    latest = store.get(connection.connection_id)
    assert latest is not None
    assert store.unseal(latest).refresh_token == "refresh-1"


def test_fifty_concurrent_callers_make_one_refresh(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    endpoint = TokenEndpoint()
    connection = stored_connection(store, expires_in=-10)
    managers = [make_manager(store, endpoint) for _ in range(50)]  # 50 cold Lambdas
    with ThreadPoolExecutor(max_workers=50) as pool:
        tokens = list(pool.map(lambda m: m.access_token(connection.connection_id), managers))
    assert endpoint.calls == 1
    assert set(tokens) == {"access-1"}


def test_invalid_grant_marks_reconnect_and_stops_token_calls(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    endpoint = TokenEndpoint(answer="invalid_grant")
    connection = stored_connection(store, expires_in=-10)
    manager = make_manager(store, endpoint)
    with pytest.raises(ReconnectRequired):
        manager.access_token(connection.connection_id)
    latest = store.get(connection.connection_id)
    assert latest is not None and latest.status is ConnectionStatus.RECONNECT_REQUIRED
    for _ in range(100):
        with pytest.raises(ReconnectRequired):
            manager.access_token(connection.connection_id)
    assert endpoint.calls == 1


def test_invalid_request_is_not_a_reconnect(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    endpoint = TokenEndpoint(answer="invalid_request")
    connection = stored_connection(store, expires_in=-10)
    with pytest.raises(Exception, match="token endpoint refused") as raised:
        make_manager(store, endpoint).access_token(connection.connection_id)
    assert not isinstance(raised.value, ReconnectRequired)
    latest = store.get(connection.connection_id)
    assert latest is not None and latest.status is ConnectionStatus.ACTIVE
    assert latest.refresh_lease_until == 0.0


def test_no_token_is_stored_in_plaintext(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    stored_connection(store, expires_in=3000)
    items = mocked_aws.client("dynamodb").scan(
        TableName=mocked_aws.settings.connector_table)["Items"]
    dump = json.dumps(items)
    for secret in ("access-0", "refresh-0", "route-token-xyz"):
        assert secret not in dump
        assert base64.b64encode(secret.encode()).decode() not in dump


def test_sealed_secrets_do_not_open_under_another_connection(mocked_aws: MockedStack) -> None:
    store = make_store(mocked_aws)
    first = stored_connection(store, expires_in=3000)
    second = stored_connection(store, expires_in=3000)
    swapped = second.model_copy(update={"sealed_secrets": first.sealed_secrets})
    with pytest.raises(Exception, match="InvalidCiphertext"):
        store.unseal(swapped)
