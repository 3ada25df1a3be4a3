"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from servicem8_connector import runtime
from servicem8_connector.settings import Settings
from tests.support.aws import MockedStack, provision_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.fixture
def mocked_aws() -> Iterator[MockedStack]:
    """The template's tables, key, secret, queues and bus, in moto, in-process."""
    with mock_aws():
        runtime.reset()
        yield provision_template()
        runtime.reset()


@pytest.fixture
def settings(mocked_aws: MockedStack) -> Settings:
    return mocked_aws.settings


def load_event(name: str) -> dict[str, Any]:
    """A sample event from ``events/``, the same files ``sam local invoke -e`` takes."""
    return json.loads((EVENTS / name).read_text())
