"""PROBLEMS.md #2: "ServiceM8 Not reauthenticating" — the refresh answers 400.

A refresh is a form-encoded POST. ``invalid_grant`` means the grant is dead: the
connection is marked for reconnection once and the token endpoint is left alone
from then on. ``invalid_request`` is the connector's own bug: the connection stays
active, an operator alarm fires, and the caller gets a 502.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from local.emulator import Emulator
from local.environment import LocalEnvironment
from tests.problems.conftest import (
    account_of,
    api,
    calls,
    connect,
    describe,
    gateway,
    leaked_secrets,
    live,
)
from tests.support import log_audit

TOKEN_PATH = "/oauth/access_token"
EXPIRED = 3700  # emulator seconds: past the 3600 s access-token lifetime


def test_refresh_is_a_form_encoded_post_to_the_token_url(
    env: LocalEnvironment, emu: Emulator
) -> None:
    connected = connect(env, "P2 Form Plumbing")
    started = time.monotonic()
    emu.advance_clock(EXPIRED)
    with api(env, connected) as owner:
        assert owner.get("/clients").status_code == 200
    refreshes = calls(emu, since=started, path=TOKEN_PATH)
    assert len(refreshes) == 1
    refresh = refreshes[0]
    assert refresh["method"] == "POST" and refresh["json"] is None
    assert refresh["content_type"] == "application/x-www-form-urlencoded"
    assert refresh["form"]["grant_type"] == "refresh_token"
    assert set(refresh["form"]) >= {"client_id", "client_secret", "refresh_token"}


def test_invalid_grant_marks_reconnect_once_and_stops_calling(
    env: LocalEnvironment, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected = connect(env, "P2 Dead Grant Plumbing")
    account = account_of(env, connected.connection_id)
    lines_before = len(log_audit.LINES)
    status_writes = _count_status_writes(monkeypatch)
    emu.faults.update({"token_fail_next": ["invalid_grant"]})
    emu.advance_clock(EXPIRED)
    with api(env, connected) as owner:
        answer = owner.get("/jobs")
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/reconnect-required"
    assert problem["reconnect_url"] == (
        f"{env.api_url}/connect?reconnect={connected.connection_id}")
    assert connected.api_key not in answer.text
    assert describe(env, connected)["status"] == "reconnect_required"
    assert status_writes == [live("connections").ConnectionStatus.RECONNECT_REQUIRED]

    token_calls, started = emu.token_calls, time.monotonic()
    with gateway(env) as owner:
        answers = [owner.get(f"/connections/{connected.connection_id}/jobs",
                             headers=connected.headers).status_code for _ in range(100)]
    assert answers == [409] * 100
    assert emu.token_calls == token_calls
    assert calls(emu, account=account, since=started) == []
    assert leaked_secrets(lines_before) == []


def test_invalid_request_is_an_alarm_not_a_reconnect(
    env: LocalEnvironment, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    connected = connect(env, "P2 Bad Request Plumbing")
    lines_before = len(log_audit.LINES)
    emu.faults.update({"token_fail_next": ["invalid_request"]})
    emu.advance_clock(EXPIRED)
    with caplog.at_level(logging.ERROR), api(env, connected) as owner:
        answer = owner.get("/jobs")
        assert answer.status_code == 502, answer.text
        assert answer.json()["type"] == "/problems/upstream-unavailable"
        assert describe(env, connected)["status"] == "active"
        alarms = [r for r in caplog.records if getattr(r, "alarm", None) ==
                  live("oauth").TOKEN_ENDPOINT_ALARM]
        assert len(alarms) == 1 and alarms[0].levelno == logging.ERROR
        assert alarms[0].__dict__["oauth_error"] == "invalid_request"
        # The fault was ours and passed: the next call refreshes and succeeds.
        assert owner.get("/jobs").status_code == 200
    assert leaked_secrets(lines_before) == []


def _count_status_writes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every status a connection write set, in order."""
    store_class = live("connections").ConnectionStore
    update = store_class.update
    seen: list[Any] = []

    def counted(self: Any, connection: Any, **changes: Any) -> Any:
        if "status" in changes:
            seen.append(changes["status"])
        return update(self, connection, **changes)

    monkeypatch.setattr(store_class, "update", counted)
    return seen
