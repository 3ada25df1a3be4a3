"""Fixtures for the fault tests: a moto connector table and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.aws import create_connector_table


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = 1_775_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """A connector table shaped like template.yaml's (pk/sk), in moto, in-process."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield create_connector_table(boto3.client("dynamodb", region_name="us-east-1"))
