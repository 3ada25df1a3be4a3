"""One local stack for every PROBLEMS.md case, and the tools the cases share.

The stack (moto, the ServiceM8 emulator, the template's handlers) starts once for
the package. Each case connects emulator accounts of its own, so cases never share
a rate budget, a token or a subscription. The library's modules are looked up when
used (:func:`live`): the runner may re-import them for each stack it starts.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from local.demo import Connected
from local.emulator import Emulator
from local.emulator.faults import Faults
from local.environment import LocalEnvironment, LocalOptions
from tests.integration.conftest import connect_new_account
from tests.support import log_audit

Reply = Callable[[Request, Callable[[], Response]], Response]


def live(module: str) -> ModuleType:
    """The connector module the running stack's handlers use."""
    return importlib.import_module(f"servicem8_connector.{module}")


@pytest.fixture(scope="package")
def env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=True)) as started:
        emulator = started.emulator
        assert emulator is not None
        _stamp_requests(emulator)
        yield started


def _stamp_requests(emulator: Emulator) -> None:
    """Give each logged ServiceM8 call the moment it arrived (rate checks need it)."""
    log_request = emulator.log_request

    def stamped(request: Request) -> dict[str, object]:
        entry = log_request(request)
        entry["at"] = time.monotonic()
        return entry

    emulator.log_request = stamped  # type: ignore[method-assign]


@pytest.fixture
def emu(env: LocalEnvironment) -> Iterator[Emulator]:
    """The emulator; fault switches are back to normal after each test."""
    assert env.emulator is not None
    yield env.emulator
    env.emulator.faults.update(Faults().as_dict())


def connect(env: LocalEnvironment, name: str, *, event_webhooks: bool = True) -> Connected:
    """A new emulator account, connected; object webhooks only when ``event_webhooks`` is off."""
    assert env.emulator is not None
    env.emulator.faults.update({"event_webhooks_enabled": event_webhooks})
    try:
        return connect_new_account(env, name)
    finally:
        env.emulator.faults.update({"event_webhooks_enabled": True})


def account_of(env: LocalEnvironment, connection_id: str) -> str:
    connection = live("runtime").connection_store().get(connection_id)
    assert connection is not None
    return str(connection.account_uuid)


def webhook_url(env: LocalEnvironment, connection_id: str) -> str:
    """Our webhook URL for a connection, as ServiceM8 was given it."""
    assert env.emulator is not None
    for subscription in env.emulator.state()["subscriptions"]:  # type: ignore[attr-defined]
        if subscription.get("unique_id") == connection_id:
            return str(subscription["callback_url"])
    raise AssertionError("no subscription for the connection")


def api(env: LocalEnvironment, connected: Connected) -> httpx.Client:
    return httpx.Client(base_url=f"{env.api_url}/connections/{connected.connection_id}",
                        headers=connected.headers, timeout=30)


def describe(env: LocalEnvironment, connected: Connected) -> dict[str, Any]:
    """GET /connections/{id}: the connection as its owner sees it."""
    answer = httpx.get(f"{env.api_url}/connections/{connected.connection_id}",
                       headers=connected.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def gateway(env: LocalEnvironment) -> httpx.Client:
    """The HTTP API in-process (no socket): for cases that make hundreds of calls."""
    assert env.stack is not None
    return httpx.Client(transport=httpx.WSGITransport(app=env.stack.wsgi_app),
                        base_url="http://gateway.test", timeout=30)


def calls(emulator: Emulator, *, account: str | None = None, since: float = 0.0,
          path: str = "", method: str | None = None) -> list[dict[str, Any]]:
    """ServiceM8 calls the emulator saw, oldest first, filtered."""
    return [
        entry for entry in emulator.requests
        if float(entry.get("at", 0.0)) >= since  # type: ignore[arg-type]
        and (account is None or entry.get("account_uuid") == account)
        and str(entry["path"]).startswith(path)
        and (method is None or entry["method"] == method)
    ]


@dataclass
class Answers:
    """Makes the emulator answer chosen calls in its place (``reply`` may call the real one)."""

    emulator: Emulator
    rules: list[tuple[Callable[[Request], bool], Reply, list[int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def when(self, match: Callable[[Request], bool], reply: Reply, times: int = 1_000) -> None:
        self.rules.append((match, reply, [times]))

    def dispatch(self, request: Request) -> Response:
        app = self.emulator.wsgi_app
        if request.path.startswith("/_emulator"):
            return app.dispatch_original(request)  # type: ignore[attr-defined,no-any-return]
        entry = self.emulator.log_request(request)
        reply = self._take(request)
        if reply is not None:  # as the real answer would have, say whose call it was
            principal = self.emulator.oauth.authenticate(request)
            entry["account_uuid"] = principal.account_uuid if principal else None
        response = (reply(request, lambda: app._serve(request, entry)) if reply is not None
                    else app._serve(request, entry))
        entry["status"] = response.status_code
        return response

    def _take(self, request: Request) -> Reply | None:
        with self.lock:
            for match, reply, left in self.rules:
                if left[0] > 0 and match(request):
                    left[0] -= 1
                    return reply
        return None


@pytest.fixture
def answers(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Answers:
    installed = Answers(emu)
    monkeypatch.setattr(emu.wsgi_app, "dispatch_original", emu.wsgi_app.dispatch, raising=False)
    monkeypatch.setattr(emu.wsgi_app, "dispatch", installed.dispatch)
    return installed


def calling(method: str, path: str, account: str | None = None,
            emulator: Emulator | None = None) -> Callable[[Request], bool]:
    """Matches one ServiceM8 call by method, path prefix and (optionally) account."""

    def match(request: Request) -> bool:
        if request.method != method or not request.path.startswith(path):
            return False
        if account is None:
            return True
        assert emulator is not None
        principal = emulator.oauth.authenticate(request)
        return principal is not None and principal.account_uuid == account

    return match


def json_answer(payload: object, status: int = 200,
                headers: dict[str, str] | None = None) -> Reply:
    return lambda _request, _real: Response(json.dumps(payload), status, headers=headers,
                                            content_type="application/json")


class TriggerEvents:
    """The sample subscriber's queue, read into one list per connection."""

    def __init__(self, env: LocalEnvironment) -> None:
        assert env.stack is not None
        self._sqs = env.stack.client("sqs")
        self._queue_url = env.stack.physical_id("SubscriberQueue")
        self._dlq_url = env.stack.physical_id("SubscriberDLQ")
        self._seen: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def of(self, connection_id: str) -> list[dict[str, Any]]:
        """Every event so far for the connection (drain the stack first)."""
        for _ in range(1_000):  # bounded: the queue holds what the stack published
            answer = self._sqs.receive_message(QueueUrl=self._queue_url,
                                               MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = json.loads(message["Body"])
                self._seen[str(event["detail"].get("connection_id"))].append(event)
                self._sqs.delete_message(QueueUrl=self._queue_url,
                                         ReceiptHandle=message["ReceiptHandle"])
        return list(self._seen[connection_id])

    def kinds(self, connection_id: str, record_uuid: str | None = None) -> list[str]:
        return sorted(e["detail-type"] for e in self.of(connection_id)
                      if record_uuid is None or e["detail"].get("record_uuid") == record_uuid)


@pytest.fixture(scope="package")
def trigger_events(env: LocalEnvironment) -> TriggerEvents:
    return TriggerEvents(env)




def leaked_secrets(lines_before: int) -> list[str]:
    """Log lines written since ``lines_before`` that hold a token, key or route token."""
    found = []
    for line in log_audit.LINES[lines_before:]:
        if any(secret in line for secret in log_audit.SECRETS) or any(
            pattern.search(line) for pattern in log_audit.PATTERNS
        ):
            found.append(line[:200])
    return found
