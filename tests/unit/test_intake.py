"""The receiver's work: handshake only when expected, route tokens, one message per delivery."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from pydantic import ValidationError

from servicem8_connector.connections import (
    Connection,
    ConnectionSecrets,
    ConnectionStatus,
    ConnectionStore,
    new_connection_id,
    new_route_token,
)
from servicem8_connector.intake import MAX_MESSAGE_BYTES, WebhookIntake, challenge_of
from servicem8_connector.processor import decode_message
from tests.support.aws import MockedStack


def setup(mocked_aws: MockedStack, *, window: float) -> tuple[WebhookIntake, str, str, str]:
    settings = mocked_aws.settings
    store = ConnectionStore(mocked_aws.client("dynamodb"), mocked_aws.client("kms"),
                            table=settings.connector_table, key_id=settings.token_key_id)
    connection_id, route_token = new_connection_id(), new_route_token()
    now = time.time()
    sealed = store.seal(connection_id, ConnectionSecrets(
        access_token="a", refresh_token="r", route_token=route_token))
    store.create(Connection(
        connection_id=connection_id, status=ConnectionStatus.ACTIVE, account_uuid="acc",
        created_at=now, access_expires_at=now + 3600, refreshed_at=now,
        sealed_secrets=sealed, challenge_window_until=now + window,
    ), route_token)
    queue_url = settings.delivery_queue_url
    intake = WebhookIntake(mocked_aws.client("dynamodb"), mocked_aws.client("sqs"),
                           table=settings.connector_table, queue_url=queue_url,
                           connections=lambda: store)
    return intake, connection_id, route_token, queue_url


def queued(mocked_aws: MockedStack, queue_url: str) -> list[dict[str, object]]:
    answer = mocked_aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_challenge_is_echoed_while_subscribing(mocked_aws: MockedStack) -> None:
    intake, _, route, _ = setup(mocked_aws, window=60)
    answer = intake.receive(route, "mode=subscribe&challenge=abc123",
                            "application/x-www-form-urlencoded")
    assert (answer.status, answer.body) == (200, "abc123")


def test_challenge_nobody_asked_for_is_not_echoed(mocked_aws: MockedStack) -> None:
    intake, _, route, queue_url = setup(mocked_aws, window=-1)
    answer = intake.receive(route, "mode=subscribe&challenge=abc123",
                            "application/x-www-form-urlencoded")
    assert answer.status == 403
    assert "abc123" not in answer.body
    assert queued(mocked_aws, queue_url) == []


def test_wrong_route_token_is_404_and_nothing_is_queued(mocked_aws: MockedStack) -> None:
    intake, _, route, queue_url = setup(mocked_aws, window=60)
    for token in (route[:-1] + ("A" if route[-1] != "A" else "B"), "", "x" * 500):
        answer = intake.receive(token, '{"id":"smwe_1","type":"job.created","data":{}}',
                                "application/json")
        assert answer.status == 404
    assert queued(mocked_aws, queue_url) == []


def test_delivery_is_queued_with_its_connection_and_without_the_route_token(
    mocked_aws: MockedStack,
) -> None:
    intake, connection_id, route, queue_url = setup(mocked_aws, window=60)
    body = '{"id":"smwe_1","type":"job.created","data":{"uuid":"u1"}}'
    assert intake.receive(route, body, "application/json").status == 200
    [message] = queued(mocked_aws, queue_url)
    assert message["connection_id"] == connection_id
    assert message["body"] == body
    assert route not in json.dumps(message)


def test_challenge_of_reads_only_form_handshakes() -> None:
    assert challenge_of("mode=subscribe&challenge=c1", "application/x-www-form-urlencoded") == "c1"
    assert challenge_of('{"mode":"subscribe","challenge":"c1"}', "application/json") is None
    assert challenge_of("mode=unsubscribe&challenge=c1", None) is None
    assert challenge_of("mode=subscribe", None) is None


def test_a_body_too_large_for_sqs_travels_compressed_and_arrives_whole(
    mocked_aws: MockedStack,
) -> None:
    intake, _, route_token, queue_url = setup(mocked_aws, window=0)
    notes = "".join(f"line {i}: replaced the hot water unit, tested, all good. "
                    for i in range(8000))
    body = json.dumps({"id": "smwe_big", "type": "job.updated",
                       "data": {"uuid": "0686ce69-4a5d-4f73-ad56-827ffaaced2b",
                                "job_description": notes}})
    assert len(body) > MAX_MESSAGE_BYTES

    answer = intake.receive(route_token, body, "application/json")

    assert answer.status == 200
    [message] = queued(mocked_aws, queue_url)
    assert message["body"] == "" and message["body_gzip"]
    assert decode_message(json.dumps(message)).body == body


def test_a_body_too_large_even_compressed_is_refused_with_a_problem(
    mocked_aws: MockedStack,
) -> None:
    intake, _, route_token, queue_url = setup(mocked_aws, window=0)
    noise = base64.b64encode(os.urandom(400 * 1024)).decode()  # random: gzip cannot shrink it
    answer = intake.receive(route_token, json.dumps({"data": noise}), "application/json")

    assert answer.status == 413 and answer.content_type == "application/problem+json"
    assert json.loads(answer.body)["type"] == "/problems/delivery-too-large"
    assert queued(mocked_aws, queue_url) == []


def test_a_queue_message_with_a_broken_compressed_body_is_refused() -> None:
    message = {"connection_id": "con_x", "received_at": 1.0, "body": "", "body_gzip": "bm90"}
    with pytest.raises(ValidationError):
        decode_message(json.dumps(message))
