"""Wiring for the Lambda handlers: real clients, built once per container.

Everything here is lazy, so a handler pays at cold start only for what it
uses, and :func:`reset` lets tests rebuild the wiring against a fresh moto.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import boto3  # every handler calls AWS on every invocation; the rest is imported on use

if TYPE_CHECKING:
    import httpx
    from aws_lambda_powertools import Metrics

    from servicem8_connector.access import ConnectionAccess
    from servicem8_connector.actions import Actions
    from servicem8_connector.connect import ConnectService
    from servicem8_connector.connection_admin import ConnectionAdmin
    from servicem8_connector.connections import Connection, ConnectionStore
    from servicem8_connector.idempotency import Create
    from servicem8_connector.intake import WebhookIntake
    from servicem8_connector.maintenance import Maintenance
    from servicem8_connector.oauth import OAuthClient
    from servicem8_connector.parking import DeliveryParking
    from servicem8_connector.processor import DeliveryProcessor
    from servicem8_connector.ratebudget import RateBudget
    from servicem8_connector.servicem8.client import ServiceM8Client
    from servicem8_connector.servicem8.errors import ServiceM8Error
    from servicem8_connector.settings import Settings
    from servicem8_connector.tokens import TokenManager


@functools.cache
def settings() -> Settings:
    from servicem8_connector.settings import Settings

    return Settings.from_env()


@functools.cache
def aws(service: str) -> Any:
    return boto3.client(service)


@functools.cache
def http() -> httpx.Client:
    from servicem8_connector.servicem8.client import new_http_client

    return new_http_client()


@functools.cache
def app_secret() -> str:
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings().app_secret_arn, transform="json", max_age=300)
    return str(secret["client_secret"])


def oauth() -> OAuthClient:
    from servicem8_connector.oauth import OAuthClient

    config = settings()
    return OAuthClient(
        http(),
        authorize_url=config.authorize_url,
        token_url=config.token_url,
        client_id=config.app_id,
        client_secret=app_secret(),
    )


@functools.cache
def connection_store() -> ConnectionStore:
    from servicem8_connector.connections import ConnectionStore

    config = settings()
    return ConnectionStore(
        aws("dynamodb"), aws("kms"), table=config.connector_table, key_id=config.token_key_id
    )


@functools.cache
def metrics() -> Metrics:
    """Powertools' metrics buffer, shared with the handler that flushes it."""
    from aws_lambda_powertools import Metrics

    return Metrics()


def count(name: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)


def _count_servicem8_error(error: ServiceM8Error) -> None:
    count("ServiceM8Throttled" if error.status == 429 else "ServiceM8Errors")


@functools.cache
def token_manager() -> TokenManager:
    from servicem8_connector.tokens import TokenManager

    return TokenManager(connection_store(), oauth(), on_refresh=lambda: count("TokenRefreshes"),
                        on_refresh_refused=lambda: count("TokenEndpointRejected"))


@functools.cache
def rate_budget() -> RateBudget:
    from servicem8_connector.ratebudget import RateBudget

    return RateBudget(aws("dynamodb"), table=settings().connector_table)


def servicem8_for_connection(connection_id: str) -> ServiceM8Client:
    """A client acting for one connection: its tokens, its account's rate budget."""
    from servicem8_connector.servicem8.client import ServiceM8Client

    tokens = token_manager()
    account_uuid = tokens.connection(connection_id).account_uuid
    budget = rate_budget()
    return ServiceM8Client(
        http(),
        api_url=settings().api_url,
        access_token=lambda: tokens.access_token(connection_id),
        refresh=lambda: tokens.refresh_after_rejection(connection_id),
        spend_budget=lambda: budget.spend(account_uuid),
        on_error=_count_servicem8_error,
    )


def servicem8_for_token(access_token: str) -> ServiceM8Client:
    """A client for the first calls of a connection that is not stored yet."""
    from servicem8_connector.servicem8.client import ServiceM8Client

    return ServiceM8Client(http(), api_url=settings().api_url, access_token=lambda: access_token,
                           on_error=_count_servicem8_error)


@functools.cache
def connect_service() -> ConnectService:
    from servicem8_connector.connect import ConnectService

    return ConnectService(
        settings(),
        dynamodb=aws("dynamodb"),
        oauth=oauth(),
        store=connection_store(),
        servicem8_for=servicem8_for_token,
        after_reconnect=replay_parked,
    )


# The callback's browser waits: replay briefly, and leave the rest to the hourly maintenance.
REPLAY_IN_CALLBACK = 20
REPLAY_IN_CALLBACK_SECONDS = 8.0


def replay_parked(connection: Connection) -> None:
    """Deliveries parked while the connection waited for this reconnect, processed now."""
    parking().replay(connection.connection_id, processor().process, limit=REPLAY_IN_CALLBACK,
                     deadline=time.time() + REPLAY_IN_CALLBACK_SECONDS)


@functools.cache
def parking() -> DeliveryParking:
    from servicem8_connector.parking import DeliveryParking

    return DeliveryParking(aws("dynamodb"), settings().connector_table)


@functools.cache
def actions() -> Actions:
    from servicem8_connector.actions import Actions

    # The grant's scopes let an action it cannot cover be refused before any call.
    from servicem8_connector.idempotency import IdempotentCreates

    def idempotent(create: Create) -> IdempotentCreates:
        return IdempotentCreates(create, dynamodb=aws("dynamodb"),
                                 table=settings().connector_table)

    return Actions(servicem8_for_connection,
                   scopes_for=lambda cid: token_manager().connection(cid).scopes,
                   idempotent=idempotent)


@functools.cache
def access() -> ConnectionAccess:
    from servicem8_connector.access import ConnectionAccess

    return ConnectionAccess(connection_store())


@functools.cache
def admin() -> ConnectionAdmin:
    from servicem8_connector.connection_admin import ConnectionAdmin

    return ConnectionAdmin(settings(), store=connection_store(), tokens=token_manager(),
                           servicem8_for=servicem8_for_connection)


@functools.cache
def intake() -> WebhookIntake:
    from servicem8_connector.intake import WebhookIntake

    return WebhookIntake(
        aws("dynamodb"), aws("sqs"), table=settings().connector_table,
        queue_url=settings().delivery_queue_url, connections=connection_store,
    )


@functools.cache
def processor() -> DeliveryProcessor:
    from servicem8_connector.processor import DeliveryProcessor
    from servicem8_connector.publishing import EventPublisher
    from servicem8_connector.triggers import DedupeStore, SnapshotStore

    config = settings()
    db = aws("dynamodb")
    return DeliveryProcessor(
        connections=connection_store(),
        snapshots=SnapshotStore(db, config.connector_table),
        dedupe=DedupeStore(db, config.connector_table),
        publisher=EventPublisher(aws("events"), config.event_bus_name),
        servicem8_for=servicem8_for_connection,
        dynamodb=db,
        table=config.connector_table,
    )


@functools.cache
def maintenance() -> Maintenance:
    from servicem8_connector.backfill import Backfill
    from servicem8_connector.maintenance import Maintenance

    backfill = Backfill(dynamodb=aws("dynamodb"), table=settings().connector_table,
                        processor=processor(), servicem8_for=servicem8_for_connection)
    return Maintenance(settings(), store=connection_store(), tokens=token_manager(),
                       servicem8_for=servicem8_for_connection, processor=processor(),
                       parking=parking(), backfill=backfill)


def reset() -> None:
    """Forget every built client (tests switch moto endpoints between cases)."""
    for cached in (settings, aws, http, app_secret, connection_store, token_manager,
                   rate_budget, connect_service, actions, intake, processor, access, admin, metrics,
                   maintenance, parking):
        cached.cache_clear()
