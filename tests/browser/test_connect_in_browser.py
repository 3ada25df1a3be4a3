"""The connect flow in a real, headless Chromium: app → consent → callback → app.

Playwright drives the Debian ``chromium`` package (never a browser Playwright
downloads). The browser resolves no host name but loopback, so nothing it does
can leave the machine. Screenshots of each step land in a temporary directory,
or in ``$BROWSER_SCREENSHOTS`` when set. Skips when no Chromium is installed
(``.ci/run`` installs it with apt-get).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from local.environment import LocalEnvironment, LocalOptions

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = next(
    (path for path in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"),
                       "/usr/bin/chromium") if path and Path(path).is_file()),
    None,
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-domain-reliability", "--no-default-browser-check",
    # Any host name but loopback fails to resolve: the browser cannot reach out.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
CONNECTION_ID = re.compile(r"^con_[A-Za-z0-9_-]{16,64}$")
STEP_TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")


@pytest.fixture(scope="module")
def env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=False)) as started:
        yield started


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh --user-data-dir for each test
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 900, "height": 640},
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def fresh_account(env: LocalEnvironment, name: str) -> str:
    assert env.emulator is not None
    env.emulator.default_account_uuid = env.emulator.add_account(name=name)
    return env.emulator.default_account_uuid


def open_consent(page: Any, env: LocalEnvironment, shots: Path, prefix: str) -> None:
    """From the app's start page to the emulator's consent page."""
    page.goto(env.app_url)
    page.screenshot(path=shots / f"{prefix}-1-app.png")
    page.click("#connect")
    page.wait_for_selector("#approve")
    assert page.url.startswith(env.emulator_url)
    page.screenshot(path=shots / f"{prefix}-2-consent.png")


def test_approve_connects_and_returns_to_the_app(
    env: LocalEnvironment, page: Any, shots: Path
) -> None:
    fresh_account(env, "Browser Approve Plumbing")
    callbacks: list[Any] = []
    page.on("response", lambda r: callbacks.append(r) if "/callback" in r.url else None)

    open_consent(page, env, shots, "approve")
    page.click("#approve")
    page.wait_for_selector("#connection-id")
    page.screenshot(path=shots / "approve-3-returned.png")

    connection_id = page.inner_text("#connection-id")
    assert CONNECTION_ID.match(connection_id)
    assert page.url.startswith(f"{env.app_url}/return")
    # Our callback answered the browser with a redirect it must not cache.
    assert [r.status for r in callbacks] == [302]
    assert callbacks[0].headers["cache-control"] == "no-store"

    # The app's server trades the claim from the return URL for the API key.
    claim = parse_qs(urlsplit(page.url).query)["claim"][0]
    answer = httpx.post(f"{env.api_url}/connections/{connection_id}/api-key",
                        json={"claim": claim}, timeout=30)
    assert answer.status_code == 201
    described = httpx.get(f"{env.api_url}/connections/{connection_id}", timeout=30,
                          headers={"Authorization": f"Bearer {answer.json()['api_key']}"})
    assert described.status_code == 200
    assert described.json()["account_name"] == "Browser Approve Plumbing"
    assert described.json()["reference"] == "demo-user-1"


def test_deny_makes_no_connection(env: LocalEnvironment, page: Any, shots: Path) -> None:
    account = fresh_account(env, "Browser Deny Plumbing")
    callbacks: list[Any] = []
    page.on("response", lambda r: callbacks.append(r) if "/callback" in r.url else None)

    open_consent(page, env, shots, "deny")
    page.click("#deny")
    page.wait_for_load_state()
    page.wait_for_function("document.readyState === 'complete'")
    page.screenshot(path=shots / "deny-3-after-deny.png")

    assert [r.status for r in callbacks] == [302]
    assert "code=" not in callbacks[0].url
    assert page.url.startswith(f"{env.app_url}/return")
    assert env.emulator is not None
    subscriptions = env.emulator.state()["subscriptions"]
    assert isinstance(subscriptions, list)
    assert not [s for s in subscriptions if s["account_uuid"] == account]


def test_deny_returns_to_the_app_with_the_error(
    env: LocalEnvironment, page: Any, shots: Path
) -> None:
    fresh_account(env, "Browser Deny Return Plumbing")
    open_consent(page, env, shots, "deny-return")
    page.click("#deny")
    page.wait_for_load_state()
    assert page.url.startswith(f"{env.app_url}/return")
    assert page.inner_text("#error")


def test_swagger_ui_shows_every_operation(env: LocalEnvironment, page: Any, shots: Path) -> None:
    page.goto(f"{env.app_url}/docs")
    page.wait_for_selector(".opblock-summary")
    page.screenshot(path=shots / "docs-swagger-ui.png", full_page=False)
    assert page.locator(".opblock-summary").count() == 14
    assert "ServiceM8 connector API" in page.inner_text(".info .title")
