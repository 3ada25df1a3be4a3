"""The sample app serves the contract and Swagger UI, all from this machine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from local.demo import Connected
from local.environment import LocalEnvironment, LocalOptions
from local.openapi import SPEC_PATH
from tests.integration.conftest import connect_new_account


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=True)) as started:
        yield started


@pytest.fixture(scope="module")
def owner(env: LocalEnvironment) -> Connected:
    return connect_new_account(env, "Docs Plumbing")


def test_openapi_json_is_the_committed_spec_pointed_at_this_stack(env: LocalEnvironment) -> None:
    served = httpx.get(f"{env.app_url}/openapi.json", timeout=10).json()
    committed = json.loads(SPEC_PATH.read_text())
    assert served["paths"] == committed["paths"]
    assert served["servers"] == [{"url": f"{env.app_url}/api", "description": "this local stack"}]


def test_docs_page_loads_swagger_ui_from_this_machine(env: LocalEnvironment) -> None:
    page = httpx.get(f"{env.app_url}/docs", timeout=10)
    assert page.status_code == 200
    assert "https://" not in page.text and "//cdn" not in page.text
    script = httpx.get(f"{env.app_url}/docs/swagger-ui-bundle.js", timeout=10)
    css = httpx.get(f"{env.app_url}/docs/swagger-ui.css", timeout=10)
    assert script.status_code == css.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


def test_try_it_out_reaches_the_api_through_the_same_origin(
    env: LocalEnvironment, owner: Connected
) -> None:
    url = f"{env.app_url}/api/connections/{owner.connection_id}"
    described = httpx.get(url, headers=owner.headers, timeout=30)
    assert described.status_code == 200
    assert described.json()["connection_id"] == owner.connection_id
    refused = httpx.get(f"{url}/jobs", timeout=30)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
