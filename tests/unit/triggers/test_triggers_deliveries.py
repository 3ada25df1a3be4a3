"""parse_delivery: every real delivery shape is recognised, anything else is parked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from triggers_testkit import COMPANY_UUID, FORM_RESPONSE_UUID, JOB_UUID, delivery_text

from servicem8_connector.triggers import (
    AddonDelivery,
    EventDelivery,
    ObjectDelivery,
    Unrecognised,
    parse_delivery,
)

JSON = "application/json"


@pytest.mark.parametrize(
    ("fixture", "kind", "object_name"),
    [
        ("object-job-status-changed.json", ObjectDelivery, "job"),
        ("object-job-three-entries.json", ObjectDelivery, "job"),
        ("object-company-created.json", ObjectDelivery, "company"),
        ("object-formresponse-created.json", ObjectDelivery, "formresponse"),
        ("event-job-created.json", EventDelivery, None),
        ("event-job-completed.json", EventDelivery, None),
        ("event-job-queued.json", EventDelivery, None),
        ("event-company-created.json", EventDelivery, None),
        ("event-form-response-created.json", EventDelivery, None),
        ("event-job-updated.json", EventDelivery, None),
        ("addon-webhook-subscription.json", AddonDelivery, "job"),
        ("unrecognised-hello-world.json", Unrecognised, None),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_parse_delivery_fixture_recognised_as_its_shape(
    fixture: str, kind: type, object_name: str | None
) -> None:
    delivery = parse_delivery(delivery_text(fixture), JSON)

    assert isinstance(delivery, kind)
    if object_name is not None:
        assert delivery.object == object_name


def test_parse_delivery_object_keeps_every_entry() -> None:
    delivery = parse_delivery(delivery_text("object-job-three-entries.json"), JSON)

    assert isinstance(delivery, ObjectDelivery)
    assert delivery.object == "job"  # sent as "Job"
    assert [entry.uuid for entry in delivery.entries] == [
        JOB_UUID,
        "7f2e4a9c-3b1d-4e6f-a8c5-9d2b7e1f4a36",
        "c8d1f5a3-6e9b-4a2c-b7d4-1e8f3a6c9b52",
    ]
    assert delivery.entries[1].changed_fields == ["queue_uuid", "queue_expiry_date"]
    assert delivery.entries[2].time == datetime(2026, 3, 3, 0, 41, 19, tzinfo=UTC)


def test_parse_delivery_event_reads_id_type_data_and_created_at() -> None:
    delivery = parse_delivery(delivery_text("event-job-completed.json").encode(), JSON)

    assert isinstance(delivery, EventDelivery)
    assert delivery.id == "smwe_a3e7c1d9-4f2b-4a8e-b6c5-7d9f1e3a5c82"
    assert delivery.type == "job.completed"
    assert delivery.created_at == "2026-03-03T00:40:27Z"
    assert delivery.data is not None
    assert delivery.data["status"] == "Completed"


def test_parse_delivery_event_without_data_keeps_none_for_fetch_back() -> None:
    delivery = parse_delivery('{"id":"smwe_1","type":"job.updated","data":null}', JSON)

    assert isinstance(delivery, EventDelivery)
    assert delivery.data is None


def test_parse_delivery_addon_keeps_account_and_drops_access_token() -> None:
    delivery = parse_delivery(delivery_text("addon-webhook-subscription.json"), JSON)

    assert isinstance(delivery, AddonDelivery)
    assert delivery.account_uuid == "3e5a7c9d-1b2f-4e4a-9c6d-8f0a2b4c6e81"
    assert delivery.entries[0].uuid == JOB_UUID
    assert "not-a-real-token" not in delivery.model_dump_json()


def test_parse_delivery_addon_without_object_infers_it_from_resource_url() -> None:
    body = (
        '{"eventVersion":"1.0","eventName":"webhook_subscription","auth":{},'
        f'"eventArgs":{{"entry":[{{"uuid":"{COMPANY_UUID}"}}],'
        f'"resource_url":"https://api.servicem8.com/api_1.0/Company/{COMPANY_UUID}.json"}}}}'
    )

    delivery = parse_delivery(body, JSON)

    assert isinstance(delivery, AddonDelivery)
    assert delivery.object == "company"
    assert delivery.account_uuid is None


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("case8-object-company.json", ObjectDelivery),
        ("case8-event-company-created.json", EventDelivery),
        ("case8-addon-company.json", AddonDelivery),
    ],
    ids=["object-style", "event-style", "sdk-event-style"],
)
def test_parse_delivery_problem8_shapes_all_recognised(fixture: str, kind: type) -> None:
    delivery = parse_delivery(delivery_text(fixture), JSON)

    assert isinstance(delivery, kind)


def test_parse_delivery_problem8_addon_without_object_or_url_has_no_object() -> None:
    delivery = parse_delivery(delivery_text("case8-addon-company.json"), JSON)

    assert isinstance(delivery, AddonDelivery)
    assert delivery.object is None
    assert delivery.account_uuid == "99999999-0000-4000-8000-000000000000"
    assert delivery.entries[0].changed_fields is None  # unknown, not "nothing changed"


def test_parse_delivery_formresponse_entry_lists_creation_fields() -> None:
    delivery = parse_delivery(delivery_text("object-formresponse-created.json"), JSON)

    assert isinstance(delivery, ObjectDelivery)
    assert delivery.entries[0].uuid == FORM_RESPONSE_UUID
    assert "uuid" in (delivery.entries[0].changed_fields or [])


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"hello":"world"}', JSON),
        ("", JSON),
        ("not json at all", "text/plain"),
        (b"\xff\xfe\x00garbage", None),
        ("mode=subscribe&challenge=abc123", "application/x-www-form-urlencoded"),
        ("[]", JSON),
        ("42", JSON),
        ("null", JSON),
        ('"job.completed"', JSON),
        ('{"entry":[]}', JSON),
        ('{"object":"job","entry":[]}', JSON),
        ('{"object":"job","entry":[{"changed_fields":["status"]}]}', JSON),
        (f'{{"entry":[{{"uuid":"{JOB_UUID}"}}]}}', JSON),
        ('{"type":5,"data":{}}', JSON),
        ('{"type":"","data":{}}', JSON),
        ('{"eventName":"job_action","eventArgs":{"entry":[{"uuid":"x"}]}}', JSON),
        ('{"eventName":"webhook_subscription","eventArgs":"nope"}', JSON),
        ("[" * 100_000, JSON),
    ],
    ids=[
        "hello-world",
        "empty",
        "plain-text",
        "not-utf8",
        "handshake-form",
        "json-array",
        "json-number",
        "json-null",
        "json-string",
        "entry-empty-no-object",
        "entry-empty",
        "entry-without-uuid",
        "entry-without-object-or-url",
        "type-not-string",
        "type-empty",
        "addon-other-event",
        "addon-args-not-object",
        "deeply-nested",
    ],
)
def test_parse_delivery_bad_input_is_unrecognised_not_raised(
    body: str | bytes, content_type: str | None
) -> None:
    delivery = parse_delivery(body, content_type)

    assert isinstance(delivery, Unrecognised)
    assert delivery.reason


def test_parse_delivery_handshake_reason_names_the_handshake() -> None:
    delivery = parse_delivery("mode=subscribe&challenge=abc", "application/x-www-form-urlencoded")

    assert isinstance(delivery, Unrecognised)
    assert "handshake" in delivery.reason


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-03-03 00:40:27", datetime(2026, 3, 3, 0, 40, 27, tzinfo=UTC)),
        ("2026-03-03T11:40:27+11:00", datetime(2026, 3, 3, 0, 40, 27, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
        ("yesterday", None),
    ],
    ids=["servicem8-utc", "iso-offset", "zero-date", "unreadable"],
)
def test_parse_delivery_entry_time_read_as_utc(time: str, expected: datetime | None) -> None:
    body = f'{{"object":"job","entry":[{{"uuid":"{JOB_UUID}","time":"{time}"}}]}}'

    delivery = parse_delivery(body, JSON)

    assert isinstance(delivery, ObjectDelivery)
    assert delivery.entries[0].time == expected
