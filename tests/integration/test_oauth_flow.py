"""The connect/callback dance against the emulator's OAuth endpoints."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.environment import LocalEnvironment


def start(env: LocalEnvironment, browser: httpx.Client, **params: str) -> httpx.Response:
    query = {"return_url": f"{env.app_url}/return", "reference": "user-42", **params}
    return browser.get(f"{env.api_url}/connect", params=query)


def authorize(browser: httpx.Client, started: httpx.Response) -> str:
    """Consent (auto-approved); returns our callback URL with code and state."""
    assert started.status_code == 302
    consent = browser.get(started.headers["location"])
    assert consent.status_code == 302
    return str(consent.headers["location"])


def test_connect_redirects_with_client_id_scopes_and_state(local_env: LocalEnvironment) -> None:
    with httpx.Client() as browser:
        started = start(local_env, browser)
    assert started.status_code == 302
    assert started.headers["cache-control"] == "no-store"
    target = urlsplit(started.headers["location"])
    query = parse_qs(target.query)
    assert target.path == "/oauth/authorize"
    assert query["client_id"] == ["local-app-id"] and query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) >= {"vendor", "read_jobs", "create_jobs",
                                             "manage_customers", "read_forms",
                                             "read_job_queues"}
    assert query["redirect_uri"] == [f"{local_env.api_url}/callback"]
    assert len(query["state"][0]) >= 43
    assert "sm8_connect=" in started.headers["set-cookie"]
    assert "HttpOnly" in started.headers["set-cookie"]


def test_callback_returns_to_app_with_connection_and_no_code(
    local_env: LocalEnvironment,
) -> None:
    with httpx.Client() as browser:
        callback = browser.get(authorize(browser, start(local_env, browser)))
    assert callback.status_code == 302
    assert callback.headers["cache-control"] == "no-store"
    assert callback.headers["referrer-policy"] == "no-referrer"
    final = urlsplit(callback.headers["location"])
    query = parse_qs(final.query)
    assert query["connection_id"][0].startswith("con_")
    assert query["reference"] == ["user-42"]
    assert "code" not in query and "state" not in query


def test_reused_state_is_refused_without_a_token_call(local_env: LocalEnvironment) -> None:
    assert local_env.emulator is not None
    with httpx.Client() as browser:
        callback_url = authorize(browser, start(local_env, browser))
        assert browser.get(callback_url).status_code == 302
        calls = local_env.emulator.token_calls
        replay = browser.get(callback_url)
    assert replay.status_code == 400
    assert replay.json()["type"] == "/problems/invalid-state"
    assert local_env.emulator.token_calls == calls


def test_callback_from_another_browser_is_refused(local_env: LocalEnvironment) -> None:
    assert local_env.emulator is not None
    with httpx.Client() as victim, httpx.Client() as attacker:
        callback_url = authorize(victim, start(local_env, victim))
        calls = local_env.emulator.token_calls
        stolen = attacker.get(callback_url)
    assert stolen.status_code == 400
    assert local_env.emulator.token_calls == calls


@pytest.mark.parametrize("state", ["", "made-up-state"], ids=["missing", "unknown"])
def test_missing_or_unknown_state_is_400(local_env: LocalEnvironment, state: str) -> None:
    response = httpx.get(f"{local_env.api_url}/callback",
                         params={"code": "x", "state": state}, timeout=30)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_return_url_off_the_allow_list_is_refused(local_env: LocalEnvironment) -> None:
    with httpx.Client() as browser:
        response = start(local_env, browser, return_url="https://evil.example.test/steal")
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/return-url-not-allowed"


def test_connect_without_return_url_ends_on_the_connected_page(
    local_env: LocalEnvironment,
) -> None:
    with httpx.Client() as browser:
        started = browser.get(f"{local_env.api_url}/connect")
        page = browser.get(authorize(browser, started))
    assert page.status_code == 200
    assert "ServiceM8 connected" in page.text and 'id="connection-id"' in page.text


def test_connection_subscribes_the_five_event_webhooks(
    local_env: LocalEnvironment, connection_id: str
) -> None:
    assert local_env.emulator is not None
    events = {s.get("event") for s in local_env.emulator.state()["subscriptions"]
              if connection_id in str(s.get("unique_id"))}
    assert events >= {"job.created", "job.completed", "job.queued", "company.created",
                      "form.response_created"}


def test_denied_consent_returns_to_the_app_with_the_error(local_env: LocalEnvironment) -> None:
    assert local_env.emulator is not None
    with httpx.Client() as browser:
        started = start(local_env, browser)
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        calls = local_env.emulator.token_calls
        denied = browser.get(f"{local_env.api_url}/callback",
                             params={"state": state, "error": "access_denied"})
    assert denied.status_code == 302
    back = parse_qs(urlsplit(denied.headers["location"]).query)
    assert back == {"error": ["access_denied"], "reference": ["user-42"]}
    assert local_env.emulator.token_calls == calls
