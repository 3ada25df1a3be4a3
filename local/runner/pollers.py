"""Emulates Lambda's SQS event source mappings: poll, invoke, delete what succeeded."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from .cfn import ACCOUNT_ID, REGION
from .functions import SqsSourceSpec
from .provision import aws_client

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]

_ENVELOPE_ORDER = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def add_missing_account(body: str) -> str:
    """Add ``account`` to an EventBridge envelope that moto delivered without it.

    Real EventBridge always sends ``account``; Powertools' ``EventBridgeModel`` requires it.
    Bodies that are not such an envelope are returned unchanged.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or "account" in data:
        return body
    if not {"detail-type", "source", "detail", "id"} <= set(data):
        return body
    data["account"] = ACCOUNT_ID
    ordered = {k: data[k] for k in _ENVELOPE_ORDER if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return json.dumps(ordered)


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, attr in raw.items():
        binary = attr.get("BinaryValue")
        out[name] = {
            "stringValue": attr.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
            "stringListValues": attr.get("StringListValues", []),
            "binaryListValues": [
                base64.b64encode(b).decode() for b in attr.get("BinaryListValues", [])
            ],
            "dataType": attr.get("DataType"),
        }
        out[name] = {k: v for k, v in out[name].items() if v is not None}
    return out


def sqs_record(message: dict[str, Any], queue_arn: str, patch_envelope: bool) -> dict[str, Any]:
    """One ``Records[]`` entry of the Lambda SQS event for a ``ReceiveMessage`` result."""
    body = message.get("Body", "")
    if patch_envelope:
        body = add_missing_account(body)
    system = message.get("Attributes", {})
    keys = (
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
        "SequenceNumber",
        "MessageGroupId",
        "MessageDeduplicationId",
        "AWSTraceHeader",
    )
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {k: system[k] for k in keys if k in system},
        "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def succeeded_ids(result: Any, ids: list[str], report_failures: bool) -> list[str]:
    """Message ids to delete after a successful invocation (Lambda's partial-batch rules)."""
    if not report_failures or result is None:
        return list(ids)
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return list(ids)
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            return []  # an invalid identifier fails the whole batch, as in Lambda
        failed.add(identifier)
    return [i for i in ids if i not in failed]


class SqsPoller(threading.Thread):
    """One event source mapping: long-polls the queue and invokes the function per batch."""

    def __init__(
        self,
        source: SqsSourceSpec,
        queue_url: str,
        endpoint: str,
        invoke: Invoke,
        patch_envelope: bool,
        activity: Activity,
    ) -> None:
        super().__init__(name=f"sqs-{source.function_id}-{source.event_name}", daemon=True)
        self.source = source
        self.queue_url = queue_url
        self._client = aws_client("sqs", endpoint)
        self._invoke = invoke
        self._patch = patch_envelope
        self._activity = activity
        self._stop_event = threading.Event()
        self._paused = threading.Event()

    def stop(self) -> None:
        """Ask the thread to finish after its current poll."""
        self._stop_event.set()

    def pause(self) -> None:
        """Receive nothing after the current poll (messages wait in the queue)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def run(self) -> None:
        failing = False
        while not self._stop_event.is_set():
            if self._paused.is_set():
                self._stop_event.wait(0.05)
                continue
            try:
                self.poll_once()
                failing = False
            except Exception:
                if self._stop_event.is_set():
                    break
                # once per failure streak: a wiped queue would otherwise log twice a second
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "poller %s: receive failed",
                    self.name,
                    exc_info=True,
                )
                failing = True
                time.sleep(0.5)

    def poll_once(self) -> None:
        """Receive one batch (waiting ≤1 s, then up to the batching window) and process it."""
        size = max(1, min(self.source.batch_size, 10))
        messages = self._receive(size, wait=1)
        if not messages:
            return
        with self._activity.busy():
            # Like Lambda's batching window: keep gathering until the batch is full or
            # the window since the first message has passed.
            window_ends = time.monotonic() + self.source.batching_window
            while len(messages) < size and time.monotonic() < window_ends:
                more = self._receive(size - len(messages), wait=0)
                if not more:
                    time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
                messages += more
            self._process(messages)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def _process(self, messages: list[dict[str, Any]]) -> None:
        arn = self.source.queue_arn
        records = [sqs_record(m, arn, self._patch) for m in messages]
        ids = [r["messageId"] for r in records]
        try:
            result = self._invoke(self.source.function_id, {"Records": records})
        except Exception:
            print(
                f"[local sqs] {self.source.function_id} failed; batch returns after the "
                "visibility timeout:",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            return
        done = set(succeeded_ids(result, ids, self.source.report_failures))
        handles = [m["ReceiptHandle"] for m in messages if m["MessageId"] in done]
        self._delete_messages(handles)

    def _delete_messages(self, handles: Iterable[str]) -> None:
        items = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
        for start in range(0, len(items), 10):
            self._client.delete_message_batch(
                QueueUrl=self.queue_url, Entries=items[start : start + 10]
            )


class Activity:
    """Counts running batches and bumps a generation number on each one (for ``drain``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.generation = 0

    def busy(self) -> _Busy:
        """Context manager marking one batch in progress."""
        return _Busy(self)

    def snapshot(self) -> tuple[int, int]:
        """``(running, generation)`` read atomically."""
        with self._lock:
            return self.running, self.generation


class _Busy:
    def __init__(self, activity: Activity) -> None:
        self._activity = activity

    def __enter__(self) -> None:
        with self._activity._lock:
            self._activity.running += 1
            self._activity.generation += 1

    def __exit__(self, *exc: object) -> None:
        with self._activity._lock:
            self._activity.running -= 1
            self._activity.generation += 1
