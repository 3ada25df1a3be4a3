"""Fixtures for the local runner tests: a fixture SAM project and one running stack."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from runner_fixture import write_project  # noqa: E402

from local.runner import LocalStack  # noqa: E402


@pytest.fixture(scope="module")
def fixture_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture SAM project (template + handlers) in a fresh directory."""
    return write_project(tmp_path_factory.mktemp("samproject"))


@pytest.fixture(scope="module")
def stack(fixture_project: Path) -> Iterator[LocalStack]:
    """One running stack of the fixture project, shared by a test module."""
    with LocalStack(project_root=fixture_project, stack_name="fixture-stack") as running:
        yield running
