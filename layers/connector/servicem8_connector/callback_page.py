"""How the callback answers the browser: back to the app, or a small page."""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from servicem8_connector.connect import BROWSER_COOKIE, ConnectResult, ConsentDenied

# The callback URL carried ServiceM8's code: the answer must not be cached,
# and the next page must not learn it through the Referer header.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
EXPIRE_COOKIE = Cookie(name=BROWSER_COOKIE, value="", path="/callback", max_age=0,
                       http_only=True, same_site=SameSite.LAX_MODE)


def cookie_value(cookies: list[str] | None, name: str) -> str | None:
    """One cookie's value from API Gateway v2's ``cookies`` list."""
    for cookie in cookies or []:
        for part in cookie.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                return value
    return None


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def denied_answer(denied: ConsentDenied) -> Response[str] | None:
    """Back to the app with ``error=access_denied``; None when there is nowhere to go."""
    if not denied.return_url:
        return None
    params = {"error": "access_denied"}
    if denied.reference:
        params["reference"] = denied.reference
    return Response(
        status_code=302,
        headers={"Location": with_query(denied.return_url, params), **PRIVATE_HEADERS},
        cookies=[EXPIRE_COOKIE],
        body="",
    )


def callback_answer(result: ConnectResult) -> Response[str]:
    connection = result.connection
    params = {"connection_id": connection.connection_id}
    if result.claim:
        params["claim"] = result.claim
    if result.reference:
        params["reference"] = result.reference
    if result.return_url:
        return Response(
            status_code=302,
            headers={"Location": with_query(result.return_url, params), **PRIVATE_HEADERS},
            cookies=[EXPIRE_COOKIE],
            body="",
        )
    page = PAGE.format(
        account=html.escape(connection.account_name or connection.account_uuid),
        connection_id=html.escape(connection.connection_id),
        claim=html.escape(result.claim or "(unchanged: this was a reconnect)"),
    )
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page,
                    headers=PRIVATE_HEADERS, cookies=[EXPIRE_COOKIE])


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ServiceM8 connected</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;}}
code{{background:#f2f2f2;padding:.2rem .4rem;border-radius:.2rem}}</style></head>
<body><h1>ServiceM8 connected</h1>
<p>The account <strong>{account}</strong> is now connected.</p>
<p>Connection id: <code id="connection-id">{connection_id}</code></p>
<p>Claim code (valid 10 minutes, once): <code id="claim">{claim}</code></p>
<p>Exchange it for the connection's API key with
<code>POST /connections/{connection_id}/api-key</code> and body
<code>{{"claim": "&lt;claim code&gt;"}}</code>.</p></body></html>
"""
