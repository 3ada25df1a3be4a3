"""`make openapi`: write ``openapi.json``, the HTTP API's contract, from the handlers' routes.

Powertools generates each resolver's OpenAPI from its route signatures; this
merges the actions and connections apps (each a module named ``app.py``, so
they are loaded under names of their own) and then says what the generator
cannot know: the bearer API key, and that every error answer is RFC 9457
``application/problem+json`` rather than Powertools' own 422 shape.

``/connect``, ``/callback`` and the ServiceM8 webhook route are left out on
purpose: browsers and ServiceM8 call them, not API clients (docs/api.md
describes them). ``python -m local.openapi --check`` exits 1 when the committed
file is stale.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "openapi.json"
LIBRARY = ROOT / "layers" / "connector"
API_FUNCTIONS = ("actions", "connections")
TITLE = "ServiceM8 connector API"
LOCAL_SERVER = "http://127.0.0.1:3000"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Powertools' own validation-error shapes; our handlers answer 422 as a problem instead.
POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

DESCRIPTION = """\
Act on a connected ServiceM8 account's clients and jobs, and manage the connection.

A connection is made in the browser (`GET /connect` → ServiceM8 consent → `GET /callback`,
which hands the app a `connection_id` and a one-time `claim`). The app's server trades the
claim for the connection's API key with `POST /connections/{connection_id}/api-key`, then
sends `Authorization: Bearer sm8c_...` on every other route. Every error answer is an
RFC 9457 problem (`application/problem+json`). See docs/api.md."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; extension members vary by type.",
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
    "properties": {
        "type": {"type": "string", "format": "uri-reference",
                 "description": "Stable problem type, e.g. /problems/not-found",
                 "examples": ["/problems/not-found"]},
        "title": {"type": "string", "description": "Short summary of the problem type"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599,
                   "description": "The HTTP status code of this answer"},
        "detail": {"type": "string", "description": "What went wrong with this request"},
        "instance": {"type": "string", "format": "uri-reference",
                     "description": "The request path, when known"},
        "errors": {
            "type": "array",
            "description": "invalid-request: where the request broke the schema, and how",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "array", "items": {"type": "string"}},
                               "kind": {"type": ["string", "null"]}},
            },
        },
        "retry_after": {"type": "number",
                        "description": "Seconds to wait (also in the Retry-After header)"},
        "reconnect_url": {"type": "string",
                          "description": "reconnect-required: where the user reconnects"},
        "required_scope": {"type": ["string", "null"],
                           "description": "insufficient-scope: the ServiceM8 scope missing"},
    },
}

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": {"type": "integer"}}}
# status → (component name, description, extra headers)
PROBLEMS: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: ("BadRequest", "invalid-filter, malformed-request", {}),
    401: ("Unauthenticated", "unauthenticated: no 'Authorization: Bearer sm8c_...' header",
          {"WWW-Authenticate": {"description": "Bearer realm", "schema": {"type": "string"}}}),
    402: ("AccountSuspended", "account-suspended: ServiceM8 suspended the account", {}),
    403: ("InsufficientScope", "insufficient-scope: the grant lacks a ServiceM8 scope", {}),
    404: ("NotFound", "not-found: no such connection (or not your key), record or route", {}),
    409: ("Conflict", "reconnect-required, claim-in-progress", {}),
    413: ("ResultTooLarge", "result-too-large: narrow the filter", {}),
    415: ("UnsupportedMediaType", "unsupported-media-type: send application/json", {}),
    422: ("UnprocessableContent",
          "invalid-request, nothing-to-update, upstream-validation", {}),
    429: ("QuotaExhausted", "quota-exhausted: ServiceM8's daily quota is spent", RETRY_AFTER),
    500: ("InternalError", "internal-error: the connector failed unexpectedly", {}),
    502: ("BadGateway", "upstream-unavailable, upstream-error: ServiceM8 failed or the "
                        "outcome of a write is unknown", {}),
    503: ("ServiceUnavailable", "upstream-unavailable: ServiceM8 or this account's call "
                                "budget asks to wait", RETRY_AFTER),
}
EVERY_OPERATION = (400, 404, 422, 500)
AUTHENTICATED = (401,)
WITH_BODY = (415,)
REACHES_SERVICEM8 = (402, 403, 409, 429, 502, 503)
# The handler answers 422 nothing-to-update for an empty PATCH body; say so in the contract.
AT_LEAST_ONE_FIELD = ("ClientUpdate", "JobUpdate")
SUMMARIES = {
    "claim_api_key": "Trade the callback's claim code for the connection's API key (once)",
    "describe": "Describe the connection",
    "set_triggers": "Choose which triggers the connection publishes",
    "disconnect": "Disconnect: remove ServiceM8 subscriptions and forget the tokens",
    "create_client": "Create a client",
    "list_clients": "List clients (every page)",
    "retrieve_client": "Retrieve a client",
    "update_client": "Update a client's fields",
    "delete_client": "Delete a client (soft: active = 0)",
    "create_job": "Create a job",
    "list_jobs": "List jobs (every page)",
    "retrieve_job": "Retrieve a job",
    "update_job": "Update a job's fields",
    "delete_job": "Delete a job (soft: active = 0)",
}
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "sm8c_<43 url-safe characters>",
    "description": "The connection's API key, issued once by "
                   "POST /connections/{connection_id}/api-key for the callback's claim code.",
}


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def load_function_app(function: str) -> ModuleType:
    """Import ``functions/<function>/app.py`` under a name of its own."""
    function_dir = ROOT / "functions" / function
    if str(LIBRARY) not in sys.path:
        sys.path.insert(0, str(LIBRARY))
    name = f"_openapi_function_{function}"
    spec = importlib.util.spec_from_file_location(name, function_dir / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {function_dir / 'app.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # As in Lambda, the function's own directory is importable while it loads;
    # it is taken off again so another function's modules cannot shadow it.
    sys.path.insert(0, str(function_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(function_dir))
    return module


def generated_schemas() -> dict[str, dict[str, Any]]:
    """Each API function's schema, exactly as Powertools generates it."""
    # Importing a handler module builds Powertools' Tracer and Metrics; nothing may ship.
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServiceM8Connector")
    schemas = {}
    for function in API_FUNCTIONS:
        resolver = load_function_app(function).app
        schema = resolver.get_openapi_schema(title=TITLE, openapi_version="3.1.0")
        schemas[function] = schema.model_dump(by_alias=True, exclude_none=True, mode="json")
    return schemas


def merged_schema(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import Server

    merge = OpenAPIMerge(
        title=TITLE,
        version=project_version(),
        openapi_version="3.1.0",
        description=DESCRIPTION,
        servers=[Server(url=LOCAL_SERVER, description="The local stack (make local); a "
                        "deployed stack serves the same paths at its HttpApi URL")],
        on_conflict="error",
    )
    for function in API_FUNCTIONS:
        merge.add_schema(schemas[function])
    return copy.deepcopy(merge.get_openapi_schema())


def _tag(path: str) -> str:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[3] in ("clients", "jobs") else "connections"


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    claim = method == "post" and path.endswith("/api-key")
    statuses = list(EVERY_OPERATION)
    if not claim:
        statuses += AUTHENTICATED
    if "requestBody" in operation:
        statuses += WITH_BODY
    if claim:
        statuses.append(409)
    elif _tag(path) != "connections" or method in ("put", "delete"):
        statuses += REACHES_SERVICEM8
    if method == "get" and path.endswith(("/clients", "/jobs")):
        statuses.append(413)
    return sorted(set(statuses))


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # Powertools' HTTPValidationError shape: never sent
    for status in _statuses(path, method, operation):
        responses[str(status)] = {"$ref": f"#/components/responses/{PROBLEMS[status][0]}"}
    if "201" in responses and _tag(path) != "connections":
        responses["201"]["headers"] = {
            "Location": {"description": "The new record's path", "schema": {"type": "string"}}
        }
    claim = method == "post" and path.endswith("/api-key")
    handler = next((name for name in SUMMARIES
                    if operation.get("operationId", "").startswith(f"{name}_")), None)
    if handler is not None:
        operation["summary"] = SUMMARIES[handler]
    operation["security"] = [] if claim else [{"bearerAuth": []}]
    operation["tags"] = [_tag(path)]


def _drop_unused_schemas(spec: dict[str, Any]) -> None:
    text = json.dumps(spec["paths"])
    schemas = spec["components"]["schemas"]
    for name in POWERTOOLS_ERROR_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in text:
            schemas.pop(name, None)


def build_spec() -> dict[str, Any]:
    """The complete contract: generated routes plus auth and problem answers."""
    spec = merged_schema(generated_schemas())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                _document_operation(path, method, operation)
    components = spec.setdefault("components", {})
    _drop_unused_schemas(spec)
    for name in AT_LEAST_ONE_FIELD:
        components["schemas"][name]["minProperties"] = 1
    components["schemas"]["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {"bearerAuth": SECURITY_SCHEME}
    components["responses"] = {
        name: {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": headers} if headers else {}),
        }
        for name, description, headers in PROBLEMS.values()
    }
    spec["tags"] = [
        {"name": "clients", "description": "ServiceM8 clients (companies)"},
        {"name": "jobs", "description": "ServiceM8 jobs"},
        {"name": "connections", "description": "The connection itself: API key, triggers, "
                                               "disconnect"},
    ]
    return spec


def render(spec: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, a final newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if openapi.json differs from the routes")
    args = parser.parse_args(argv)
    text = render(build_spec())
    if args.check:
        if not SPEC_PATH.exists() or SPEC_PATH.read_text() != text:
            print("openapi.json is out of date with the routes: run make openapi",
                  file=sys.stderr)
            return 1
        print("openapi.json is up to date")
        return 0
    SPEC_PATH.write_text(text)
    print(f"wrote {SPEC_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
