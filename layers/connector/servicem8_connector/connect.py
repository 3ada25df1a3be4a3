"""The OAuth dance: ``/connect`` starts it, ``/callback`` finishes it.

ServiceM8 offers no PKCE and checks redirects by host only (FACTS.md §1.3), so
our side binds each attempt to the browser that started it: a random ``state``
(stored hashed, single use, 10 minutes) plus a cookie nonce whose hash the
state must match. A callback without both never reaches the token endpoint.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

from servicem8_connector.connections import (
    Connection,
    ConnectionSecrets,
    ConnectionStatus,
    ConnectionStore,
    new_connection_id,
    new_route_token,
)
from servicem8_connector.dynamo import from_item, is_condition_failure, to_item
from servicem8_connector.oauth import OAuthClient, TokenGrant
from servicem8_connector.routes import digest
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.settings import CONNECTOR_SCOPES, Settings
from servicem8_connector.subscriptions import ALL_TRIGGERS, subscribe

logger = logging.getLogger(__name__)
STATE_SECONDS = 600
OAUTH_ERRORS = frozenset({"access_denied", "invalid_scope", "server_error",
                          "temporarily_unavailable", "unauthorized_client"})
CLAIM_SECONDS = 600
CHALLENGE_WINDOW_SECONDS = 120
MAX_REFERENCE_CHARS = 200
BROWSER_COOKIE = "sm8_connect"


class ConnectRefused(Exception):
    """The connect or callback request cannot go on; ``kind`` names why."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class ConsentDenied(ConnectRefused):
    """The user said no at ServiceM8; the app may still want its user back."""

    def __init__(self, detail: str, return_url: str | None, reference: str | None) -> None:
        super().__init__("consent-denied", detail)
        self.return_url = return_url
        self.reference = reference


@dataclass(frozen=True)
class ConnectStart:
    redirect_url: str
    browser_nonce: str


@dataclass(frozen=True)
class ConnectResult:
    connection: Connection
    return_url: str | None
    reference: str | None
    claim: str | None  # exchanged once for the API key; None after a reconnect

    def __repr__(self) -> str:
        return f"ConnectResult(connection_id={self.connection.connection_id!r})"


def new_claim() -> str:
    return secrets.token_urlsafe(32)


def return_url_allowed(url: str, allowed_prefixes: tuple[str, ...]) -> bool:
    """Same scheme and host as an allowed prefix, and a path under its path."""
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.netloc or target.username:
        return False
    # Browsers resolve dot segments (also percent-encoded ones) before requesting, so
    # "/allowed/../elsewhere" would leave the allowed path: refuse any.
    segments = unquote(target.path).split("/")
    if any(segment in (".", "..") for segment in segments) or "\\" in unquote(target.path):
        return False
    for prefix in allowed_prefixes:
        allowed = urlsplit(prefix)
        if (target.scheme, target.netloc.lower()) != (allowed.scheme, allowed.netloc.lower()):
            continue
        base = allowed.path.rstrip("/")
        if target.path == base or target.path.startswith(base + "/") or not base:
            return True
    return False


class ConnectService:
    """Starts and finishes connections; every collaborator is passed in."""

    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any,
        oauth: OAuthClient,
        store: ConnectionStore,
        servicem8_for: Callable[[str], ServiceM8Client],
        now: Callable[[], float] = time.time,
        after_reconnect: Callable[[Connection], object] | None = None,
    ) -> None:
        self._settings = settings
        self._db = dynamodb
        self._oauth = oauth
        self._store = store
        self._servicem8_for = servicem8_for
        self._now = now
        self._after_reconnect = after_reconnect  # replays deliveries parked meanwhile

    def start(
        self, *, return_url: str | None, reference: str | None, reconnect: str | None = None
    ) -> ConnectStart:
        if return_url and not return_url_allowed(return_url, self._settings.allowed_return_urls):
            raise ConnectRefused("return-url-not-allowed",
                                 "return_url is not on this deployment's allow-list")
        if reference is not None and len(reference) > MAX_REFERENCE_CHARS:
            raise ConnectRefused("invalid-reference",
                                 f"reference is longer than {MAX_REFERENCE_CHARS} characters")
        if reconnect is not None and self._store.get(reconnect) is None:
            # Say so before the user consents at ServiceM8, not after.
            raise ConnectRefused("not-found", "no such connection to reconnect")
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        record = {
            "pk": f"STATE#{digest(state)}",
            "sk": "-",
            "browser": digest(nonce),
            "return_url": return_url or "",
            "reference": reference or "",
            "reconnect": reconnect or "",
            "expires_at": int(self._now()) + STATE_SECONDS,
        }
        self._db.put_item(TableName=self._settings.connector_table, Item=to_item(record))
        url = self._oauth.authorize_url(
            scopes=CONNECTOR_SCOPES, redirect_uri=self._settings.callback_url, state=state
        )
        return ConnectStart(redirect_url=url, browser_nonce=nonce)

    def consume_state(self, state: str | None, browser_nonce: str | None) -> dict[str, Any]:
        """Take the state out of the table; it answers once, for its own browser."""
        if not state:
            raise ConnectRefused("invalid-state", "the callback carries no state")
        try:
            answer = self._db.delete_item(
                TableName=self._settings.connector_table,
                Key=to_item({"pk": f"STATE#{digest(state)}", "sk": "-"}),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise ConnectRefused("invalid-state",
                                     "unknown or already used state") from error
            raise
        record = from_item(answer["Attributes"])
        # DynamoDB TTL deletes lazily, so expiry is checked here, not trusted to it.
        if record["expires_at"] <= self._now():
            raise ConnectRefused("invalid-state", "the connect attempt expired; start again")
        if not browser_nonce or not secrets.compare_digest(
            record["browser"], digest(browser_nonce)
        ):
            raise ConnectRefused("invalid-state",
                                 "the callback came from another browser than /connect")
        return record

    def finish(
        self, *, state: str | None, code: str | None, error: str | None,
        browser_nonce: str | None,
    ) -> ConnectResult:
        record = self.consume_state(state, browser_nonce)
        return_url = record["return_url"] or None
        reference = record["reference"] or None
        if error or not code:
            # OAuth's error names are a fixed vocabulary; anything else is not echoed.
            reason = error if error in OAUTH_ERRORS else "access_denied"
            raise ConsentDenied(f"ServiceM8 answered {reason}", return_url, reference)
        grant = self._oauth.exchange_code(
            code=code, redirect_uri=self._settings.callback_url, now=self._now()
        )
        if record.get("reconnect"):
            connection = self._reconnect(str(record["reconnect"]), grant)
            if connection.api_key_hash:
                return ConnectResult(connection, return_url, reference, claim=None)
            # Never claimed (the first claim code lapsed): hand out a fresh one.
            claim = new_claim()
            connection = self._store.update(connection, claim_hash=digest(claim),
                                            claim_expires_at=self._now() + CLAIM_SECONDS)
            return ConnectResult(connection, return_url, reference, claim=claim)
        claim = new_claim()
        connection = self._create_connection(grant, reference, claim)
        return ConnectResult(connection, return_url, reference, claim=claim)

    def _reconnect(self, connection_id: str, grant: TokenGrant) -> Connection:
        """New tokens for an existing connection, only for the account it was made for."""
        connection = self._store.get(connection_id)
        if connection is None:
            raise ConnectRefused("not-found", "no such connection to reconnect")
        vendor = self._servicem8_for(grant.access_token).vendor()
        if str(vendor["uuid"]) != connection.account_uuid:
            raise ConnectRefused(
                "account-mismatch",
                "ServiceM8 answered for a different account than this connection's; "
                "nothing was changed",
            )
        reconnected = self._store.store_grant(connection, grant, self._now(),
                                              status=ConnectionStatus.ACTIVE)
        if self._after_reconnect is not None:
            try:
                self._after_reconnect(reconnected)
            except Exception as error:
                # The reconnect stands either way: the hourly maintenance replays the rest.
                logger.warning("parked deliveries not replayed after the reconnect",
                               extra={"error": type(error).__name__})
        return reconnected

    def _create_connection(
        self, grant: TokenGrant, reference: str | None, claim: str
    ) -> Connection:
        connection_id = new_connection_id()
        route_token = new_route_token()
        sealed = ConnectionSecrets(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            route_token=route_token,
        )
        client = self._servicem8_for(grant.access_token)
        vendor = client.vendor()
        now = self._now()
        connection = Connection(
            connection_id=connection_id,
            status=ConnectionStatus.ACTIVE,
            account_uuid=str(vendor["uuid"]),
            account_name=str(vendor.get("name") or ""),
            scopes=grant.scopes or CONNECTOR_SCOPES,
            reference=reference,
            created_at=now,
            access_expires_at=grant.expires_at,
            refreshed_at=now,
            sealed_secrets=self._store.seal(connection_id, sealed),
            triggers=ALL_TRIGGERS,
            claim_hash=digest(claim),
            claim_expires_at=now + CLAIM_SECONDS,
            challenge_window_until=now + CHALLENGE_WINDOW_SECONDS,
        )
        # Stored before subscribing: ServiceM8's challenge hits our receiver
        # during the subscribe call, and the receiver must find the route.
        self._store.create(connection, route_token)
        bookkeeping = subscribe(
            client,
            triggers=connection.triggers,
            callback_url=self._settings.webhook_url(route_token),
            unique_id=connection_id,
        )
        return self._store.update(connection, subscriptions=bookkeeping)
