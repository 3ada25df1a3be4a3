"""GET /callback: finish the OAuth dance and hand the connection to the app."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import runtime
from servicem8_connector.callback_page import callback_answer, cookie_value, denied_answer
from servicem8_connector.connect import BROWSER_COOKIE, ConsentDenied
from servicem8_connector.http_api import install_problem_handlers

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver()
install_problem_handlers(app)


@app.get("/callback")
def callback() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    try:
        result = runtime.connect_service().finish(
            state=query.get("state"),
            code=query.get("code"),
            error=query.get("error"),
            browser_nonce=cookie_value(app.current_event.cookies, BROWSER_COOKIE),
        )
    except ConsentDenied as denied:
        back = denied_answer(denied)
        if back is None:
            raise
        return back
    logger.info("connection made", extra={"connection_id": result.connection.connection_id})
    return callback_answer(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric(name="CallbackRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
