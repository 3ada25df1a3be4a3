"""Shapes of the action API's answers, shared by the handler and its OpenAPI file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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
