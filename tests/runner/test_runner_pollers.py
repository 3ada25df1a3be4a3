"""The SQS poller gathers a batch the way Lambda's event source mapping does."""

from __future__ import annotations

from typing import Any

import pytest

from local.runner.functions import SqsSourceSpec
from local.runner.pollers import Activity, SqsPoller

ARN = "arn:aws:sqs:us-east-1:123456789012:deliveries"


class TrickleQueue:
    """Hands out one message a receive, like a queue that fills slowly."""

    def __init__(self, messages: int) -> None:
        self.left = messages
        self.deleted: list[str] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if not self.left:
            return {}
        self.left -= 1
        number = self.left
        return {"Messages": [{"MessageId": f"m{number}", "ReceiptHandle": f"h{number}",
                              "Body": "{}", "Attributes": {}}]}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted += [entry["ReceiptHandle"] for entry in kwargs["Entries"]]
        return {"Successful": kwargs["Entries"]}


@pytest.mark.parametrize(("window", "batches"), [(0.0, [1, 1, 1]), (0.5, [3])])
def test_a_batching_window_gathers_messages_into_one_invocation(
    window: float, batches: list[int],
) -> None:
    invoked: list[int] = []

    def invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(len(event["Records"]))
        return {"batchItemFailures": []}

    source = SqsSourceSpec("Processor", "Deliveries", ARN, 10, True, window)
    poller = SqsPoller(source, "http://127.0.0.1:1/queue", "http://127.0.0.1:1", invoke,
                       False, Activity())
    queue = TrickleQueue(3)
    poller._client = queue
    while queue.left:
        poller.poll_once()
    assert invoked == batches
    assert len(queue.deleted) == 3
