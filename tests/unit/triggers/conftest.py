"""Trigger unit tests run offline: fake AWS credentials and no outbound sockets."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from triggers_testkit import Clock

from tests.support.aws import create_connector_table


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            return bool(ipaddress.ip_address(host).is_loopback)
        except ValueError:
            return host == "localhost"
    return isinstance(address, (str, bytes))  # AF_UNIX paths stay on this machine


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection off this machine fails the test instead of leaving it."""
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise AssertionError(f"unit test tried to reach {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials in us-east-1 under moto; no endpoint override survives."""
    from moto import mock_aws

    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_EVENTS",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> tuple[Any, str]:
    """A moto connector table shaped like template.yaml's: pk/sk strings."""
    import boto3

    return create_connector_table(boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def clock() -> Clock:
    return Clock()
