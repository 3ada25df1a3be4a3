"""GET /connect: send the app's user to ServiceM8's consent page."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import runtime
from servicem8_connector.connect import BROWSER_COOKIE, STATE_SECONDS
from servicem8_connector.http_api import install_problem_handlers

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver()
install_problem_handlers(app)


@app.get("/connect")
def connect() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    started = runtime.connect_service().start(
        return_url=query.get("return_url"),
        reference=query.get("reference"),
        reconnect=query.get("reconnect"),
    )
    cookie = Cookie(
        name=BROWSER_COOKIE,
        value=started.browser_nonce,
        path="/callback",
        secure=runtime.settings().public_base_url.startswith("https://"),
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=STATE_SECONDS,
    )
    return Response(
        status_code=302,
        headers={"Location": started.redirect_url, "Cache-Control": "no-store",
                 "Referrer-Policy": "no-referrer"},
        cookies=[cookie],
        body="",
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric(name="ConnectRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
