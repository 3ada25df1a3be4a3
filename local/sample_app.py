"""A stand-in for the app that uses the connector: a start page and a return page.

Only for the local stack: it shows a person where a real app would send its
user to connect, and where the callback sends them back.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

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
        else:
            response = self._start()
        return response(environ, start_response)

    def _start(self) -> Response:
        query = urlencode({"return_url": f"{self.own_url}/return", "reference": "demo-user-1"})
        body = (
            "<h1>Example app</h1><p>Connect your ServiceM8 account to this app.</p>"
            f'<p><a class="button" id="connect" href="{self.api_url}/connect?{query}">'
            "Connect ServiceM8</a></p>"
        )
        return Response(PAGE.format(title="Example app", body=body), content_type="text/html")

    def _returned(self, request: Request) -> Response:
        values = {k: request.args.get(k, "") for k in ("connection_id", "reference", "error")}
        self.returns.append(values)
        if values["error"]:
            body = f"<h1>Not connected</h1><p id='error'>{html.escape(values['error'])}</p>"
        else:
            body = (
                "<h1>Connected</h1>"
                f"<p>Connection id: <code id='connection-id'>"
                f"{html.escape(values['connection_id'])}</code></p>"
                f"<p>Reference: <code>{html.escape(values['reference'])}</code></p>"
            )
        return Response(PAGE.format(title="Connected", body=body), content_type="text/html")
