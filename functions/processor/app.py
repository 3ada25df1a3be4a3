"""Turns queued webhook deliveries into trigger events, reporting failures per record.

Powertools' batch processor stages each delivery (classify, claim); the staged batch
then publishes every event in PutEvents calls of ten, and a delivery that fails in
either step is reported back to SQS on its own.
"""

from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import runtime
from servicem8_connector.processor import QueuedDelivery, decode_message
from servicem8_connector.staging import BatchResult, DeliveryBatch

logger = Logger()
tracer = Tracer()
metrics = Metrics()
batch = BatchProcessor(event_type=EventType.SQS)


# Time a delivery may need: up to 12 s waiting for the account's rate budget, its fetch,
# then the batch's PutEvents and writes. Later deliveries go back to the queue instead of
# letting the invocation time out with the whole batch.
SECONDS_TO_START_A_DELIVERY = 20


class OutOfTime(Exception):
    """Too little of the invocation is left to start this delivery: SQS brings it back."""


def stager(
    deliveries: DeliveryBatch, messages: dict[str, QueuedDelivery], context: LambdaContext
) -> Callable[[SQSRecord], None]:
    @tracer.capture_method(capture_response=False)
    def stage_delivery(record: SQSRecord) -> None:
        if context.get_remaining_time_in_millis() < SECONDS_TO_START_A_DELIVERY * 1000:
            raise OutOfTime(f"{context.get_remaining_time_in_millis()} ms left")
        message = decode_message(record.body)
        messages[record.message_id] = message
        logger.set_correlation_id(message.correlation_id or record.message_id)
        logger.append_keys(connection_id=message.connection_id, delivery=record.message_id)
        runtime.processor().stage(deliveries, record.message_id, message)

    return stage_delivery


def report(result: BatchResult, messages: dict[str, QueuedDelivery]) -> None:
    metrics.add_metric("PutEventsCalls", MetricUnit.Count, result.put_events_calls)
    for message_id, outcome in result.outcomes.items():
        message = messages.get(message_id)
        if message is not None:
            logger.set_correlation_id(message.correlation_id or message_id)
            logger.append_keys(connection_id=message.connection_id, delivery=message_id)
        metrics.add_metric("TriggersPublished", MetricUnit.Count, outcome.published)
        metrics.add_metric("DuplicatesSuppressed", MetricUnit.Count, outcome.duplicates)
        metrics.add_metric("RecordFetches", MetricUnit.Count, outcome.fetches)
        if outcome.parked:
            metrics.add_metric("DeliveriesParked", MetricUnit.Count, 1)
        if outcome.dropped:
            metrics.add_metric("DeliveriesDropped", MetricUnit.Count, 1)
        failure = result.failures.get(message_id)
        logger.info("delivery processed", extra={
            "published": outcome.published, "duplicates": outcome.duplicates,
            "parked": outcome.parked, "dropped": outcome.dropped,
            "detail_types": outcome.detail_types,
            "retried_because": type(failure).__name__ if failure else None,
        })


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deliveries = runtime.processor().batch()
    messages: dict[str, QueuedDelivery] = {}
    try:
        with batch(event.get("Records", []), stager(deliveries, messages, context), context):
            batch.process()
    finally:
        # Even when every delivery failed to stage, the claims some took are published.
        result = deliveries.finish()
        report(result, messages)
    answer = batch.response()
    reported = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    answer["batchItemFailures"] += [
        {"itemIdentifier": message_id} for message_id in result.failures
        if message_id not in reported
    ]
    return answer
