"""Fixtures for the ServiceM8 emulator suite: an in-process emulator, an httpx client on its
WSGI app, an OAuth helper, and a loopback callback receiver for webhook handshakes and
deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.emulator import Emulator, EmulatorConfig

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
ALL_TEST_SCOPES = (
    "vendor read_customers manage_customers read_customer_contacts manage_customer_contacts "
    "read_jobs create_jobs manage_jobs read_forms manage_forms read_job_queues "
    "manage_job_queues read_staff manage_staff"
)
API_KEY = "test-api-key"


def make_config(**overrides: Any) -> EmulatorConfig:
    """Test defaults: tiny retry delays and deadlines so failure paths run in milliseconds."""
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "delivery_retry_delays": (0.01, 0.01, 0.01),
        "delivery_timeout": 2.0,
        "handshake_timeout": 2.0,
        "settle_seconds": 0.05,
    }
    values.update(overrides)
    return EmulatorConfig(**values)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """make_emulator(**config overrides) -> Emulator, closed after the test."""
    made: list[Emulator] = []

    def _make(**overrides: Any) -> Emulator:
        made.append(Emulator(make_config(**overrides)))
        return made[-1]

    yield _make
    for emulator in made:
        emulator.close()


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def client_for() -> Iterator[Callable[[Emulator], httpx.Client]]:
    """client_for(emulator) -> httpx.Client on its WSGI app (no socket)."""
    made: list[httpx.Client] = []

    def _client(emulator: Emulator) -> httpx.Client:
        made.append(
            httpx.Client(
                transport=httpx.WSGITransport(app=emulator.wsgi_app),
                base_url="http://emulator.test",
            )
        )
        return made[-1]

    yield _client
    for http in made:
        http.close()


@pytest.fixture
def client(emu: Emulator, client_for: Callable[[Emulator], httpx.Client]) -> httpx.Client:
    return client_for(emu)


def authorize_code(
    http: httpx.Client, scope: str, account_uuid: str | None = None, state: str = "st-1"
) -> str:
    """Walk the consent page as a browser would and press Allow; return the code."""
    params = {
        "response_type": "code",
        "client_id": "local-app-id",
        "scope": scope,
        "redirect_uri": REDIRECT_URI,
        "state": state,
    }
    page = http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    form = dict(params, decision="allow")
    if account_uuid is not None:
        form["account_uuid"] = account_uuid
    answer = http.post("/oauth/authorize", data=form)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def exchange_code(http: httpx.Client, code: str) -> httpx.Response:
    return http.post(
        "/oauth/access_token",
        data={
            "grant_type": "authorization_code",
            "client_id": "local-app-id",
            "client_secret": "local-app-secret",
            "code": code,
            "redirect_uri": REDIRECT_URI,
        },
    )


def refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post(
        "/oauth/access_token",
        data={
            "grant_type": "refresh_token",
            "client_id": "local-app-id",
            "client_secret": "local-app-secret",
            "refresh_token": refresh_token,
        },
    )


Connect = Callable[..., dict[str, str]]


@pytest.fixture
def oauth() -> SimpleNamespace:
    """The browser and token-endpoint steps, for tests that walk them one by one."""
    return SimpleNamespace(
        authorize_code=authorize_code,
        exchange_code=exchange_code,
        refresh=refresh,
        redirect_uri=REDIRECT_URI,
        all_scopes=ALL_TEST_SCOPES,
        api_key=API_KEY,
    )


@pytest.fixture
def connect(client: httpx.Client) -> Connect:
    """connect(scope=..., account_uuid=None) -> token response (access_token, ...)."""

    def _connect(scope: str = ALL_TEST_SCOPES, account_uuid: str | None = None) -> dict[str, str]:
        answer = exchange_code(client, authorize_code(client, scope, account_uuid))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    return _connect


@pytest.fixture
def auth(connect: Connect) -> dict[str, str]:
    """Bearer headers for the default account with every scope the tests need."""
    return {"Authorization": f"Bearer {connect()['access_token']}"}


@dataclass
class Receiver:
    """A loopback webhook endpoint: echoes challenges, records JSON deliveries."""

    base_url: str = ""
    status: int = 200
    delay: float = 0.0
    echo_challenge: bool = True
    challenges: list[dict[str, str]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        if request.mimetype == "application/x-www-form-urlencoded":
            form = dict(request.form)
            with self.lock:
                self.challenges.append(form)
            text = form.get("challenge", "") if self.echo_challenge else "nope"
            return Response(text, 200, content_type="text/plain")(environ, start_response)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.deliveries.append(
                {
                    "path": request.path,
                    "content_type": request.mimetype,
                    "body": json.loads(request.get_data() or b"null"),
                }
            )
        return Response("ok", self.status)(environ, start_response)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [d["body"] for d in self.deliveries]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    server = make_server("127.0.0.1", 0, hook.app, threaded=True, request_handler=_Quiet)
    hook.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
