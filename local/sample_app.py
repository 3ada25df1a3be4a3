"""A stand-in for the app that uses the connector: a start page and a return page.

Only for the local stack: it shows a person where a real app would send its
user to connect, and where the callback sends them back. It also serves the
API's contract: ``/openapi.json`` and a Swagger UI at ``/docs`` whose script and
stylesheet come from the installed Powertools package (no CDN: nothing is
fetched from outside). Swagger UI's "Try it out" goes through ``/api/``, which
passes requests on to the local API, so the browser stays on one origin.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
from werkzeug.wrappers import Request, Response

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.json"
SWAGGER_ASSETS = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "text/javascript"),
    "/docs/swagger-ui.css": ("swagger-ui.min.css", "text/css"),
}
DOCS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ServiceM8 connector API</title><link rel="stylesheet" href="/docs/swagger-ui.css">
</head><body><div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script></body></html>"""
# Hop-by-hop and length headers are the proxy's own business, not the API's.
NOT_PASSED_ON = {"host", "content-length", "connection", "transfer-encoding"}

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;
margin:4rem auto}} a.button{{background:#1d6fd6;color:#fff;padding:.6rem 1rem;
border-radius:.3rem;text-decoration:none}}</style></head><body>{body}</body></html>"""


class SampleApp:
    """WSGI app: ``/`` links to the connector's ``/connect``; ``/return`` shows the result."""

    def __init__(self, api_url: str, own_url: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.own_url = own_url.rstrip("/")
        self.returns: list[dict[str, str]] = []

    def __call__(self, environ: dict, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        if request.path == "/return":
            response = self._returned(request)
        elif request.path == "/claim" and request.method == "POST":
            response = self._claimed(request)
        elif request.path == "/openapi.json":
            response = self._spec()
        elif request.path == "/docs":
            response = Response(DOCS_PAGE, content_type="text/html")
        elif request.path in SWAGGER_ASSETS:
            response = self._swagger_asset(request.path)
        elif request.path.startswith("/api/"):
            response = self._pass_on(request)
        else:
            response = self._start()
        return response(environ, start_response)

    def _start(self) -> Response:
        query = urlencode({"return_url": f"{self.own_url}/return", "reference": "demo-user-1"})
        body = (
            "<h1>Example app</h1><p>Connect your ServiceM8 account to this app.</p>"
            f'<p><a class="button" id="connect" href="{self.api_url}/connect?{query}">'
            "Connect ServiceM8</a></p>"
            '<p><a id="api-docs" href="/docs">API reference</a> (Swagger UI)</p>'
        )
        return Response(PAGE.format(title="Example app", body=body), content_type="text/html")

    def _spec(self) -> Response:
        """The committed contract, with this stack's proxy as its server."""
        spec = json.loads(SPEC_PATH.read_text())
        spec["servers"] = [{"url": f"{self.own_url}/api", "description": "this local stack"}]
        return Response(json.dumps(spec), content_type="application/json")

    def _swagger_asset(self, path: str) -> Response:
        from aws_lambda_powertools.event_handler.openapi import swagger_ui

        name, content_type = SWAGGER_ASSETS[path]
        asset = Path(swagger_ui.__file__).parent / name
        return Response(asset.read_bytes(), content_type=content_type)

    def _pass_on(self, request: Request) -> Response:
        """Swagger UI's requests, on to the API (same origin for the browser)."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_PASSED_ON}
        target = str(request.environ.get("RAW_URI") or request.full_path).removeprefix("/api")
        answer = httpx.request(
            request.method, f"{self.api_url}{target}",
            headers=headers, content=request.get_data(), timeout=30,
        )
        return Response(answer.content, status=answer.status_code,
                        content_type=answer.headers.get("content-type"))

    def _returned(self, request: Request) -> Response:
        names = ("connection_id", "reference", "error", "claim")
        values = {k: request.args.get(k, "") for k in names}
        self.returns.append(values)
        if values["error"]:
            body = f"<h1>Not connected</h1><p id='error'>{html.escape(values['error'])}</p>"
        else:
            body = (
                "<h1>Connected</h1>"
                f"<p>Connection id: <code id='connection-id'>"
                f"{html.escape(values['connection_id'])}</code></p>"
                f"<p>Reference: <code>{html.escape(values['reference'])}</code></p>"
                "<p>A real app's server now trades the one-time claim for the connection's "
                "API key (within 10 minutes):</p>"
                '<form method="post" action="/claim">'
                f'<input type="hidden" name="connection_id" '
                f'value="{html.escape(values["connection_id"])}">'
                f'<input type="hidden" name="claim" value="{html.escape(values["claim"])}">'
                '<button id="claim" type="submit">Claim the API key</button></form>'
            )
        return Response(PAGE.format(title="Connected", body=body), content_type="text/html")

    def _claimed(self, request: Request) -> Response:
        """What the app's server does with the claim: one POST, then keep the key."""
        connection_id = request.form.get("connection_id", "")
        answer = httpx.post(f"{self.api_url}/connections/{connection_id}/api-key",
                            json={"claim": request.form.get("claim", "")}, timeout=30)
        if answer.status_code != 201:
            body = f"<h1>Claim refused</h1><pre id='error'>{html.escape(answer.text)}</pre>"
        else:
            key = html.escape(answer.json()["api_key"])
            path = f"{self.api_url}/connections/{html.escape(connection_id)}/jobs"
            body = (
                "<h1>API key</h1><p>Shown once; the connector keeps only its hash.</p>"
                f"<p><code id='api-key'>{key}</code></p>"
                f"<pre>curl -H 'Authorization: Bearer {key}' {path}</pre>"
            )
        return Response(PAGE.format(title="API key", body=body), content_type="text/html")
