"""The action API's request bodies (answers are normalised by ``triggers.records``).

Field names are ServiceM8's own (FACTS.md §2.8, §2.9), so nothing is renamed
between our API and theirs. Requests are strict: an unknown field is an error
rather than something silently dropped.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                              r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
DateTime = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]
Date = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Text = Annotated[str, StringConstraints(max_length=500)]
Short = Annotated[str, StringConstraints(max_length=100)]
JobStatus = Literal["Quote", "Work Order", "Unsuccessful", "Completed"]
# ServiceM8 requires these on every record (FACTS.md §2.2): never cleared by an update.
REQUIRED_FIELDS = ("name", "status")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    badges: list[Uuid] | None = Field(default=None, description="Badge uuids")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("control characters are not allowed")
        return value

    @model_validator(mode="after")
    def _required_fields_stay_set(self) -> RequestBody:
        for name in REQUIRED_FIELDS:
            if name in self.model_fields_set and getattr(self, name, "") is None:
                raise ValueError(f"{name} cannot be cleared")
        return self

    def to_servicem8(self) -> dict[str, Any]:
        """Only the fields the caller gave, with ``badges`` JSON-encoded (FACTS §2.2).

        ``null`` clears a field: ServiceM8 writes "no value" as an empty string.
        """
        fields = {k: ("" if v is None else v)
                  for k, v in self.model_dump(exclude_unset=True).items()}
        if "badges" in fields:
            fields["badges"] = json.dumps(fields["badges"] or [])
        return fields


class _ClientFields(RequestBody):
    abn_number: Short | None = None
    address: Text | None = None
    address_street: Text | None = None
    address_city: Short | None = None
    address_state: Short | None = None
    address_postcode: Short | None = None
    address_country: Short | None = None
    billing_address: Text | None = None
    billing_attention: Short | None = None
    website: Text | None = None
    fax_number: Short | None = None
    payment_terms: Short | None = None
    tax_rate_uuid: Uuid | None = None
    parent_company_uuid: Uuid | None = None


class ClientCreate(_ClientFields):
    """A new client (ServiceM8 ``company``); ``name`` is required."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ClientUpdate(_ClientFields):
    """Fields to change on a client; only those given are sent."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    active: Literal[0, 1] | None = Field(default=None, description="1 restores a deleted client")


class _JobFields(RequestBody):
    company_uuid: Uuid | None = None
    category_uuid: Uuid | None = None
    date: Date | None = None
    job_address: Text | None = None
    billing_address: Text | None = None
    job_description: Annotated[str, StringConstraints(max_length=10000)] | None = None
    work_done_description: Annotated[str, StringConstraints(max_length=10000)] | None = None
    purchase_order_number: Short | None = None
    queue_uuid: Uuid | None = None
    queue_expiry_date: DateTime | None = None
    queue_assigned_staff_uuid: Uuid | None = None


class JobCreate(_JobFields):
    """A new job; ``status`` is required."""

    status: JobStatus


class JobUpdate(_JobFields):
    """Fields to change on a job; only those given are sent."""

    status: JobStatus | None = None
    active: Literal[0, 1] | None = Field(default=None, description="1 restores a deleted job")

