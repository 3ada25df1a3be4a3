"""RFC 9457 problem details: every error answer of the HTTP API is one of these.

Each exception the library raises is mapped here, once, to a status and a
problem ``type``; handlers never build error bodies themselves. Types are
relative URIs documented in ``docs/problems.md``.
"""

from __future__ import annotations

import json
from typing import Any

from servicem8_connector.servicem8.errors import (
    AccountSuspended,
    MissingScope,
    OutcomeUnknown,
    QuotaExhausted,
    ReconnectRequired,
    RecordNotFound,
    RejectedByServiceM8,
    RetryLater,
    ServiceM8Error,
    SubscriptionRefused,
)
from servicem8_connector.servicem8.filters import FilterError

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "/problems/"


class Problem(Exception):
    """An error answer: status, a stable ``type`` slug, a title and a detail."""

    def __init__(
        self, status: int, kind: str, title: str, detail: str, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extensions.items() if v is not None})
        return body

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store"}
        retry_after = self.extensions.get("retry_after")
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        return headers

    def json(self, instance: str | None = None) -> str:
        return json.dumps(self.body(instance))


def not_found(detail: str = "no such resource") -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def problem_for(error: Exception, *, reconnect_url: str | None = None) -> Problem:
    """The one place where library errors become HTTP answers."""
    if isinstance(error, Problem):
        return error
    # Imported on the error path only: at the top they would load the connect flow (with
    # subscriptions and triggers), token refresh and the connection models into every
    # HTTP handler at cold start, the receiver's included, which uses none of them.
    from servicem8_connector.connect import ConnectRefused
    from servicem8_connector.tokens import ConnectionGone

    if isinstance(error, ConnectionGone):
        return not_found("no such connection")
    if isinstance(error, ConnectRefused):
        status = {"account-mismatch": 409, "not-found": 404}.get(error.kind, 400)
        return Problem(status, error.kind, "Connect request refused", error.detail)
    if isinstance(error, FilterError):
        return Problem(400, "invalid-filter", "Filter not accepted", str(error))
    if isinstance(error, ServiceM8Error):
        return _servicem8_problem(error, reconnect_url)
    return Problem(500, "internal-error", "Internal error", "the connector failed unexpectedly")


def _servicem8_problem(error: ServiceM8Error, reconnect_url: str | None) -> Problem:
    from servicem8_connector.oauth import TokenEndpointError  # the error path only

    if isinstance(error, ReconnectRequired):
        return Problem(409, "reconnect-required", "Reconnect required",
                       "ServiceM8 no longer accepts this connection's grant; reconnect it",
                       reconnect_url=reconnect_url)
    if isinstance(error, MissingScope):
        return Problem(403, "insufficient-scope", "Missing ServiceM8 scope", error.message,
                       required_scope=error.required_scope)
    if isinstance(error, QuotaExhausted):
        return Problem(429, "quota-exhausted", "ServiceM8 daily quota spent", error.message,
                       retry_after=3600)
    if isinstance(error, AccountSuspended):
        return Problem(402, "account-suspended", "ServiceM8 account suspended",
                       "ServiceM8 reports this account is not in good standing")
    if isinstance(error, RecordNotFound):
        return not_found("ServiceM8 has no such record")
    if isinstance(error, (RejectedByServiceM8, SubscriptionRefused)):
        return Problem(422, "upstream-validation", "ServiceM8 rejected the request",
                       error.message)
    if isinstance(error, TokenEndpointError):
        # Our request to the token endpoint was wrong (a connector bug, alarmed in oauth.py),
        # not the user's grant: the connection stays active and a later call may succeed.
        return Problem(502, "upstream-unavailable", "ServiceM8 unavailable",
                       "ServiceM8's token endpoint refused the connector's request; "
                       "the connection is unchanged, try again later")
    if isinstance(error, OutcomeUnknown):
        return Problem(502, "upstream-unavailable", "Outcome unknown",
                       "ServiceM8's answer could not be read; the write may or may not have "
                       "happened. Retry with the same Idempotency-Key.")
    if isinstance(error, RetryLater):
        return Problem(503 if error.retry_after else 502, "upstream-unavailable",
                       "ServiceM8 unavailable", error.message,
                       retry_after=error.retry_after)
    return Problem(502, "upstream-error", "ServiceM8 error", error.message)
