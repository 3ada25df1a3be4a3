"""Runs last: no log line of the whole suite holds a token, secret or route token."""

from __future__ import annotations

import pytest

from tests.support import log_audit


def test_no_secret_in_any_log_line_of_the_suite() -> None:
    if len(log_audit.LINES) < 20:
        pytest.skip("run with the rest of the suite: too few log lines collected alone")
    assert log_audit.findings() == []


def test_the_audit_would_notice_a_leak() -> None:
    log_audit.remember("0123456789abcdef0123456789abcdef01234567")
    lines = ["refreshing with 0123456789abcdef0123456789abcdef01234567",
             "Authorization: Bearer abcdefgh12345678",
             "callback https://x.test/webhooks/servicem8/AAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
    saved = list(log_audit.LINES)
    try:
        log_audit.LINES[:] = lines
        assert len(log_audit.findings()) == 3
    finally:
        log_audit.LINES[:] = saved
