"""POST /webhooks/servicem8/{route_token}: answer fast, leave the work to the queue."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import intake, runtime, settings  # noqa: F401 - every webhook uses them
from servicem8_connector.http_api import install_problem_handlers

logger = Logger()
tracer = Tracer()
app = APIGatewayHttpResolver()
install_problem_handlers(app)


@app.post("/webhooks/servicem8/<route_token>")
def receive(route_token: str) -> Response[str]:
    event = app.current_event
    answer = runtime.intake().receive(
        route_token, event.decoded_body or "", event.headers.get("content-type"),
        correlation_id=event.request_context.request_id,
    )
    return Response(status_code=answer.status, content_type=answer.content_type,
                    body=answer.body)


# The path carries the route token, so the request path is never logged.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
