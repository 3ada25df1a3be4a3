"""Running the emulator on a real loopback socket in a background thread."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # Tests start many servers; per-request access lines would bury their output.
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the emulator only listens on loopback, not {host}")


class EmulatorServer:
    """A threaded werkzeug server; `url` is where clients reach it."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        _require_loopback(host)
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        self.host = host
        self.port = self._server.server_port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"servicem8-emulator-{self.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    def serve_forever_in_foreground(self) -> None:
        """Block until Ctrl-C (used by `python -m local.emulator`)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
