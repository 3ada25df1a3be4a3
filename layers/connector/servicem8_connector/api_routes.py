"""Shapes of the action API's answers, shared by the handler and its OpenAPI file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONNECTION_ID = r"^con_[A-Za-z0-9_-]{16,64}$"
RECORD_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ActionAnswer(BaseModel):
    """A created record: its uuid (also in the ``Location`` header)."""

    uuid: str


class UpdatedAnswer(BaseModel):
    uuid: str
    updated_fields: list[str]


class DeletedAnswer(BaseModel):
    """ServiceM8 deletes softly: the record stays, with ``active`` = 0."""

    uuid: str
    active: Literal[0]
    deletion: Literal["soft"]
    detail: str


class ListAnswer(BaseModel):
    """Every matching record, across all of ServiceM8's pages."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]]
    count: int


Trigger = Literal["new_job", "job_completed", "job_queued", "new_client", "new_form_response"]
# The other ServiceM8 events, published as detail-type "ServiceM8 <event>" (event webhooks only).
PassThroughEvent = Literal[
    "job.updated", "job.status_changed", "job.checked_in", "job.checked_out", "job.quote_sent",
    "job.quote_accepted", "job.invoice_sent", "job.invoice_paid", "job.note_added",
    "job.photo_added", "job.video_added", "job.badge_added", "job.badge_removed",
    "job.review_received", "company.updated", "inbox.message_received", "proposal.sent",
    "proposal.viewed", "staff.clocked_on", "staff.clocked_off",
]


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim: str = Field(min_length=20, max_length=200, description="The callback's claim code")


class ApiKeyAnswer(BaseModel):
    """Shown once: store it; only its hash is kept."""

    connection_id: str
    api_key: str


class TriggersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    triggers: list[Trigger | PassThroughEvent] = Field(
        max_length=25,
        description="The triggers to keep on, plus any other ServiceM8 events to pass through",
    )


class ConnectionAnswer(BaseModel):
    connection_id: str
    status: Literal["active", "reconnect_required"]
    account_uuid: str
    account_name: str
    reference: str | None
    scopes: list[str]
    triggers: list[str]
    subscriptions: dict[str, Any]
    created_at: float
    reconnect_url: str


class DisconnectedAnswer(BaseModel):
    connection_id: str
    disconnected: bool
    servicem8_subscriptions_removed: bool
