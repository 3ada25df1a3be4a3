"""Collects every log line the suite produces, and every secret it handed out.

Installed for the whole session by ``tests/conftest.py``; the test in
``tests/zz_audit/`` runs last and checks that no secret appears in any line.
Log lines come from the root logger (library, emulator, runner) and from the
Powertools loggers of the handlers, whose own handlers do not propagate.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

LINES: list[str] = []
SECRETS: set[str] = set()

# Shapes of secrets, whoever made them.
PATTERNS = [
    re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"sm8c_[A-Za-z0-9_-]{20,}"),
    re.compile(r"/webhooks/servicem8/[A-Za-z0-9_-]{20,}"),
    re.compile(r'"(access|refresh)_token"\s*:\s*"[^"<]'),
    re.compile(r"(client_secret|refresh_token|access_token)=[^&\s]"),
]


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(LambdaPowertoolsFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            LINES.append(self.format(record))
        except Exception:
            LINES.append(str(record.msg))


COLLECTOR = _Collector()


def install() -> None:
    root = logging.getLogger()
    root.addHandler(COLLECTOR)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))
    _attach_to_powertools_loggers()
    _record_emulator_secrets()


def _attach_to_powertools_loggers() -> None:
    """Powertools loggers keep their own handlers and do not propagate: join each one."""
    from aws_lambda_powertools import Logger

    original = Logger.__init__

    def joined(self: Logger, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if COLLECTOR not in self._logger.handlers:
            self._logger.addHandler(COLLECTOR)

    Logger.__init__ = joined  # type: ignore[method-assign]


def _record_emulator_secrets() -> None:
    from local.emulator import oauth

    issue = oauth.OAuthServer._issue

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = issue(self, *args, **kwargs)
        body = json.loads(response.get_data(as_text=True))
        SECRETS.update(str(body[k]) for k in ("access_token", "refresh_token") if body.get(k))
        return response

    oauth.OAuthServer._issue = recording  # type: ignore[method-assign]


def remember(secret: str) -> None:
    """Tests add what they were handed (API keys, claim codes, route tokens)."""
    if secret:
        SECRETS.add(secret)


def findings() -> list[str]:
    found = []
    for line in LINES:
        for secret in SECRETS:
            if secret in line:
                found.append(f"known secret in: {line[:200]}")
        for pattern in PATTERNS:
            if pattern.search(line):
                found.append(f"{pattern.pattern} in: {line[:200]}")
    return found
