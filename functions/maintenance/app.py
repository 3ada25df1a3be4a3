"""Hourly: keep idle connections' tokens alive and their subscriptions healthy."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = runtime.maintenance().run()
    for name, count in report.counts().items():
        metrics.add_metric(name, MetricUnit.Count, count)
    logger.info("maintenance done", extra=report.counts())
    return report.counts()
