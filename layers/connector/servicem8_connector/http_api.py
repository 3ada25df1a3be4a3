"""What every HTTP handler shares: problem+json answers for every failure.

Powertools' resolver answers validation failures, unsupported content types
and its own 404 in its own shapes; these handlers turn each into RFC 9457,
so a client sees one error format however the request went wrong.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from servicem8_connector.problems import Problem, not_found, problem_for

logger = logging.getLogger(__name__)


def problem_response(problem: Problem, instance: str | None = None) -> Response[str]:
    return Response(
        status_code=problem.status,
        content_type="application/problem+json",
        body=problem.json(instance),
        headers=problem.headers(),
    )


def _invalid_request(error: RequestValidationError) -> Problem:
    # Only where and what kind: pydantic's messages can echo the input back.
    errors = [
        {"location": [str(part) for part in e.get("loc", ())], "kind": e.get("type")}
        for e in error.errors()
    ]
    return Problem(422, "invalid-request", "Invalid request",
                   "the request does not match the API's schema", errors=errors)


def refuse_unknown_query(params: dict[str, str] | None, allowed: set[str]) -> None:
    """A mistyped parameter (``filtr=``) would otherwise list everything, silently."""
    unknown = sorted(set(params or {}) - allowed)
    if unknown:
        raise Problem(400, "unknown-parameter", "Unknown query parameter",
                      f"not a parameter of this route: {', '.join(unknown)[:200]}")


def reconnect_link(path: str | None) -> str | None:
    """Where the user goes to reconnect the connection a request path names."""
    match = re.match(r"^/connections/([^/]+)", path or "")
    if match is None:
        return None
    from servicem8_connector import runtime

    return f"{runtime.settings().connect_url()}?reconnect={match.group(1)}"


def install_problem_handlers(app: Any) -> None:
    """Register the mapping from every exception to a problem+json answer."""

    def instance() -> str | None:
        event = getattr(app, "current_event", None)
        return getattr(event, "path", None) if event is not None else None

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _validation(error: RequestValidationError) -> Response[str]:
        return problem_response(_invalid_request(error), instance())

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def _content_type(error: RequestUnsupportedContentType) -> Response[str]:
        problem = Problem(415, "unsupported-media-type", "Unsupported media type",
                          "send the request body as application/json")
        return problem_response(problem, instance())

    @app.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
    def _no_route(error: NotFoundError) -> Response[str]:
        return problem_response(not_found("no such route"), instance())

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _any(error: Exception) -> Response[str]:
        problem = problem_for(error, reconnect_url=reconnect_link(instance()))
        if problem.kind == "internal-error" and isinstance(error, (ValueError, RecursionError)):
            # Bodies Powertools cannot decode (bad UTF-8, a multipart without boundary).
            problem = Problem(400, "malformed-request", "Malformed request",
                              "the request body could not be read")
        elif problem.kind == "internal-error":
            logger.error("unhandled error", exc_info=error,
                         extra={"error_type": type(error).__name__})
        return problem_response(problem, instance())
