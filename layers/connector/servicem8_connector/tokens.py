"""Valid access tokens for a connection, refreshed once however many ask.

ServiceM8 rotates the refresh token on every use (FACTS.md §1.5), so two
Lambdas refreshing at once would kill the grant: the second would present a
token the first already spent. A refresh therefore takes a short lease on the
connection with a conditional write; everyone else waits for the version to
move on and uses the tokens the lease holder stored.

Lease timeline for one connection (version v, lease L):

    caller A: read v ── lease(v, L) ok ── token endpoint ── write v+1, lease 0
    caller B: read v ── lease(v, L) fails ── poll … ── reads v+1 ── uses it
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from servicem8_connector.connections import (
    Connection,
    ConnectionSecrets,
    ConnectionStatus,
    ConnectionStore,
    StaleConnection,
)
from servicem8_connector.oauth import OAuthClient, TokenEndpointError
from servicem8_connector.servicem8.errors import ReconnectRequired, RetryLater

EXPIRY_SKEW_SECONDS = 120.0
LEASE_SECONDS = 15.0
WAIT_SECONDS = 12.0
POLL_SECONDS = 0.05


class ConnectionGone(Exception):
    """No such connection (never made, or disconnected)."""


class TokenManager:
    """Hands out valid access tokens and performs single-flight refreshes."""

    def __init__(
        self,
        store: ConnectionStore,
        oauth: OAuthClient,
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_refresh: Callable[[], None] | None = None,
        on_refresh_refused: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._oauth = oauth
        self._now = now
        self._sleep = sleep
        self._on_refresh = on_refresh
        self._on_refresh_refused = on_refresh_refused
        self._unsealed: dict[tuple[str, int], ConnectionSecrets] = {}
        self._served_version: dict[str, int] = {}
        self._lock = threading.Lock()

    def connection(self, connection_id: str) -> Connection:
        found = self._store.get(connection_id)
        if found is None:
            raise ConnectionGone(connection_id)
        return found

    def access_token(self, connection_id: str) -> str:
        connection = self.connection(connection_id)
        _require_active(connection)
        if connection.access_expires_at - EXPIRY_SKEW_SECONDS <= self._now():
            connection = self._refreshed(connection)
        self._served_version[connection_id] = connection.version
        return self.secrets(connection).access_token

    def refresh_after_rejection(self, connection_id: str) -> None:
        """ServiceM8 refused the token last served: refresh, unless someone already did."""
        connection = self.connection(connection_id)
        _require_active(connection)
        if connection.version == self._served_version.get(connection_id, connection.version):
            self._refreshed(connection)

    def secrets(self, connection: Connection) -> ConnectionSecrets:
        key = (connection.connection_id, connection.version)
        with self._lock:
            cached = self._unsealed.get(key)
        if cached is None:
            cached = self._store.unseal(connection)
            with self._lock:
                self._unsealed = {k: v for k, v in self._unsealed.items() if k[0] != key[0]}
                self._unsealed[key] = cached
        return cached

    def _refreshed(self, connection: Connection) -> Connection:
        now = self._now()
        if connection.refresh_lease_until <= now:
            try:
                leased = self._store.update(connection, refresh_lease_until=now + LEASE_SECONDS)
            except StaleConnection:
                return self._wait_for_newer(connection)
            return self._refresh_under_lease(leased)
        return self._wait_for_newer(connection)

    def _refresh_under_lease(self, leased: Connection) -> Connection:
        current = self.secrets(leased)
        if current.refresh_token is None:
            raise ReconnectRequired("no refresh token stored for this connection")
        try:
            grant = self._oauth.refresh(refresh_token=current.refresh_token, now=self._now())
        except ReconnectRequired:
            self._store.update(
                leased, status=ConnectionStatus.RECONNECT_REQUIRED, refresh_lease_until=0.0
            )
            raise
        except TokenEndpointError:
            # Our request is wrong, not the grant: worth an operator's alarm.
            self._store.update(leased, refresh_lease_until=0.0)
            if self._on_refresh_refused is not None:
                self._on_refresh_refused()
            raise
        except Exception:
            self._store.update(leased, refresh_lease_until=0.0)
            raise
        if self._on_refresh is not None:
            self._on_refresh()
        return self._store.store_grant(leased, grant, self._now())

    def _wait_for_newer(self, seen: Connection) -> Connection:
        deadline = self._now() + WAIT_SECONDS
        while self._now() < deadline:
            self._sleep(POLL_SECONDS)
            latest = self.connection(seen.connection_id)
            _require_active(latest)
            if latest.version != seen.version and latest.refresh_lease_until <= self._now():
                return latest
            if latest.refresh_lease_until <= self._now() and (
                latest.access_expires_at - EXPIRY_SKEW_SECONDS <= self._now()
            ):
                # The lease holder gave up without refreshing: take our own turn.
                return self._refreshed(latest)
        raise RetryLater("another caller is still refreshing this connection's token")


def _require_active(connection: Connection) -> None:
    if connection.status is ConnectionStatus.RECONNECT_REQUIRED:
        raise ReconnectRequired("this connection must be reconnected")
