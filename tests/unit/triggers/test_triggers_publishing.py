"""EventPublisher: batches, retries of rejected entries, size limits, and moto delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from triggers_testkit import ACCOUNT_UUID, CONNECTION_ID, completed_job, job

from servicem8_connector.publishing import (
    MAX_REQUEST_BYTES,
    EventPublisher,
    PublishError,
    TriggerEvent,
)
from servicem8_connector.triggers import classify, snapshot_of

BUS = "servicem8-connector-triggers"


def event(number: int, **record_fields: Any) -> TriggerEvent:
    uuid = f"0686ce69-4a5d-4f73-ad56-{number:012d}"
    (occurrence,) = classify(
        object_name="job",
        record=completed_job(uuid=uuid, **record_fields),
        previous=snapshot_of("job", job(uuid=uuid)),
        event_type=None,
        occurred_at=datetime(2026, 3, 3, 0, 40, 27, tzinfo=UTC),
    )
    return TriggerEvent.from_occurrence(
        occurrence, connection_id=CONNECTION_ID, account_uuid=ACCOUNT_UUID
    )


class FakeEvents:
    """An EventBridge client that rejects chosen entries a chosen number of times."""

    def __init__(self, reject: dict[str, int] | None = None, raise_first: int = 0) -> None:
        self.reject = dict(reject or {})
        self.raise_first = raise_first
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        entries = kwargs["Entries"]
        self.calls.append(entries)
        if self.raise_first:
            self.raise_first -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutEvents")
        results = []
        for index, entry in enumerate(entries):
            key = json.loads(entry["Detail"])["idempotency_key"]
            if self.reject.get(key, 0) > 0:
                self.reject[key] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": f"evt-{len(self.calls)}-{index}"})
        failed = sum(1 for result in results if "ErrorCode" in result)
        return {"FailedEntryCount": failed, "Entries": results}


def no_sleep(seconds: float) -> None:
    del seconds


def test_publish_25_events_in_3_put_events_calls() -> None:
    events = [event(number) for number in range(25)]
    client = FakeEvents()

    result = EventPublisher(client, BUS, sleep=no_sleep).publish(events)

    assert result.calls == 3
    assert [len(call) for call in client.calls] == [10, 10, 5]
    assert set(result.event_ids) == {e.idempotency_key for e in events}


def test_publish_entry_fields_name_source_detail_type_and_bus() -> None:
    client = FakeEvents()

    EventPublisher(client, BUS, sleep=no_sleep).publish([event(1)])

    (entry,) = client.calls[0]
    assert entry["Source"] == "servicem8.connector"
    assert entry["DetailType"] == "Job Completed"
    assert entry["EventBusName"] == BUS
    detail = json.loads(entry["Detail"])
    assert detail["object"] == "job"
    assert detail["occurred_at"] == "2026-03-03T00:40:27Z"
    assert detail["idempotency_key"].startswith(f"{CONNECTION_ID}:job_completed:")


def test_publish_retries_only_rejected_entries_until_they_pass() -> None:
    events = [event(number) for number in range(3)]
    flaky = events[1].idempotency_key
    client = FakeEvents(reject={flaky: 2})
    pauses: list[float] = []

    result = EventPublisher(client, BUS, sleep=pauses.append).publish(events)

    assert [len(call) for call in client.calls] == [3, 1, 1]
    assert result.calls == 3
    assert len(pauses) == 2
    assert set(result.event_ids) == {e.idempotency_key for e in events}


def test_publish_permanent_rejection_raises_publish_error_naming_it() -> None:
    events = [event(number) for number in range(3)]
    doomed = events[2].idempotency_key
    client = FakeEvents(reject={doomed: 99})

    with pytest.raises(PublishError) as raised:
        EventPublisher(client, BUS, sleep=no_sleep).publish(events)

    assert len(client.calls) == 4  # the first try and three retries
    assert [f.idempotency_key for f in raised.value.failures] == [doomed]
    assert raised.value.failures[0].error_code == "InternalFailure"
    assert set(raised.value.result.event_ids) == {
        events[0].idempotency_key,
        events[1].idempotency_key,
    }


def test_publish_whole_call_error_retries_the_batch() -> None:
    client = FakeEvents(raise_first=1)

    result = EventPublisher(client, BUS, sleep=no_sleep).publish([event(1), event(2)])

    assert result.calls == 2
    assert len(result.event_ids) == 2


def test_publish_oversized_record_is_truncated_to_snapshot_fields() -> None:
    big = event(1, work_done_description="x" * (MAX_REQUEST_BYTES + 10))
    client = FakeEvents()

    EventPublisher(client, BUS, sleep=no_sleep).publish([big, event(2)])

    sent = [json.loads(entry["Detail"]) for call in client.calls for entry in call]
    truncated = sent[0]
    assert truncated["record_truncated"] is True
    assert "work_done_description" not in truncated["record"]
    assert truncated["record"]["status"] == "Completed"
    assert sent[1]["record_truncated"] is False


def test_publish_batches_split_on_request_size() -> None:
    events = [event(n, work_done_description="y" * 100_000) for n in range(3)]
    client = FakeEvents()

    result = EventPublisher(client, BUS, sleep=no_sleep).publish(events)

    assert [len(call) for call in client.calls] == [2, 1]
    assert result.calls == 2


def test_publish_entry_too_big_even_truncated_raises() -> None:
    huge = TriggerEvent.model_validate(
        {
            **event(1).model_dump(by_alias=True),
            "changes": {"x": {"previous": "z" * 300_000, "current": None}},
        }
    )
    client = FakeEvents()

    with pytest.raises(PublishError) as raised:
        EventPublisher(client, BUS, sleep=no_sleep).publish([huge])

    assert raised.value.failures[0].error_code == "EntryTooLarge"
    assert client.calls == []


def test_publish_nothing_makes_no_call() -> None:
    client = FakeEvents()

    assert EventPublisher(client, BUS, sleep=no_sleep).publish([]).calls == 0


class CountingClient:
    """Wraps a real (moto) client and counts PutEvents calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def put_events(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.put_events(**kwargs)


def test_publish_on_moto_bus_delivers_every_event_to_a_rule_target(aws: None) -> None:
    import boto3

    events_client = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    events_client.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events_client.put_rule(
        Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["servicem8.connector"]})
    )
    events_client.put_targets(
        Rule="all",
        EventBusName=BUS,
        Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    counting = CountingClient(events_client)
    events = [event(number) for number in range(25)]

    result = EventPublisher(counting, BUS, sleep=no_sleep).publish(events)

    assert counting.calls == 3
    assert result.calls == 3
    received = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        received += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert len(received) == 25
    assert {m["detail-type"] for m in received} == {"Job Completed"}
    assert {m["detail"]["idempotency_key"] for m in received} == set(result.event_ids)
    assert received[0]["detail"]["record_uuid"].startswith("0686ce69-4a5d-4f73-ad56-")
