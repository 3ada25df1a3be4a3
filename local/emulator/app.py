"""WSGI routing: ServiceM8's own paths, then the /_emulator control surface.

Order of checks on an API call mirrors what a client observes from ServiceM8 and its edge:
latency, edge HTML 400, injected failures, 401, 402 (unpaid), 429 (throttle), then routing,
scope (403) and the handler.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from local.emulator import control, rest, subscriptions
from local.emulator.replies import INTERSTITIAL_HTML, api_error, edge_html_400, text_reply

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from local.emulator.emulator import Emulator

CONTROL_PREFIX = "/_emulator"


def _is_webhook_path(path: str) -> bool:
    return path == "/webhook_subscriptions" or path.startswith("/webhook_subscriptions/")


class EmulatorApp:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return control.handle(self.emulator, request)
        entry = self.emulator.log_request(request)
        response = self._serve(request, entry)
        entry["status"] = response.status_code
        return response

    def _serve(self, request: Request, entry: dict[str, object]) -> Response:
        emulator = self.emulator
        faults = emulator.faults
        if faults.latency_seconds > 0:
            time.sleep(faults.latency_seconds)
        path = request.path
        if path == "/oauth/authorize" and request.method in ("GET", "POST"):
            return emulator.oauth.authorize(request)
        if path == "/oauth/access_token":
            if request.method != "POST":
                return text_reply("Method Not Allowed", 405)
            return emulator.oauth.token(request)
        is_api = path.startswith(rest.PREFIX)
        if not (is_api or _is_webhook_path(path)):
            return api_error(404)
        if faults.take_html_400():
            return edge_html_400()
        if faults.take_html_200():
            return text_reply(INTERSTITIAL_HTML, 200, "text/html")
        injected = faults.take_fail()
        if injected is not None:
            return api_error(injected)
        principal = emulator.oauth.authenticate(request)
        if principal is None:
            return api_error(401)
        entry["account_uuid"] = principal.account_uuid
        account = emulator.store.accounts.get(principal.account_uuid)
        if account is None:
            return api_error(401)
        if account.unpaid or principal.account_uuid in faults.unpaid_accounts:
            return api_error(402)
        refusal = emulator.limiter.check(principal.app_key, principal.account_uuid, emulator.now())
        if refusal is not None:
            return text_reply(refusal, 429)
        if is_api:
            return rest.handle(emulator, request, principal)
        return subscriptions.handle(emulator, request, principal)
