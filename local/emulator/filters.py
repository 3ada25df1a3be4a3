"""`$filter` parsing and matching (FACTS §2.4).

Grammar: up to 10 `<field> <op> <value>` terms joined by ` and `; ops eq ne gt lt; strings in
single quotes ('' escapes a quote), numbers bare. Field names are case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from local.emulator.fields import SPECS

MAX_TERMS = 10
MAX_VALUE_LENGTH = 255

_TERM = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<op>eq|ne|gt|lt)\s+"
    r"(?P<value>'(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*"
)
_AND = re.compile(r"and\s+")


class FilterError(ValueError):
    """A filter ServiceM8 answers with 400."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str


def raw_filter_value(query_string: str) -> str | None:
    """The `$filter` value exactly as it appeared on the wire (not decoded)."""
    for part in query_string.split("&"):
        key, _, value = part.partition("=")
        if unquote_plus(key) == "$filter":
            return value
    return None


def sent_unencoded(raw_value: str, *, raw_quote_counts: bool = True) -> bool:
    """FACTS §2.4 / pitfall 4: a filter that was not URL-encoded is silently ignored.

    A raw space can only come from a client that skipped encoding; a raw quote is how
    clients that encode "most" of the URL (httpx with the filter inside the URL string)
    leave it, and the emulator treats that as unencoded too unless configured otherwise.
    """
    return " " in raw_value or (raw_quote_counts and "'" in raw_value)


def parse(text: str, object_name: str) -> list[Term]:
    terms: list[Term] = []
    position = 0
    known = SPECS[object_name]
    while True:
        match = _TERM.match(text, position)
        if match is None:
            raise FilterError(f"Invalid $filter near '{text[position : position + 40]}'")
        field, op, raw = match.group("field", "op", "value")
        if field not in known:
            raise FilterError(f"Invalid $filter: unknown field '{field}'")
        value = raw[1:-1].replace("''", "'") if raw.startswith("'") else raw
        if len(value) > MAX_VALUE_LENGTH:
            raise FilterError("Invalid $filter: values are limited to 255 characters")
        terms.append(Term(field, op, value))
        position = match.end()
        if position == len(text):
            break
        joiner = _AND.match(text, position)
        if joiner is None:
            raise FilterError(f"Invalid $filter near '{text[position : position + 40]}'")
        position = joiner.end()
    if len(terms) > MAX_TERMS:
        raise FilterError(f"Invalid $filter: at most {MAX_TERMS} conditions are allowed")
    return terms


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(record_value: object, term: Term) -> bool:
    left_number, right_number = _as_number(record_value), _as_number(term.value)
    # Numbers compare numerically ('1' equals 1, as the n8n node relies on); everything else,
    # including 'YYYY-MM-DD HH:MM:SS' dates, compares as text, which orders dates correctly.
    if left_number is not None and right_number is not None:
        return _apply(term.op, left_number, right_number)
    left = "" if record_value is None else str(record_value)
    return _apply(term.op, left, term.value)


def _apply(op: str, left: float | str, right: float | str) -> bool:
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if isinstance(left, str) or isinstance(right, str):
        left_text, right_text = str(left), str(right)
        return left_text > right_text if op == "gt" else left_text < right_text
    return left > right if op == "gt" else left < right


def matches(
    record: Mapping[str, object], defaults: Mapping[str, object], terms: list[Term]
) -> bool:
    """True when the (sparse) record satisfies every term."""
    for term in terms:
        value = record.get(term.field, defaults.get(term.field, ""))
        if not _compare(value, term):
            return False
    return True
