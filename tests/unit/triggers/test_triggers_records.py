"""Record normalisation and the snapshots the classifier keeps."""

from __future__ import annotations

import pytest
from triggers_testkit import COMPANY_UUID, JOB_UUID, QUEUE_WORKSHOP, company, queued_job

from servicem8_connector.triggers import is_active, normalise_record, snapshot_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0000-00-00 00:00:00", None),
        ("0000-00-00", None),
        ("2026-03-03 11:40:27", "2026-03-03 11:40:27"),
        ("", ""),
        (None, None),
    ],
    ids=["zero-datetime", "zero-date", "real-datetime", "empty-string-kept", "null-kept"],
)
def test_normalise_record_zero_dates_become_none(value: str | None, expected: str | None) -> None:
    assert normalise_record({"completion_date": value})["completion_date"] == expected


@pytest.mark.parametrize(
    ("badges", "expected"),
    [
        ('["a","b"]', ["a", "b"]),
        ("", []),
        ("[]", []),
        ("not json", "not json"),
        ('{"a":1}', '{"a":1}'),
        (["already", "a", "list"], ["already", "a", "list"]),
    ],
    ids=["json-list", "empty", "empty-list", "invalid-kept", "not-a-list-kept", "list-kept"],
)
def test_normalise_record_badges_json_string_becomes_list(badges: object, expected: object) -> None:
    assert normalise_record({"badges": badges})["badges"] == expected


def test_normalise_record_is_idempotent_and_copies() -> None:
    record = queued_job(badges='["x"]')

    once = normalise_record(record)

    assert normalise_record(once) == once
    assert record["badges"] == '["x"]'


def test_snapshot_of_job_keeps_only_classifier_fields() -> None:
    snapshot = snapshot_of("job", queued_job(job_description="long text " * 100))

    assert snapshot == {
        "uuid": JOB_UUID,
        "active": 1,
        "status": "Work Order",
        "completion_date": None,
        "queue_uuid": QUEUE_WORKSHOP,
        "queue_expiry_date": "2026-03-10 17:00:00",
        "edit_date": "2026-03-02 14:05:11",
    }


def test_snapshot_of_company_keeps_identity_fields_and_skips_missing() -> None:
    record = company()
    del record["edit_date"]

    assert snapshot_of("Company", record) == {"uuid": COMPANY_UUID, "active": 1}


@pytest.mark.parametrize(
    ("active", "expected"),
    [(1, True), ("1", True), (0, False), ("0", False), (None, True)],
    ids=["int-1", "str-1", "int-0", "str-0", "missing"],
)
def test_is_active_reads_servicem8_flag(active: object, expected: bool) -> None:
    record = {} if active is None else {"active": active}

    assert is_active(record) is expected
