"""The whole local stack in one process: emulator, template runner, sample app.

Nothing here is deployed. It wires the ServiceM8 emulator's loopback URLs into
the template's parameters, so the real handlers talk to the emulator exactly
as they would talk to ServiceM8, and moto stands in for AWS.
"""

from __future__ import annotations

import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import make_server

from local.emulator import Emulator, EmulatorConfig
from local.runner import LocalStack
from local.sample_app import SampleApp

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalOptions:
    api_port: int = 0
    emulator_port: int = 0
    app_port: int = 0
    auto_approve: bool = True
    seed_records: int = 0
    run_schedules_every: float | None = None
    emulator_config: dict[str, Any] = field(default_factory=dict)


def _forget_connector_wiring() -> None:
    """Drop clients a previous stack in this process built (tests start several)."""
    runtime = sys.modules.get("servicem8_connector.runtime")
    if runtime is not None:
        runtime.reset()


class LocalEnvironment:
    """Starts and stops everything; use as a context manager."""

    def __init__(self, options: LocalOptions | None = None) -> None:
        self.options = options or LocalOptions()
        self.emulator: Emulator | None = None
        self.stack: LocalStack | None = None
        self.sample_app: SampleApp | None = None
        self._emulator_server: Any = None
        self._app_server: Any = None
        self.api_url = self.emulator_url = self.app_url = ""

    def start(self) -> LocalEnvironment:
        options = self.options
        api_port = options.api_port or free_port()
        app_port = options.app_port or free_port()
        self.api_url = f"http://{LOOPBACK}:{api_port}"
        self.app_url = f"http://{LOOPBACK}:{app_port}"

        config = EmulatorConfig(auto_approve=options.auto_approve,
                                seed_records=options.seed_records,
                                **options.emulator_config)
        self.emulator = Emulator(config)
        self._emulator_server = self.emulator.serve(host=LOOPBACK, port=options.emulator_port)
        self.emulator_url = self._emulator_server.url

        self.stack = LocalStack(
            template_path="template.yaml",
            project_root=ROOT,
            parameter_overrides=self.parameters(config),
            api_port=api_port,
            run_schedules_every=options.run_schedules_every,
        )
        self.stack.start()
        _forget_connector_wiring()
        self.sample_app = SampleApp(self.api_url, self.app_url)
        self._app_server = make_server(LOOPBACK, app_port, self.sample_app, threaded=True)
        threading.Thread(target=self._app_server.serve_forever, daemon=True).start()
        return self

    def parameters(self, config: EmulatorConfig) -> dict[str, str]:
        """The template's parameters for a stack whose ServiceM8 is the emulator."""
        return {
            "ServiceM8AppId": config.client_id,
            "ServiceM8AppSecret": config.client_secret,
            "ServiceM8ApiUrl": self.emulator_url,
            "ServiceM8AuthorizeUrl": f"{self.emulator_url}/oauth/authorize",
            "ServiceM8TokenUrl": f"{self.emulator_url}/oauth/access_token",
            "PublicBaseUrl": self.api_url,
            "AllowedReturnUrls": f"{self.app_url}/,{self.app_url.replace(LOOPBACK, 'localhost')}/",
        }

    def drain(self, timeout: float = 15.0) -> None:
        """Wait until ServiceM8's deliveries are sent and the queues are processed."""
        assert self.emulator is not None and self.stack is not None
        for _ in range(2):  # a processed delivery can make the emulator send another
            self.emulator.wait_for_deliveries(timeout=timeout)
            self.stack.drain(timeout=timeout)

    def stop(self) -> None:
        if self._app_server is not None:
            self._app_server.shutdown()
        if self.stack is not None:
            self.stack.stop()
        if self._emulator_server is not None:
            self._emulator_server.shutdown()

    def __enter__(self) -> LocalEnvironment:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
