"""The $filter builder: ServiceM8 ignores what it cannot read, so we refuse it first."""

from __future__ import annotations

import httpx
import pytest

from servicem8_connector.servicem8.filters import Filter, FilterError


def test_filter_renders_terms_joined_by_and() -> None:
    built = Filter().where("status", "eq", "Work Order").where("active", "eq", 1)
    assert built.render() == "status eq 'Work Order' and active eq 1"


def test_filter_parse_keeps_and_inside_quoted_values() -> None:
    parsed = Filter.parse("name eq 'Smith and Sons' and active eq 1")
    assert [t.field for t in parsed.terms] == ["name", "active"]
    assert parsed.terms[0].value == "Smith and Sons"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("status ge 'Quote'", id="unsupported-operator"),
        pytest.param("status eq 'Quote' or active eq 1", id="or-is-not-supported"),
        pytest.param("status eq", id="missing-value"),
        pytest.param("status eq 'Quote' and", id="dangling-and"),
        pytest.param("Status; drop eq 1", id="not-a-field-name"),
        pytest.param(" and ".join(f"f{i} eq {i}" for i in range(11)), id="eleven-terms"),
    ],
)
def test_filter_parse_refuses_what_servicem8_would_misread(text: str) -> None:
    with pytest.raises(FilterError):
        Filter.parse(text)


def test_filter_refuses_quote_inside_value() -> None:
    with pytest.raises(FilterError):
        Filter().where("name", "eq", "O'Brien")


def test_filter_always_leaves_percent_encoded() -> None:
    built = Filter().where("status", "eq", "Work Order")
    request = httpx.Request("GET", "https://x.test/job.json", params={"$filter": built.render()})
    query = request.url.query.decode()
    assert " " not in query and "'" not in query
    assert "%24filter=status+eq+%27Work+Order%27" in query
