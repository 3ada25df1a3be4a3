"""A ``$filter`` builder that validates terms and always encodes them.

ServiceM8 silently ignores an unencoded filter and returns every record
(FACTS.md §2.4), so a filter only ever leaves here as a query parameter that
httpx percent-encodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OPERATORS = ("eq", "ne", "gt", "lt")
MAX_TERMS = 10
MAX_VALUE_CHARS = 255
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# One term, then either "and" before the next term or the end of the text.
_TERM = re.compile(
    r"\s*(?P<field>[A-Za-z0-9_]+)\s+(?P<op>[A-Za-z]+)\s+"
    r"(?P<value>'[^']*'|-?\d+(?:\.\d+)?)\s*(?:\band\b(?=\s*\S)|$)"
)


class FilterError(ValueError):
    """A filter the API would misread or reject; says which part is wrong."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str | int | float

    def render(self) -> str:
        if isinstance(self.value, str):
            return f"{self.field} {self.op} '{self.value}'"
        return f"{self.field} {self.op} {self.value}"


@dataclass(frozen=True)
class Filter:
    """Up to ten ``field op value`` terms joined by ``and`` (no ``or`` exists)."""

    terms: tuple[Term, ...] = field(default=())

    def where(self, field_name: str, op: str, value: str | int | float) -> Filter:
        if not _FIELD_NAME.match(field_name):
            raise FilterError(f"'{field_name}' is not a ServiceM8 field name")
        if op not in OPERATORS:
            raise FilterError(f"operator '{op}' is not one of {', '.join(OPERATORS)}")
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise FilterError(f"value for '{field_name}' is longer than {MAX_VALUE_CHARS}")
        if isinstance(value, str) and "'" in value:
            # ServiceM8 documents no escape for quotes; refusing beats a filter it misreads.
            raise FilterError(f"value for '{field_name}' cannot contain a single quote")
        if len(self.terms) >= MAX_TERMS:
            raise FilterError(f"ServiceM8 accepts at most {MAX_TERMS} terms")
        return Filter((*self.terms, Term(field_name, op, value)))

    def render(self) -> str:
        return " and ".join(term.render() for term in self.terms)

    @classmethod
    def parse(cls, text: str) -> Filter:
        """Read a filter written in ServiceM8's own syntax, e.g. ``status eq 'Quote'``."""
        if not text.strip():
            return cls()
        parsed = cls()
        position = 0
        while position < len(text):
            match = _TERM.match(text, position)
            if match is None:
                raise FilterError(f"cannot read the filter from '{text[position:][:80].strip()}'")
            raw = match.group("value")
            value: str | int | float
            if raw.startswith("'"):
                value = raw[1:-1]
            else:
                value = float(raw) if "." in raw else int(raw)
            parsed = parsed.where(match.group("field"), match.group("op").lower(), value)
            position = match.end()
        return parsed
