"""A connection's own routes: claim its API key, look at it, tune triggers, disconnect."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import connection_admin, runtime, settings, tokens  # noqa: F401 - used
from servicem8_connector.access import require_api_key
from servicem8_connector.api_routes import (
    CONNECTION_ID,
    ApiKeyAnswer,
    ClaimRequest,
    ConnectionAnswer,
    DisconnectedAnswer,
    TriggersRequest,
)
from servicem8_connector.http_api import install_problem_handlers

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_problem_handlers(app)

ConnectionId = Annotated[str, Path(pattern=CONNECTION_ID, description="Connection id")]


def _claiming(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/api-key")


@app.post("/connections/<connection_id>/api-key", responses={201: {"description": "Issued"}})
def claim_api_key(
    connection_id: ConnectionId, body: Annotated[ClaimRequest, Body()]
) -> Response[ApiKeyAnswer]:
    key = runtime.access().claim(connection_id, body.claim)
    answer = ApiKeyAnswer(connection_id=connection_id, api_key=key)
    return Response(status_code=201, body=answer.model_dump(), content_type="application/json",
                    headers={"Cache-Control": "no-store"})


@app.get("/connections/<connection_id>")
def describe(connection_id: ConnectionId) -> ConnectionAnswer:
    connection = runtime.token_manager().connection(connection_id)
    return ConnectionAnswer.model_validate(runtime.admin().describe(connection))


@app.put("/connections/<connection_id>/triggers")
def set_triggers(
    connection_id: ConnectionId, body: Annotated[TriggersRequest, Body()]
) -> ConnectionAnswer:
    connection = runtime.token_manager().connection(connection_id)
    answer = runtime.admin().set_triggers(connection, list(body.triggers))
    return ConnectionAnswer.model_validate(answer)


@app.delete("/connections/<connection_id>")
def disconnect(connection_id: ConnectionId) -> DisconnectedAnswer:
    connection = runtime.token_manager().connection(connection_id)
    return DisconnectedAnswer.model_validate(runtime.admin().disconnect(connection))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="ConnectionRequests", unit=MetricUnit.Count, value=1)
    return _authorized(event, context)


@require_api_key(runtime.access, exempt=_claiming)
def _authorized(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
