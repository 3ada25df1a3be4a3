"""Loose validation of record writes against the api.json create schemas (FACTS §2.2, §2.8-§2.9).

Loose on purpose: ServiceM8 coerces numbers to strings and "1" to 1, so the emulator does too;
it refuses what ServiceM8 is known to refuse (missing required fields, bad job status, values
over maxLength, non-JSON-string badges) and, to keep connector bugs loud, unknown field names.
"""

from __future__ import annotations

import json
import re
import uuid as uuid_lib

from local.emulator.config import ZERO_DATE, ZERO_DATETIME
from local.emulator.fields import JOB_STATUSES, REQUIRED, SPECS, FieldSpec

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ValidationError(ValueError):
    """A write ServiceM8 would answer with 400 {"errorCode":400,"message":...}."""


def canonical_uuid(value: object) -> str | None:
    """Lower-case hyphenated form, or None when `value` is not a UUID."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid_lib.UUID(value))
    except ValueError:
        return None


def validate_write(
    object_name: str, body: object, *, creating: bool, trusted: bool = False
) -> dict[str, object]:
    """Return the cleaned field values of a create or update body.

    `trusted` is for writes made "in the ServiceM8 UI" (put_record): read-only fields such as
    edit_date or invoice_sent_stamp may then be set, which lets tests build any history.
    """
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object")
    specs = SPECS[object_name]
    cleaned: dict[str, object] = {}
    for name, value in body.items():
        spec = specs.get(name)
        if spec is None:
            raise ValidationError(f"'{name}' is not a valid field for {object_name}")
        if spec.kind == "any" or (spec.read_only and not trusted):
            continue
        cleaned[name] = _coerce(spec, value)
    if creating:
        for name in REQUIRED.get(object_name, ()):
            if cleaned.get(name) in (None, ""):
                raise ValidationError(f"{name} is required")
    return cleaned


def _coerce(spec: FieldSpec, value: object) -> object:
    kind = spec.kind
    if kind in ("str", "status"):
        if spec.name == "badges" and isinstance(value, list):
            raise ValidationError("badges must be a JSON array encoded string")
        text = _as_text(spec, value)
        if spec.max_length is not None and len(text) > spec.max_length:
            raise ValidationError(
                f"{spec.name} exceeds the maximum length of {spec.max_length} characters"
            )
        if kind == "status" and text not in JOB_STATUSES:
            raise ValidationError(
                "Invalid status. Valid values are [" + ",".join(JOB_STATUSES) + "]"
            )
        if spec.name == "badges" and text != "":
            _check_badges(text)
        return text
    if kind == "uuid":
        if value in (None, ""):
            return ""
        canonical = canonical_uuid(value)
        if canonical is None:
            raise ValidationError(f"{spec.name} must be a valid UUID")
        return canonical
    if kind == "dt":
        return _as_datetime(spec, value)
    if kind == "date":
        if value in (None, ""):
            return ZERO_DATE
        if isinstance(value, str) and (_DATE.match(value) or _DATETIME.match(value)):
            return value[:10]
        raise ValidationError(f"{spec.name} must be a date formatted YYYY-MM-DD")
    if kind in ("flag", "int"):
        return _as_int(spec, value)
    if kind == "num":
        return _as_number(spec, value)
    if kind == "array":
        if not isinstance(value, list):
            raise ValidationError(f"{spec.name} must be an array")
        return value
    raise AssertionError(f"unhandled field kind {kind}")


def _as_text(spec: FieldSpec, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValidationError(f"{spec.name} must be a string")


def _check_badges(text: str) -> None:
    # FACTS §2.2 / pitfall 9: a real array (or any non-array JSON) is refused with this text.
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if not isinstance(decoded, list):
        raise ValidationError("badges must be a JSON array encoded string")


def _as_datetime(spec: FieldSpec, value: object) -> str:
    if value in (None, ""):
        return ZERO_DATETIME
    if isinstance(value, str):
        if _DATETIME.match(value):
            return value
        if _DATE.match(value):
            return value + " 00:00:00"
    raise ValidationError(f"{spec.name} must be a datetime formatted YYYY-MM-DD HH:MM:SS")


def _as_int(spec: FieldSpec, value: object) -> int:
    number: int | None = None
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        number = int(value)
    if number is None or (spec.kind == "flag" and number not in (0, 1)):
        expected = "0 or 1" if spec.kind == "flag" else "an integer"
        raise ValidationError(f"{spec.name} must be {expected}")
    return number


def _as_number(spec: FieldSpec, value: object) -> float | int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValidationError(f"{spec.name} must be a number")
