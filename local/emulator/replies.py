"""Response builders with ServiceM8's exact bodies (FACTS §2.3, §2.6, §1.7)."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

PER_MINUTE_TEXT = "Number of allowed API requests per minute exceeded"
PER_DAY_TEXT = "Number of allowed API requests per day exceeded"
NOT_FOUND_MESSAGE = "Resource not found."
UNAUTHORISED_MESSAGE = "Authentication failed. Please check your API key or OAuth token."

# What an edge/CDN answers when it rejects a request before ServiceM8 sees it.
EDGE_HTML_400 = (
    "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)

# A 200 page an intermediary might serve instead of the API answer (PROBLEMS.md #6).
INTERSTITIAL_HTML = (
    "<!doctype html><html><head><title>Just a moment...</title></head>"
    "<body><p>Checking your browser before accessing the site.</p></body></html>"
)

_STATUS_MESSAGES = {
    400: "An error occurred completing your request",
    401: UNAUTHORISED_MESSAGE,
    402: "Payment Required. This ServiceM8 account is not in good standing.",
    403: "Access forbidden. You don't have permission to access this resource.",
    404: NOT_FOUND_MESSAGE,
    500: "An unexpected error occurred. Please try again later.",
    503: "Service Unavailable. The ServiceM8 platform is temporarily unavailable.",
}


def json_reply(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def text_reply(text: str, status: int, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(text, status=status, content_type=content_type)


def api_error(status: int, message: str | None = None, details: str | None = None) -> Response:
    """ServiceM8 REST error body `{"errorCode": n, "message": ..., "additionalDetails"?}`."""
    if status == 429:
        return text_reply(message or PER_MINUTE_TEXT, 429)
    body: dict[str, object] = {
        "errorCode": status,
        "message": message or _STATUS_MESSAGES.get(status, "Error"),
    }
    if details is not None:
        body["additionalDetails"] = details
    return json_reply(body, status)


def insufficient_scope(scope: str) -> Response:
    details = f'"{scope}" scope required to complete this request'
    return api_error(403, "insufficient_scope", details)


def ok_result(headers: dict[str, str] | None = None) -> Response:
    return json_reply({"errorCode": 0, "message": "OK"}, 200, headers)


def webhook_failure(message: str, status: int = 400) -> Response:
    return json_reply({"success": False, "message": message}, status)


def edge_html_400() -> Response:
    return text_reply(EDGE_HTML_400, 400, "text/html")


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_reply(
        {"error": error, "error_description": description},
        status,
        {"Cache-Control": "no-store"},
    )
