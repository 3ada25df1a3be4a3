"""The webhook receiver's work: answer the handshake, authenticate, enqueue.

ServiceM8 gives a delivery 10 seconds and signs nothing (FACTS.md §4.5): the
unguessable route token in the path is the only credential, so an unknown
token gets the same 404 as a wrong path, and nothing else happens. Everything
slower than a table read and a queue write is left to the processor.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from servicem8_connector.parking import without_secrets
from servicem8_connector.routes import connection_for_route

if TYPE_CHECKING:
    from servicem8_connector.connections import ConnectionStore

MAX_ROUTE_TOKEN_CHARS = 128
# SQS takes 256 KiB a message; a larger body travels gzip-compressed (JSON shrinks ~5-10x).
MAX_MESSAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class IntakeAnswer:
    status: int
    body: str
    content_type: str


NOT_FOUND = IntakeAnswer(
    404,
    json.dumps({"type": "/problems/not-found", "title": "Not found", "status": 404,
                "detail": "no such webhook route"}),
    "application/problem+json",
)


TOO_LARGE = IntakeAnswer(
    413,
    json.dumps({"type": "/problems/delivery-too-large", "title": "Delivery too large",
                "status": 413,
                "detail": "even compressed, this body does not fit a queue message"}),
    "application/problem+json",
)


UNEXPECTED_CHALLENGE = IntakeAnswer(
    403,
    json.dumps({"type": "/problems/unexpected-challenge", "title": "Unexpected challenge",
                "status": 403, "detail": "this connection is not subscribing right now"}),
    "application/problem+json",
)


def challenge_of(body: str, content_type: str | None) -> str | None:
    """The challenge of a ``mode=subscribe`` handshake (FACTS.md §4.2), else None."""
    if "json" in (content_type or "") or "mode=" not in body:
        return None
    form = parse_qs(body, keep_blank_values=True)
    if form.get("mode", [""])[0] != "subscribe":
        return None
    challenge = form.get("challenge", [""])[0]
    return challenge or None


class WebhookIntake:
    """Turns one HTTP delivery into one queue message for its connection."""

    def __init__(
        self,
        dynamodb: Any,
        sqs: Any,
        *,
        table: str,
        queue_url: str,
        connections: Callable[[], ConnectionStore],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._sqs = sqs
        self._queue_url = queue_url
        # Only a handshake reads the connection itself: its store is built when one comes.
        self._connections = connections
        self._now = now

    def receive(
        self, route_token: str, body: str, content_type: str | None, correlation_id: str = ""
    ) -> IntakeAnswer:
        if not route_token or len(route_token) > MAX_ROUTE_TOKEN_CHARS:
            return NOT_FOUND
        connection_id = connection_for_route(self._db, self._table, route_token)
        if connection_id is None:
            return NOT_FOUND
        challenge = challenge_of(body, content_type)
        if challenge is not None:
            return self._handshake(connection_id, challenge)
        message = {
            "connection_id": connection_id,
            "received_at": self._now(),
            "content_type": content_type or "",
            # An add-on envelope may carry an access token; it never reaches the queue.
            "body": without_secrets(body),
            "correlation_id": correlation_id,
        }
        encoded = queue_message(message)
        if encoded is None:
            return TOO_LARGE
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=encoded)
        return IntakeAnswer(200, json.dumps({"received": True}), "application/json")

    def _handshake(self, connection_id: str, challenge: str) -> IntakeAnswer:
        """Echo only while this connection is subscribing: a stray challenge proves nothing."""
        connection = self._connections().get(connection_id)
        if connection is None or connection.challenge_window_until <= self._now():
            return UNEXPECTED_CHALLENGE
        return IntakeAnswer(200, challenge, "text/plain")


def queue_message(message: dict[str, Any]) -> str | None:
    """``message`` as an SQS body, its webhook body compressed if it must be; None if
    it cannot fit even so."""
    encoded = json.dumps(message)
    if len(encoded.encode()) <= MAX_MESSAGE_BYTES:
        return encoded
    packed = base64.b64encode(gzip.compress(str(message["body"]).encode())).decode()
    encoded = json.dumps({**message, "body": "", "body_gzip": packed})
    return encoded if len(encoded.encode()) <= MAX_MESSAGE_BYTES else None
