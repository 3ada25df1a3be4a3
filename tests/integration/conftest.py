"""The local stack (moto server, emulator, the template's handlers), started once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.demo import Connected, connect
from local.environment import LocalEnvironment, LocalOptions
from tests.support import log_audit


@pytest.fixture(scope="module")
def local_env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=True)) as env:
        yield env


def connect_new_account(env: LocalEnvironment, name: str = "Test Plumbing") -> Connected:
    """Connect a ServiceM8 account of its own, so tests do not share a rate budget."""
    assert env.emulator is not None
    env.emulator.default_account_uuid = env.emulator.add_account(name=name)
    with httpx.Client(timeout=30) as browser:
        connected = connect(env, browser, quiet=True)
    log_audit.remember(connected.api_key)
    log_audit.remember(connected.claim)
    for subscription in env.emulator.state()["subscriptions"]:
        callback_url = str(subscription.get("callback_url", ""))
        if connected.connection_id in str(subscription.get("unique_id")):
            log_audit.remember(callback_url.rsplit("/", 1)[-1])
    return connected


@pytest.fixture(scope="module")
def connected(local_env: LocalEnvironment) -> Connected:
    """One account connected through the whole redirect dance, its API key claimed."""
    return connect_new_account(local_env, "Session Plumbing")


@pytest.fixture(scope="module")
def connection_id(connected: Connected) -> str:
    return connected.connection_id


@pytest.fixture
def api(local_env: LocalEnvironment, connected: Connected) -> Iterator[httpx.Client]:
    """The action API, authenticated as the owner of ``connected``."""
    with httpx.Client(base_url=local_env.api_url, timeout=30,
                      headers=connected.headers) as client:
        yield client
