"""The scheduled round over every connection: keep-alive, parked replays, healing, backfill.

ServiceM8 does not document how long an unused refresh token lives (FACTS.md
§1.5), and it deactivates subscriptions whose deliveries keep failing (§4.3).
Each hourly round therefore, for every active connection: refreshes tokens idle
for a day; replays deliveries parked while the connection waited for a reconnect
(in case the reconnect's own replay did not finish); and re-subscribes whatever
ServiceM8 lists as inactive or no longer lists at all. Only after every
connection is healed does it poll the gaps it found (backfill.py), with the time
left: healing first stops more from being missed, and one account's long
catch-up cannot starve another's keep-alive.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from servicem8_connector.backfill import Backfill
from servicem8_connector.connections import Connection, ConnectionStatus, ConnectionStore
from servicem8_connector.parking import DeliveryParking
from servicem8_connector.processor import DeliveryProcessor
from servicem8_connector.publishing import PublishError
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import ReconnectRequired, ServiceM8Error
from servicem8_connector.settings import Settings
from servicem8_connector.staging import ClaimHeld
from servicem8_connector.subscriptions import expect_challenges, subscribe, unsubscribe
from servicem8_connector.tokens import TokenManager
from servicem8_connector.triggers import StateUnavailable

logger = logging.getLogger(__name__)
KEEPALIVE_AFTER_SECONDS = 24 * 3600
# An unclaimed connection can still be reconnected for a fresh claim meanwhile.
UNCLAIMED_GRACE_SECONDS = 24 * 3600
# The function's timeout is 300 s; the backfill stops taking new work after this.
BACKFILL_UNTIL_SECONDS = 200.0
# What a replay or a backfill can run into and still leave things to retry next hour.
_RETRY_NEXT_RUN = (ServiceM8Error, ClaimHeld, StateUnavailable, PublishError, ClientError,
                   BotoCoreError)


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
        processor: DeliveryProcessor | None = None,
        parking: DeliveryParking | None = None,
        backfill: Backfill | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._servicem8_for = servicem8_for
        self._processor = processor
        self._parking = parking
        self._backfill = backfill
        self._now = now

    def run(self) -> MaintenanceReport:
        report = MaintenanceReport()
        deadline = self._now() + BACKFILL_UNTIL_SECONDS
        gaps: list[Connection] = []
        for connection in self._store.all_connections():
            if self._unclaimed_too_long(connection):
                self._forget(connection, report)
                continue
            if connection.status is not ConnectionStatus.ACTIVE:
                report.tally["ConnectionsNeedingReconnect"] += 1
                continue
            try:
                self._keep_alive(connection, report)
                self._replay_parked(connection, report)
                healthy = self._heal_subscriptions(connection, report)
            except ReconnectRequired:
                report.tally["ConnectionsNeedingReconnect"] += 1
                continue
            except ServiceM8Error as error:
                _warn("maintenance skipped a connection", connection, error)
                report.tally["ConnectionsSkipped"] += 1
                continue
            if self._backfill is not None and self._backfill.note_health(connection, healthy):
                gaps.append(connection)
        for connection in gaps:
            self._fill_gap(connection, report, deadline)
        return report

    def _unclaimed_too_long(self, connection: Connection) -> bool:
        """Nobody ever claimed its API key, and a day has passed since the claim lapsed."""
        return not connection.api_key_hash and (
            connection.claim_expires_at + UNCLAIMED_GRACE_SECONDS < self._now()
        )

    def _forget(self, connection: Connection, report: MaintenanceReport) -> None:
        """Unsubscribe and delete a connection no one can use: its tokens go with it."""
        route_token = self._tokens.secrets(connection).route_token
        try:
            unsubscribe(self._servicem8_for(connection.connection_id),
                        connection.subscriptions, self._settings.webhook_url(route_token))
        except ServiceM8Error as error:
            # Deleting the route below turns ServiceM8's later deliveries into 404s anyway.
            _warn("unclaimed connection's subscriptions not removed", connection, error)
        self._store.delete(connection, route_token)
        report.tally["UnclaimedConnectionsRemoved"] += 1

    def _keep_alive(self, connection: Connection, report: MaintenanceReport) -> None:
        if self._now() - connection.refreshed_at < KEEPALIVE_AFTER_SECONDS:
            return
        self._tokens.refresh_after_rejection(connection.connection_id)
        report.tally["TokensKeptAlive"] += 1

    def _replay_parked(self, connection: Connection, report: MaintenanceReport) -> None:
        if self._parking is None or self._processor is None:
            return
        try:
            replayed = self._parking.replay(connection.connection_id, self._processor.process)
        except ReconnectRequired:
            raise
        except _RETRY_NEXT_RUN as error:
            _warn("parked deliveries not all replayed", connection, error)
            report.tally["ParkedReplaysFailed"] += 1
            return
        report.tally["ParkedDeliveriesReplayed"] += replayed.replayed

    def _heal_subscriptions(self, connection: Connection, report: MaintenanceReport) -> bool:
        """Re-subscribe unless all is well; True when ServiceM8 listed everything active."""
        client = self._servicem8_for(connection.connection_id)
        route_token = self._tokens.secrets(connection).route_token
        callback_url = self._settings.webhook_url(route_token)
        ours = [s for s in client.subscriptions() if s.get("callback_url") == callback_url]
        healthy = bool(ours) and all(str(s.get("active", "1")) == "1" for s in ours)
        if healthy:
            report.tally["SubscriptionsHealthy"] += 1
            return True
        # Re-read: the listing above may have refreshed the token, a new version.
        connection = expect_challenges(self._store, self._latest(connection))
        bookkeeping = subscribe(client, triggers=connection.triggers,
                                callback_url=callback_url, unique_id=connection.connection_id)
        self._store.update(self._latest(connection), subscriptions=bookkeeping)
        report.tally["SubscriptionsRenewed"] += 1
        return False

    def _latest(self, connection: Connection) -> Connection:
        return self._store.get(connection.connection_id) or connection

    def _fill_gap(self, connection: Connection, report: MaintenanceReport, deadline: float) -> None:
        assert self._backfill is not None
        try:
            result = self._backfill.run(connection, deadline=deadline)
        except _RETRY_NEXT_RUN as error:
            _warn("backfill stopped; it resumes next run", connection, error)
            report.tally["BackfillsIncomplete"] += 1
            return
        report.tally["RecordsBackfilled"] += result.records
        report.tally["TriggersBackfilled"] += result.published
        report.tally["BackfillsComplete" if result.complete else "BackfillsIncomplete"] += 1


def _warn(message: str, connection: Connection, error: Exception) -> None:
    logger.warning(message, extra={"connection_id": connection.connection_id,
                                   "error": type(error).__name__})
