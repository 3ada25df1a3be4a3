"""A WSGI stand-in for an API Gateway HTTP API: payload format 2.0 in, v2 response rules out."""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .cfn import ACCOUNT_ID
from .functions import RouteSpec
from .routes import Router

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]
StartResponse = Callable[..., Any]

_TEXT_TYPES = ("application/json", "application/javascript", "application/xml")


def is_text(content_type: str | None) -> bool:
    """True when API Gateway passes a body of this type as text (else base64)."""
    if not content_type:
        return False
    mime = content_type.split(";")[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw.split("?", 1)[0]:
            raw = urlsplit(raw).path or "/"
        return str(raw.split("?", 1)[0]) or "/"
    path = str(environ.get("PATH_INFO") or "/").encode("latin-1")
    return quote(path, safe="/!$&'()*+,;=:@-._~")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.lower().replace("_", "-")] = str(environ[key])
    return headers


def _query(raw: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def _request_id() -> str:
    return base64.b64encode(os.urandom(10)).decode()


def build_event(
    environ: dict[str, Any], route: RouteSpec, path_params: dict[str, str], body: bytes
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event for one WSGI request."""
    raw_path = _raw_path(environ)
    raw_query = str(environ.get("QUERY_STRING") or "")
    headers = _headers(environ)
    cookie_header = headers.pop("cookie", "")
    host = headers.get("host") or str(environ.get("SERVER_NAME") or "localhost")
    domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    source_ip = str(environ.get("REMOTE_ADDR") or "127.0.0.1")
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-proto", str(environ.get("wsgi.url_scheme") or "http"))
    headers.setdefault("x-forwarded-port", str(environ.get("SERVER_PORT") or "80"))
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}")
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        event["queryStringParameters"] = _query(raw_query)
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": route.api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": str(environ.get("REQUEST_METHOD") or "GET").upper(),
            "path": raw_path,
            "protocol": str(environ.get("SERVER_PROTOCOL") or "HTTP/1.1"),
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": _request_id(),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_params:
        event["pathParameters"] = path_params
    if body:
        text = None
        if is_text(headers.get("content-type")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _json_response(status: int, payload: Any, request_id: str) -> Response:
    response = Response(json.dumps(payload), status=status, content_type="application/json")
    response.headers["apigw-requestid"] = request_id
    return response


def build_response(result: Any, request_id: str) -> Response:
    """Turn a handler result into the HTTP response API Gateway would send (format 2.0)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return _json_response(200, result, request_id)
    body = result.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise TypeError(f"response body must be a string, got {type(body).__name__}")
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    response = Response(data, status=int(result["statusCode"]))
    response.headers.clear()
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name in response.headers:
            del response.headers[name]
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    if "content-type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    response.headers["apigw-requestid"] = request_id
    return response


class Gateway:
    """The WSGI application: routes a request, invokes the function, maps the result."""

    def __init__(self, routes: Iterable[RouteSpec], invoke: Invoke) -> None:
        self.router = Router(routes)
        self._invoke = invoke

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.respond(environ)(environ, start_response)

    def respond(self, environ: dict[str, Any]) -> Response:
        """The response for one request (404/500 bodies as API Gateway sends them)."""
        method = str(environ.get("REQUEST_METHOD") or "GET")
        matched = self.router.match(method, _raw_path(environ))
        if matched is None:
            return _json_response(404, {"message": "Not Found"}, _request_id())
        route, params = matched
        body = Request(environ).get_data(cache=False)
        event = build_event(environ, route, params, body)
        request_id = event["requestContext"]["requestId"]
        try:
            return build_response(self._invoke(route.function_id, event), request_id)
        except Exception:
            print(
                f"[local gateway] {route.function_id} failed for {route.route_key}:",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            return _json_response(500, {"message": "Internal Server Error"}, request_id)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log lines
        return None


class GatewayServer:
    """Serves a WSGI app on 127.0.0.1 in a daemon thread (one thread per request)."""

    def __init__(self, app: Callable[..., Any], port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-gateway", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        """Begin serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
