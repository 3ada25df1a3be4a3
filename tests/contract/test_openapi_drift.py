"""openapi.json is the routes' contract: it must be regenerated whenever a route changes."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from local.openapi import HTTP_METHODS, SPEC_PATH, build_spec, project_version, render


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_committed_spec_matches_the_routes(spec: dict[str, Any]) -> None:
    committed = SPEC_PATH.read_text() if SPEC_PATH.exists() else ""
    fresh = render(spec)
    if committed != fresh:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(keepends=True), fresh.splitlines(keepends=True),
            "openapi.json (committed)", "openapi.json (from the routes)", n=1))[:40])
        pytest.fail(f"openapi.json is out of date with the routes: run make openapi\n{diff}")


def test_generation_is_deterministic(spec: dict[str, Any]) -> None:
    assert render(build_spec()) == render(spec)


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    validate(json.loads(render(spec)))
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "ServiceM8 connector API"
    assert spec["info"]["version"] == project_version()


def test_every_route_of_both_apps_is_there(spec: dict[str, Any]) -> None:
    found = {(method.upper(), path) for method, path, _ in operations(spec)}
    assert len(found) == 14
    assert ("POST", "/connections/{connection_id}/api-key") in found
    assert ("GET", "/connections/{connection_id}/jobs") in found


def test_every_route_but_the_claim_needs_the_api_key(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for method, path, operation in operations(spec):
        if path.endswith("/api-key"):
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_every_error_answer_is_a_problem(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "instance" in problem["properties"]
    responses = spec["components"]["responses"]
    for method, path, operation in operations(spec):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert {"400", "404", "422", "500"} <= set(errors), (method, path)
        for ref in errors.values():
            content = responses[ref["$ref"].rsplit("/", 1)[1]]["content"]
            assert list(content) == ["application/problem+json"], (method, path)
    assert "HTTPValidationError" not in json.dumps(spec)
