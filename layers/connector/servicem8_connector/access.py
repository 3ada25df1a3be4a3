"""Who may act on a connection: the holder of its API key, and nobody else.

Each connection has one API key, issued once in exchange for the one-time
claim code the callback hands the app (like an OAuth code, it is short-lived
and single use). Only its SHA-256 is stored. A wrong key, another connection's
key and a made-up connection id all get the same 404, so a caller learns
nothing about connections that are not its own.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from servicem8_connector.connections import (
    Connection,
    ConnectionStore,
    StaleConnection,
)
from servicem8_connector.problems import Problem, not_found
from servicem8_connector.routes import digest

API_KEY_PREFIX = "sm8c_"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _unauthenticated() -> Problem:
    return Problem(401, "unauthenticated", "Authentication required",
                   "send the connection's API key as 'Authorization: Bearer <key>'")


class ConnectionAccess:
    """Issues API keys for claims and checks them on every request."""

    def __init__(self, store: ConnectionStore, now: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = now

    def authorize(self, connection_id: str, authorization: str | None) -> Connection:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(API_KEY_PREFIX):
            raise _unauthenticated()
        connection = self._store.get(connection_id)
        if connection is None or not connection.api_key_hash:
            raise not_found("no such connection")
        if not secrets.compare_digest(connection.api_key_hash, digest(key.strip())):
            raise not_found("no such connection")
        return connection

    def claim(self, connection_id: str, claim: str) -> str:
        """The connection's API key, once, for its unexpired claim code."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        for _ in range(3):  # a token refresh may bump the version meanwhile
            connection = self._store.get(connection_id)
            if connection is None or not self._claim_matches(connection, claim):
                raise not_found("no such connection, or the claim code is used or expired")
            try:
                self._store.update(connection, api_key_hash=digest(key), claim_hash="",
                                   claim_expires_at=0.0)
            except StaleConnection:
                continue
            return key
        raise Problem(409, "claim-in-progress", "Claim in progress",
                      "the connection kept changing; try the claim again")

    def _claim_matches(self, connection: Connection, claim: str) -> bool:
        return bool(
            connection.claim_hash
            and secrets.compare_digest(connection.claim_hash, digest(claim))
            and connection.claim_expires_at > self._now()
        )


_CONNECTION_PATH = re.compile(r"^/connections/(?P<connection_id>[^/]+)")


def require_api_key(
    access: Callable[[], ConnectionAccess], *, exempt: Callable[[str, str], bool] | None = None
) -> Callable[[LambdaHandler], LambdaHandler]:
    """Wrap an HTTP API handler so nothing runs for a caller without the connection's key.

    It runs before Powertools' own validation, so an unauthenticated caller learns
    nothing about the API's schema either.
    """

    def wrap(handler: LambdaHandler) -> LambdaHandler:
        @functools.wraps(handler)
        def checked(event: dict[str, Any], context: Any) -> dict[str, Any]:
            method = str(event.get("requestContext", {}).get("http", {}).get("method", ""))
            path = str(event.get("rawPath") or "")
            if exempt is not None and exempt(method, path):
                return handler(event, context)
            match = _CONNECTION_PATH.match(path)
            headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
            try:
                if match is None:
                    raise not_found("no such route")
                access().authorize(match.group("connection_id"), headers.get("authorization"))
            except Problem as problem:
                return _v2_problem(problem, path if match is None else None)
            return handler(event, context)

        return checked

    return wrap


def _v2_problem(problem: Problem, instance: str | None) -> dict[str, Any]:
    headers = problem.headers()
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="servicem8-connector"'
    return {"statusCode": problem.status, "headers": headers, "body": problem.json(instance),
            "isBase64Encoded": False}
