"""The hourly round: tokens kept alive, subscriptions healed, parked deliveries replayed."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from servicem8_connector.connections import (
    Connection,
    ConnectionSecrets,
    ConnectionStatus,
    ConnectionStore,
)
from servicem8_connector.maintenance import KEEPALIVE_AFTER_SECONDS, Maintenance
from servicem8_connector.oauth import OAuthClient
from servicem8_connector.parking import DeliveryParking, without_secrets
from servicem8_connector.processor import Outcome, QueuedDelivery
from servicem8_connector.servicem8.errors import RetryLater
from servicem8_connector.subscriptions import ALL_TRIGGERS, EVENT_FOR_TRIGGER
from servicem8_connector.tokens import TokenManager
from tests.support.aws import MockedStack

T0 = 1_775_000_000.0
ROUTE_TOKEN = "route-token-for-maintenance-tests-0123456789"


class Clock:
    """Frozen until a test moves it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={"access_token": f"access-{self.calls}",
                                         "expires_in": 3600,
                                         "refresh_token": f"refresh-{self.calls}"})


class ServiceM8:
    """The subscription listing as ServiceM8 answers it, and the re-subscribes made."""

    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.listed = listed
        self.subscribed: list[str] = []

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.listed]

    def unsubscribe(self, form: dict[str, str]) -> None:
        self.listed = [s for s in self.listed if s.get("event") != form.get("event")]

    def subscribe_event(self, event: str, callback_url: str, unique_id: str) -> None:
        self.subscribed.append(event)
        self.listed = [s for s in self.listed if s["event"] != event]
        self.listed.append({"event": event, "callback_url": callback_url, "active": 1})


class Rig:
    def __init__(self, mocked_aws: MockedStack, listed_active: list[int] | None) -> None:
        self.settings = mocked_aws.settings
        self.clock = Clock()
        self.table = mocked_aws.client("dynamodb")
        self.store = ConnectionStore(self.table, mocked_aws.client("kms"),
                                     table=self.settings.connector_table,
                                     key_id=self.settings.token_key_id)
        self.endpoint = TokenEndpoint()
        oauth = OAuthClient(httpx.Client(transport=httpx.MockTransport(self.endpoint)),
                            authorize_url="https://sm8.example.test/oauth/authorize",
                            token_url="https://sm8.example.test/oauth/access_token",
                            client_id="app", client_secret="secret")
        self.tokens = TokenManager(self.store, oauth, now=self.clock)
        self.connection = self._stored_connection()
        url = self.settings.webhook_url(ROUTE_TOKEN)
        events = [EVENT_FOR_TRIGGER[t] for t in ALL_TRIGGERS]
        self.servicem8 = ServiceM8([] if listed_active is None else [
            {"event": e, "callback_url": url, "active": a}
            for e, a in zip(events, listed_active, strict=True)])
        self.parking = DeliveryParking(self.table, self.settings.connector_table, now=self.clock)
        self.processed: list[QueuedDelivery] = []

    def _stored_connection(self) -> Connection:
        secrets = ConnectionSecrets(access_token="access-0", refresh_token="refresh-0",
                                    route_token=ROUTE_TOKEN)
        connection = Connection(
            connection_id="con_maintained", status=ConnectionStatus.ACTIVE,
            account_uuid="99999999-0000-4000-8000-000000000000", created_at=T0,
            access_expires_at=T0 + 3600, refreshed_at=T0, triggers=ALL_TRIGGERS,
            sealed_secrets=self.store.seal("con_maintained", secrets),
            api_key_hash="0" * 64)
        self.store.create(connection, ROUTE_TOKEN)
        return connection

    def process(self, message: QueuedDelivery) -> Outcome:
        self.processed.append(message)
        return Outcome(published=1)

    def _servicem8_for(self, _connection_id: str) -> Any:
        return self.servicem8

    def run(self) -> dict[str, int]:
        processor: Any = self  # only .process is used by the replay
        maintenance = Maintenance(self.settings, store=self.store, tokens=self.tokens,
                                  # A fake with the few client methods used here.
                                  servicem8_for=self._servicem8_for,
                                  processor=processor, parking=self.parking, now=self.clock)
        return maintenance.run().counts()

    def latest(self) -> Connection:
        found = self.store.get(self.connection.connection_id)
        assert found is not None
        return found


def test_connection_idle_for_a_day_is_refreshed_before_servicem8_lets_it_lapse(
    mocked_aws: MockedStack,
) -> None:
    rig = Rig(mocked_aws, listed_active=[1, 1, 1, 1, 1])
    rig.clock.now = T0 + KEEPALIVE_AFTER_SECONDS - 60
    assert "TokensKeptAlive" not in rig.run()
    assert rig.endpoint.calls == 0

    rig.clock.now = T0 + KEEPALIVE_AFTER_SECONDS + 1
    assert rig.run()["TokensKeptAlive"] == 1
    assert rig.endpoint.calls == 1
    assert rig.latest().refreshed_at == rig.clock.now
    assert rig.store.unseal(rig.latest()).refresh_token == "refresh-1"

    rig.clock.now += 3600  # the next hourly run: refreshed an hour ago, nothing to do
    assert "TokensKeptAlive" not in rig.run()
    assert rig.endpoint.calls == 1


def test_a_subscription_servicem8_deactivated_is_subscribed_again(
    mocked_aws: MockedStack,
) -> None:
    rig = Rig(mocked_aws, listed_active=[1, 0, 1, 1, 1])
    counts = rig.run()
    assert counts["SubscriptionsRenewed"] == 1
    assert sorted(rig.servicem8.subscribed) == sorted(EVENT_FOR_TRIGGER.values())
    bookkeeping = rig.latest().subscriptions
    assert set(bookkeeping["events"].values()) == {"active"}
    assert all(s["active"] == 1 for s in rig.servicem8.listed)
    assert rig.run()["SubscriptionsHealthy"] == 1  # healed: the next run leaves it alone
    assert len(rig.servicem8.subscribed) == 5


def test_subscriptions_servicem8_no_longer_lists_are_made_again(mocked_aws: MockedStack) -> None:
    rig = Rig(mocked_aws, listed_active=None)
    assert rig.run()["SubscriptionsRenewed"] == 1
    assert len(rig.servicem8.listed) == 5


def test_a_connection_waiting_for_reconnect_is_left_alone(mocked_aws: MockedStack) -> None:
    rig = Rig(mocked_aws, listed_active=[0, 0, 0, 0, 0])
    rig.store.update(rig.latest(), status=ConnectionStatus.RECONNECT_REQUIRED)
    rig.clock.now = T0 + 2 * KEEPALIVE_AFTER_SECONDS
    assert rig.run() == {"ConnectionsNeedingReconnect": 1}
    assert rig.endpoint.calls == 0 and rig.servicem8.subscribed == []


@pytest.mark.parametrize("reason", ["reconnect-required", "unrecognised: body is not JSON"])
def test_parked_deliveries_are_replayed_only_when_parked_for_a_reconnect(
    mocked_aws: MockedStack, reason: str,
) -> None:
    rig = Rig(mocked_aws, listed_active=[1, 1, 1, 1, 1])
    message = QueuedDelivery(connection_id=rig.connection.connection_id, received_at=T0,
                             body='{"id": "smwe_1", "type": "job.created", "data": {}}')
    rig.parking.park(message, reason)
    counts = rig.run()
    replayed = reason == "reconnect-required"
    assert counts.get("ParkedDeliveriesReplayed", 0) == int(replayed)
    assert [m.body for m in rig.processed] == ([message.body] if replayed else [])
    assert len(rig.parking.parked(rig.connection.connection_id)) == int(not replayed)


def test_a_failing_replay_leaves_the_delivery_parked_and_healing_goes_on(
    mocked_aws: MockedStack,
) -> None:
    rig = Rig(mocked_aws, listed_active=[0, 1, 1, 1, 1])
    message = QueuedDelivery(connection_id=rig.connection.connection_id, received_at=T0,
                             body='{"id": "smwe_1", "type": "job.created", "data": {}}')
    rig.parking.park(message, "reconnect-required")

    def unavailable(_: QueuedDelivery) -> Outcome:
        raise RetryLater("ServiceM8 did not answer")

    rig.process = unavailable  # type: ignore[method-assign]
    counts = rig.run()
    assert counts["ParkedReplaysFailed"] == 1 and counts["SubscriptionsRenewed"] == 1
    assert len(rig.parking.parked(rig.connection.connection_id)) == 1


ADDON = {"eventVersion": "1.0", "eventName": "webhook_subscription",
         "auth": {"accountUUID": "99999999-0000-4000-8000-000000000000", "staffUUID": "s",
                  "accessToken": "addon-access-token-value", "accessTokenExpiry": 3600},
         "eventArgs": {"object": "job", "entry": [{"uuid": "0686ce69", "changed_fields": []}]}}


def test_the_addon_envelopes_access_token_is_never_kept(mocked_aws: MockedStack) -> None:
    rig = Rig(mocked_aws, listed_active=[1, 1, 1, 1, 1])
    message = QueuedDelivery(connection_id=rig.connection.connection_id, received_at=T0,
                             content_type="application/json", body=json.dumps(ADDON))
    rig.parking.park(message, "reconnect-required")
    rig.parking.keep_raw(message)
    stored = json.dumps(rig.table.scan(TableName=rig.settings.connector_table)["Items"])
    assert "addon-access-token-value" not in stored
    kept = json.loads(json.loads(rig.parking.parked("con_maintained")[0].message)["body"])
    assert kept["auth"] == {"accountUUID": ADDON["auth"]["accountUUID"], "staffUUID": "s",
                            "accessTokenExpiry": 3600}
    assert kept["eventArgs"] == ADDON["eventArgs"]


def test_a_jwt_body_keeps_its_payload_but_no_token_or_signature() -> None:
    payload = base64.urlsafe_b64encode(json.dumps(ADDON).encode()).decode().rstrip("=")
    jwt = f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.c2lnbmF0dXJlLWJ5dGVz"
    kept = without_secrets(jwt)
    assert kept.startswith("jwt-payload:")
    assert "addon-access-token-value" not in kept and "c2lnbmF0dXJlLWJ5dGVz" not in kept
    assert json.loads(kept.removeprefix("jwt-payload:"))["eventArgs"] == ADDON["eventArgs"]


@pytest.mark.parametrize(("body", "kept"), [
    ('{"id": "smwe_1", "type": "job.created", "data": {"uuid": "x"}}', None),
    ("mode=subscribe&challenge=c-1", None),
    ("access_token=abc123&mode=x", "access_token=[removed]&mode=x"),
    ('{"data": {"refresh_token": "r", "name": "n"}}', '{"data": {"name": "n"}}'),
], ids=["event-untouched", "form-untouched", "form-token", "nested-token"])
def test_bodies_are_kept_as_sent_except_for_tokens(body: str, kept: str | None) -> None:
    assert without_secrets(body) == (body if kept is None else kept)


def test_a_connection_never_claimed_is_removed_a_day_after_its_claim_lapsed(
    mocked_aws: MockedStack,
) -> None:
    rig = Rig(mocked_aws, listed_active=[1, 1, 1, 1, 1])
    events = {EVENT_FOR_TRIGGER[t]: "active" for t in ALL_TRIGGERS}
    rig.store.update(rig.latest(), api_key_hash="", claim_expires_at=T0 + 600,
                     subscriptions={"mode": "event", "events": events})
    rig.clock.now = T0 + 600 + 3600
    assert "UnclaimedConnectionsRemoved" not in rig.run()
    rig.clock.now = T0 + 600 + 24 * 3600 + 1
    assert rig.run()["UnclaimedConnectionsRemoved"] == 1
    assert rig.store.get(rig.connection.connection_id) is None
    assert rig.store.connection_for_route(ROUTE_TOKEN) is None
    assert rig.servicem8.listed == []
