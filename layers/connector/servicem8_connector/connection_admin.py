"""What a connection's owner can do with it besides the actions: look, tune, disconnect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from servicem8_connector.connections import Connection, ConnectionStore
from servicem8_connector.problems import Problem
from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import ServiceM8Error
from servicem8_connector.settings import Settings
from servicem8_connector.subscriptions import (
    expect_challenges,
    reconcile,
    refusal,
    unsubscribe,
)
from servicem8_connector.tokens import TokenManager

logger = logging.getLogger(__name__)


class ConnectionAdmin:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ConnectionStore,
        tokens: TokenManager,
        servicem8_for: Callable[[str], ServiceM8Client],
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._servicem8_for = servicem8_for

    def describe(self, connection: Connection) -> dict[str, Any]:
        return {
            "connection_id": connection.connection_id,
            "status": connection.status.value,
            "account_uuid": connection.account_uuid,
            "account_name": connection.account_name,
            "reference": connection.reference,
            "scopes": list(connection.scopes),
            "triggers": list(connection.triggers),
            "subscriptions": connection.subscriptions,
            "created_at": connection.created_at,
            "reconnect_url": self.reconnect_url(connection.connection_id),
        }

    def reconnect_url(self, connection_id: str) -> str:
        return f"{self._settings.connect_url()}?reconnect={connection_id}"

    def set_triggers(self, connection: Connection, triggers: list[str]) -> dict[str, Any]:
        callback_url = self._settings.webhook_url(self._tokens.secrets(connection).route_token)
        connection = expect_challenges(self._store, connection)
        bookkeeping = reconcile(
            self._servicem8_for(connection.connection_id),
            connection.subscriptions,
            triggers=triggers,
            callback_url=callback_url,
            unique_id=connection.connection_id,
        )
        latest = self._store.get(connection.connection_id) or connection
        updated = self._store.update(latest, triggers=tuple(bookkeeping["triggers"]),
                                     subscriptions=bookkeeping)
        refused = refusal(bookkeeping)
        if refused is not None:
            # Recorded as failed above; the same call would be refused again, so say why
            # now instead of answering success (PROBLEMS.md #1).
            name, message = refused
            raise Problem(422, "upstream-validation", "ServiceM8 refused the subscription",
                          f"ServiceM8 refused the {name} subscription: {message}",
                          subscription=name)
        return self.describe(updated)

    def disconnect(self, connection: Connection) -> dict[str, Any]:
        """Remove our subscriptions at ServiceM8, then forget tokens and route."""
        route_token = self._tokens.secrets(connection).route_token
        removed = True
        try:
            unsubscribe(self._servicem8_for(connection.connection_id), connection.subscriptions,
                        self._settings.webhook_url(route_token))
        except ServiceM8Error as error:
            # The route is deleted below, so ServiceM8's later deliveries get 404 anyway.
            logger.warning("could not remove subscriptions at ServiceM8",
                           extra={"error": type(error).__name__})
            removed = False
        self._store.delete(connection, route_token)
        return {"connection_id": connection.connection_id, "disconnected": True,
                "servicem8_subscriptions_removed": removed}
