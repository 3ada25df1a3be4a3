"""The emulator against FACTS.md §1 (authentication) and §2 (REST): one test per behaviour."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.emulator import Emulator

JOB = "/api_1.0/job.json"
COMPANY = "/api_1.0/company.json"


def _redirect_query(answer: httpx.Response) -> dict[str, list[str]]:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)


def _authorize_params(scope: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "local-app-id",
        "scope": scope,
        "redirect_uri": "http://127.0.0.1:9/oauth/callback",
        "state": "xyz",
    }
    params.update(extra)
    return params


# --- §1.3 authorize (browser) ---------------------------------------------------------------


def test_authorize_renders_consent_page_with_scopes_and_buttons(client: httpx.Client) -> None:
    page = client.get("/oauth/authorize", params=_authorize_params("read_jobs vendor"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for needle in ("read_jobs", "vendor", "Alpha Plumbing", "id='approve'", "id='deny'"):
        assert needle in page.text
    assert "method='post' action='/oauth/authorize'" in page.text
    assert "<select" not in page.text  # one account: nothing to choose


def test_authorize_with_several_accounts_offers_account_choice(
    emu: Emulator, client: httpx.Client, oauth: SimpleNamespace
) -> None:
    beta = emu.add_account(name="Beta Plumbing", timezone_name="Australia/Sydney")
    page = client.get("/oauth/authorize", params=_authorize_params("vendor"))
    assert "<select" in page.text and "Beta Plumbing" in page.text
    code = oauth.authorize_code(client, "vendor", account_uuid=beta)
    token = oauth.exchange_code(client, code).json()["access_token"]
    vendor = client.get("/api_1.0/vendor.json", headers={"Authorization": f"Bearer {token}"})
    assert vendor.json()[0]["uuid"] == beta


def test_consent_allow_redirects_with_code_and_state(client: httpx.Client) -> None:
    answer = client.post(
        "/oauth/authorize", data=dict(_authorize_params("read_jobs"), decision="allow")
    )
    query = _redirect_query(answer)
    assert answer.headers["location"].startswith("http://127.0.0.1:9/oauth/callback?")
    assert query["state"] == ["xyz"] and len(query["code"][0]) >= 20


def test_consent_deny_redirects_with_access_denied(client: httpx.Client) -> None:
    answer = client.post(
        "/oauth/authorize", data=dict(_authorize_params("read_jobs"), decision="deny")
    )
    assert _redirect_query(answer) == {"error": ["access_denied"], "state": ["xyz"]}


def test_authorize_unknown_scope_redirects_invalid_scope(client: httpx.Client) -> None:
    answer = client.get("/oauth/authorize", params=_authorize_params("read_jobs read_everything"))
    query = _redirect_query(answer)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["xyz"]
    assert "read_everything" in query["error_description"][0]


def test_read_forms_is_an_accepted_scope_name(client: httpx.Client) -> None:
    # §1.7: read_forms/manage_forms are demanded by endpoints though missing from the list.
    page = client.get("/oauth/authorize", params=_authorize_params("read_forms manage_forms"))
    assert page.status_code == 200


def test_authorize_unknown_client_id_shows_error_page(client: httpx.Client) -> None:
    answer = client.get("/oauth/authorize", params=_authorize_params("vendor", client_id="nope"))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "Unknown client_id" in answer.text


def test_auto_approve_redirects_at_once_for_default_account(
    make_emulator: Callable[..., Emulator],
    client_for: Callable[[Emulator], httpx.Client],
    oauth: SimpleNamespace,
) -> None:
    emulator = make_emulator(auto_approve=True)
    http = client_for(emulator)
    beta = emulator.add_account(name="Beta Plumbing")
    emulator.default_account_uuid = beta
    query = _redirect_query(http.get("/oauth/authorize", params=_authorize_params("vendor")))
    token = oauth.exchange_code(http, query["code"][0]).json()["access_token"]
    vendor = http.get("/api_1.0/vendor.json", headers={"Authorization": f"Bearer {token}"})
    assert vendor.json()[0]["name"] == "Beta Plumbing"


# --- §1.4/§1.5 token endpoint --------------------------------------------------------------


def test_code_exchange_returns_bearer_token_fields(
    client: httpx.Client, oauth: SimpleNamespace
) -> None:
    answer = oauth.exchange_code(client, oauth.authorize_code(client, "read_jobs vendor"))
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["scope"] == "read_jobs vendor"


def test_authorization_code_is_single_use(client: httpx.Client, oauth: SimpleNamespace) -> None:
    code = oauth.authorize_code(client, "vendor")
    assert oauth.exchange_code(client, code).status_code == 200
    again = oauth.exchange_code(client, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_authorization_code_expires_after_ten_minutes(
    emu: Emulator, client: httpx.Client, oauth: SimpleNamespace
) -> None:
    code = oauth.authorize_code(client, "vendor")
    emu.advance_clock(601)
    assert oauth.exchange_code(client, code).json()["error"] == "invalid_grant"


def test_code_exchange_requires_same_redirect_uri(
    client: httpx.Client, oauth: SimpleNamespace
) -> None:
    code = oauth.authorize_code(client, "vendor")
    answer = client.post(
        "/oauth/access_token",
        data={
            "grant_type": "authorization_code",
            "client_id": "local-app-id",
            "client_secret": "local-app-secret",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/other",
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_json_body_on_token_endpoint_is_refused(
    client: httpx.Client, connect: Callable[..., dict[str, str]]
) -> None:
    tokens = connect()
    answer = client.post(
        "/oauth/access_token",
        json={
            "grant_type": "refresh_token",
            "client_id": "local-app-id",
            "client_secret": "local-app-secret",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_wrong_client_secret_is_invalid_client(
    client: httpx.Client, oauth: SimpleNamespace
) -> None:
    code = oauth.authorize_code(client, "vendor")
    answer = client.post(
        "/oauth/access_token",
        data={
            "grant_type": "authorization_code",
            "client_id": "local-app-id",
            "client_secret": "wrong",
            "code": code,
            "redirect_uri": oauth.redirect_uri,
        },
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_refresh_rotates_refresh_token(
    client: httpx.Client, oauth: SimpleNamespace, connect: Callable[..., dict[str, str]]
) -> None:
    first = connect("read_jobs")
    second = oauth.refresh(client, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "read_jobs" and second["expires_in"] == 3600
    third = oauth.refresh(client, second["refresh_token"])
    assert third.status_code == 200


def test_refresh_token_is_single_use(
    client: httpx.Client, oauth: SimpleNamespace, connect: Callable[..., dict[str, str]]
) -> None:
    tokens = connect("read_jobs")
    assert oauth.refresh(client, tokens["refresh_token"]).status_code == 200
    reused = oauth.refresh(client, tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant" and reused.json()["error_description"]
    unknown = oauth.refresh(client, "not-a-token")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_access_token_expires_after_3600_seconds(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    emu.advance_clock(3599)
    assert client.get(JOB, headers=auth).status_code == 200
    emu.advance_clock(2)
    expired = client.get(JOB, headers=auth)
    assert expired.status_code == 401 and expired.json()["errorCode"] == 401


def test_token_calls_are_counted(
    emu: Emulator,
    client: httpx.Client,
    oauth: SimpleNamespace,
    connect: Callable[..., dict[str, str]],
) -> None:
    tokens = connect("vendor")
    oauth.refresh(client, tokens["refresh_token"])
    oauth.refresh(client, tokens["refresh_token"])  # refused, still a call
    assert emu.token_calls == 3


def test_token_fail_next_injects_token_endpoint_failures(
    emu: Emulator,
    client: httpx.Client,
    oauth: SimpleNamespace,
    connect: Callable[..., dict[str, str]],
) -> None:
    tokens = connect("vendor")
    emu.faults.token_fail_next = ["invalid_grant", 400, 503]
    assert oauth.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert oauth.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_request"
    assert oauth.refresh(client, tokens["refresh_token"]).status_code == 503
    assert oauth.refresh(client, tokens["refresh_token"]).status_code == 200


# --- §1.6/§1.7 credentials and scopes ------------------------------------------------------


def test_api_key_header_authenticates_default_account(
    emu: Emulator, client: httpx.Client, oauth: SimpleNamespace
) -> None:
    answer = client.get("/api_1.0/vendor.json", headers={"X-API-Key": oauth.api_key})
    assert answer.status_code == 200
    assert answer.json()[0]["uuid"] == emu.default_account_uuid


def test_missing_or_unknown_credentials_are_401(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": "wrong"}):
        answer = client.get(JOB, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["errorCode"] == 401


SCOPED_CALLS = [
    ("GET", "/api_1.0/company.json", "read_customers"),
    ("POST", "/api_1.0/company.json", "manage_customers"),
    ("DELETE", "/api_1.0/company/{uuid}.json", "manage_customers"),
    ("GET", "/api_1.0/job.json", "read_jobs"),
    ("POST", "/api_1.0/job.json", "create_jobs"),
    ("POST", "/api_1.0/job/{uuid}.json", "manage_jobs"),
    ("DELETE", "/api_1.0/job/{uuid}.json", "manage_jobs"),
    ("GET", "/api_1.0/formresponse.json", "read_forms"),
    ("POST", "/api_1.0/formresponse.json", "manage_forms"),
    ("GET", "/api_1.0/queue.json", "read_job_queues"),
    ("GET", "/api_1.0/companycontact.json", "read_customer_contacts"),
    ("GET", "/api_1.0/vendor.json", "vendor"),
    ("GET", "/api_1.0/staff.json", "read_staff"),
    ("GET", "/api_1.0/form.json", "read_forms"),
]


@pytest.mark.parametrize(("method", "path", "scope"), SCOPED_CALLS)
def test_scopes_are_enforced_per_endpoint(
    client: httpx.Client,
    connect: Callable[..., dict[str, str]],
    oauth: SimpleNamespace,
    method: str,
    path: str,
    scope: str,
) -> None:
    # Every scope but the required one: manage_* must not stand in for read_* and so on.
    granted = " ".join(s for s in oauth.all_scopes.split() if s != scope)
    headers = {"Authorization": f"Bearer {connect(granted)['access_token']}"}
    url = path.format(uuid=uuid.uuid4())
    answer = client.request(method, url, headers=headers, json={} if method == "POST" else None)
    assert answer.status_code == 403
    assert answer.json() == {
        "errorCode": 403,
        "message": "insufficient_scope",
        "additionalDetails": f'"{scope}" scope required to complete this request',
    }


def test_revoked_grant_shows_up_as_401_and_invalid_grant(
    emu: Emulator,
    client: httpx.Client,
    oauth: SimpleNamespace,
    connect: Callable[..., dict[str, str]],
) -> None:
    tokens = connect("read_jobs")
    emu.revoke(emu.default_account_uuid)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get(JOB, headers=bearer).status_code == 401
    assert oauth.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_impersonation_with_unknown_staff_is_400(
    emu: Emulator, client: httpx.Client, auth: dict[str, str]
) -> None:
    answer = client.get(JOB, headers={**auth, "x-impersonate-uuid": str(uuid.uuid4())})
    assert answer.status_code == 400
    assert answer.json() == {
        "errorCode": 400,
        "message": "invalid_impersonation",
        "additionalDetails": "Invalid Staff Member Impersonation.",
    }
    staff = {"first": "Sam", "last": "Nguyen", "email": "sam@example.com"}
    staff_uuid = emu.put_record(emu.default_account_uuid, "staff", staff)["uuid"]
    ok = client.get(JOB, headers={**auth, "x-impersonate-uuid": str(staff_uuid)})
    assert ok.status_code == 200


def test_plain_http_is_accepted_on_loopback(client: httpx.Client, auth: dict[str, str]) -> None:
    # §1.6 says public apps get 426 on plain HTTP; the emulator only serves loopback HTTP.
    assert client.get(JOB, headers=auth).status_code == 200
