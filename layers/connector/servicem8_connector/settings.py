"""Deployment settings, read once from the environment the template sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# Names of the environment variables, as template.yaml's Globals set them.
CONNECTOR_TABLE_ENV = "CONNECTOR_TABLE"
TOKEN_KEY_ID_ENV = "TOKEN_KEY_ID"
EVENT_BUS_NAME_ENV = "EVENT_BUS_NAME"
DELIVERY_QUEUE_URL_ENV = "DELIVERY_QUEUE_URL"
APP_SECRET_ARN_ENV = "APP_SECRET_ARN"
APP_ID_ENV = "SERVICEM8_APP_ID"
AUTHORIZE_URL_ENV = "SERVICEM8_AUTHORIZE_URL"
TOKEN_URL_ENV = "SERVICEM8_TOKEN_URL"
API_URL_ENV = "SERVICEM8_API_URL"
ALLOWED_RETURN_URLS_ENV = "ALLOWED_RETURN_URLS"
PUBLIC_BASE_URL_ENV = "PUBLIC_BASE_URL"

EVENT_SOURCE = "servicem8.connector"

# FACTS.md §1.7: what the ten actions and five triggers need, and nothing more.
CONNECTOR_SCOPES = (
    "vendor",
    "read_customers",
    "manage_customers",
    "read_jobs",
    "create_jobs",
    "manage_jobs",
    "read_forms",
    "read_job_queues",
)


# A plain dataclass: every handler reads settings, and the receiver needs no pydantic.
@dataclass(frozen=True)
class Settings:
    """Everything deployment-specific; a missing variable fails at cold start."""

    connector_table: str
    token_key_id: str
    event_bus_name: str
    delivery_queue_url: str
    app_secret_arn: str
    app_id: str
    authorize_url: str
    token_url: str
    api_url: str
    public_base_url: str
    allowed_return_urls: tuple[str, ...] = ()

    @property
    def callback_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/callback"

    def webhook_url(self, route_token: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/webhooks/servicem8/{route_token}"

    def connect_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/connect"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        allowed = env.get(ALLOWED_RETURN_URLS_ENV, "")
        return cls(
            connector_table=env[CONNECTOR_TABLE_ENV],
            token_key_id=env[TOKEN_KEY_ID_ENV],
            event_bus_name=env[EVENT_BUS_NAME_ENV],
            delivery_queue_url=env[DELIVERY_QUEUE_URL_ENV],
            app_secret_arn=env[APP_SECRET_ARN_ENV],
            app_id=env[APP_ID_ENV],
            authorize_url=env[AUTHORIZE_URL_ENV],
            token_url=env[TOKEN_URL_ENV],
            api_url=env[API_URL_ENV].rstrip("/"),
            public_base_url=env[PUBLIC_BASE_URL_ENV].rstrip("/"),
            allowed_return_urls=tuple(u.strip() for u in allowed.split(",") if u.strip()),
        )
