"""The scheduled round over every connection: token keep-alive, subscription health.

ServiceM8 does not document how long an unused refresh token lives (FACTS.md
§1.5), and it deactivates subscriptions whose deliveries keep failing
(§4.3). Each hourly round therefore refreshes tokens idle for a day and
re-subscribes whatever ServiceM8 lists as inactive or no longer lists at all.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from servicem8_connector.connections import Connection, ConnectionStatus, ConnectionStore
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import ReconnectRequired, ServiceM8Error
from servicem8_connector.settings import Settings
from servicem8_connector.subscriptions import expect_challenges, subscribe
from servicem8_connector.tokens import TokenManager

logger = logging.getLogger(__name__)
KEEPALIVE_AFTER_SECONDS = 24 * 3600


@dataclass
class MaintenanceReport:
    tally: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        return dict(self.tally)


class Maintenance:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ConnectionStore,
        tokens: TokenManager,
        servicem8_for: Callable[[str], ServiceM8Client],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._servicem8_for = servicem8_for
        self._now = now

    def run(self) -> MaintenanceReport:
        report = MaintenanceReport()
        for connection in self._store.all_connections():
            if connection.status is not ConnectionStatus.ACTIVE:
                report.tally["ConnectionsNeedingReconnect"] += 1
                continue
            try:
                self._keep_alive(connection, report)
                self._heal_subscriptions(connection, report)
            except ReconnectRequired:
                report.tally["ConnectionsNeedingReconnect"] += 1
            except ServiceM8Error as error:
                logger.warning("maintenance skipped a connection",
                               extra={"connection_id": connection.connection_id,
                                      "error": type(error).__name__})
                report.tally["ConnectionsSkipped"] += 1
        return report

    def _keep_alive(self, connection: Connection, report: MaintenanceReport) -> None:
        if self._now() - connection.refreshed_at < KEEPALIVE_AFTER_SECONDS:
            return
        self._tokens.refresh_after_rejection(connection.connection_id)
        report.tally["TokensKeptAlive"] += 1

    def _heal_subscriptions(self, connection: Connection, report: MaintenanceReport) -> None:
        client = self._servicem8_for(connection.connection_id)
        route_token = self._tokens.secrets(connection).route_token
        callback_url = self._settings.webhook_url(route_token)
        ours = [s for s in client.subscriptions() if s.get("callback_url") == callback_url]
        healthy = bool(ours) and all(str(s.get("active", "1")) == "1" for s in ours)
        if healthy:
            report.tally["SubscriptionsHealthy"] += 1
            return
        connection = expect_challenges(self._store, connection)
        bookkeeping = subscribe(client, triggers=connection.triggers,
                                callback_url=callback_url, unique_id=connection.connection_id)
        latest = self._store.get(connection.connection_id) or connection
        self._store.update(latest, subscriptions=bookkeeping)
        report.tally["SubscriptionsRenewed"] += 1
