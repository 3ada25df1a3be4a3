"""ServiceM8 records as the classifier sees them: normalised, and reduced to snapshots.

ServiceM8 writes "no date" as a zero date and ``badges`` as a JSON-encoded string
(FACTS.md §2.2, §2.7); subscribers get ``None`` and a list instead. Every other field
is kept exactly as ServiceM8 sent it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ZERO_DATES = frozenset({"0000-00-00 00:00:00", "0000-00-00"})
COMPLETED = "Completed"

# What the classifier compares next time. Kept small because one snapshot is stored
# per record per connection.
_JOB_SNAPSHOT_FIELDS = (
    "uuid",
    "active",
    "status",
    "completion_date",
    "queue_uuid",
    "queue_expiry_date",
    "edit_date",
)
_DEFAULT_SNAPSHOT_FIELDS = ("uuid", "active", "edit_date")
_SNAPSHOT_FIELDS = {"job": _JOB_SNAPSHOT_FIELDS}


def normalise_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with zero dates as None and ``badges`` as a list; idempotent."""
    normalised: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, str) and value in ZERO_DATES:
            value = None
        elif name == "badges" and isinstance(value, str):
            value = _badge_list(value)
        normalised[name] = value
    return normalised


def snapshot_of(object_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` the classifier needs to find the next edge.

    Fields the record does not carry are left out rather than stored as None, so a
    partial record cannot pass for an empty one.
    """
    fields = _SNAPSHOT_FIELDS.get(object_name.lower(), _DEFAULT_SNAPSHOT_FIELDS)
    normalised = normalise_record(record)
    return {name: normalised[name] for name in fields if name in normalised}


def is_active(record: Mapping[str, Any]) -> bool:
    """False for soft-deleted records (``active`` 0); a record without the flag is live."""
    return record.get("active", 1) not in (0, "0")


def present(value: object) -> str | None:
    """A non-empty string value, else None: ServiceM8 sends empty links as ``""``."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def record_uuid(record: Mapping[str, Any]) -> str | None:
    """The record's uuid, lower-cased so every delivery shape dedupes alike."""
    uuid = present(record.get("uuid"))
    return uuid.lower() if uuid else None


def _badge_list(raw: str) -> Any:
    if not raw.strip():
        return []
    try:
        badges = json.loads(raw)
    except ValueError:
        return raw  # not the documented encoding: pass it on untouched
    return badges if isinstance(badges, list) else raw
