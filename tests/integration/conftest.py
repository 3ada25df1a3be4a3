"""The local stack (moto server, emulator, the template's handlers), started once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.environment import LocalEnvironment, LocalOptions


@pytest.fixture(scope="session")
def local_env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=True)) as env:
        yield env


@pytest.fixture(scope="session")
def connection_id(local_env: LocalEnvironment) -> str:
    """One account connected through the whole redirect dance."""
    import httpx

    from local.demo import connect

    with httpx.Client(timeout=30) as browser:
        return connect(local_env, browser)


@pytest.fixture
def api(local_env: LocalEnvironment) -> Iterator[object]:
    import httpx

    with httpx.Client(base_url=local_env.api_url, timeout=30) as client:
        yield client
