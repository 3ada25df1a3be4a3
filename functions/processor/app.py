"""Turns queued webhook deliveries into trigger events, reporting failures per record."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import runtime
from servicem8_connector.processor import decode_message

logger = Logger()
tracer = Tracer()
metrics = Metrics()
batch = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method(capture_response=False)
def handle_delivery(record: SQSRecord) -> None:
    message = decode_message(record.body)
    logger.set_correlation_id(message.correlation_id or record.message_id)
    logger.append_keys(connection_id=message.connection_id, delivery=record.message_id)
    outcome = runtime.processor().process(message)
    metrics.add_metric("TriggersPublished", MetricUnit.Count, outcome.published)
    metrics.add_metric("DuplicatesSuppressed", MetricUnit.Count, outcome.duplicates)
    metrics.add_metric("RecordFetches", MetricUnit.Count, outcome.fetches)
    if outcome.parked:
        metrics.add_metric("DeliveriesParked", MetricUnit.Count, 1)
    if outcome.dropped:
        metrics.add_metric("DeliveriesDropped", MetricUnit.Count, 1)
    logger.info("delivery processed", extra={
        "published": outcome.published, "duplicates": outcome.duplicates,
        "parked": outcome.parked, "dropped": outcome.dropped,
        "detail_types": outcome.detail_types,
    })


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=handle_delivery, processor=batch, context=context
    )
