"""SnapshotStore and DedupeStore against moto's DynamoDB, plus a failing fake client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from triggers_testkit import CONNECTION_ID, JOB_UUID, Clock, completed_job, job

from servicem8_connector.triggers import DedupeStore, SnapshotStore, StateUnavailable, snapshot_of

KEY = f"job_completed:{JOB_UUID}:2026-03-03 11:40:27"


def raw_item(table: tuple[Any, str], pk: str, sk: str) -> dict[str, Any] | None:
    client, name = table
    item = client.get_item(TableName=name, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
    return item  # type: ignore[no-any-return]


def test_snapshot_store_round_trip_uses_documented_keys(table: tuple[Any, str]) -> None:
    store = SnapshotStore(*table)
    snapshot = snapshot_of("job", job())

    assert store.put(CONNECTION_ID, "job", JOB_UUID, snapshot) is True

    assert store.get(CONNECTION_ID, "job", JOB_UUID) == snapshot
    item = raw_item(table, f"CONN#{CONNECTION_ID}", f"SNAP#job#{JOB_UUID}")
    assert item is not None
    assert item["edit_date"] == {"S": "2026-03-02 14:05:11"}


def test_snapshot_store_unknown_record_is_none(table: tuple[Any, str]) -> None:
    assert SnapshotStore(*table).get(CONNECTION_ID, "job", JOB_UUID) is None


def test_snapshot_store_out_of_order_put_does_not_go_backwards(table: tuple[Any, str]) -> None:
    store = SnapshotStore(*table)
    newer = snapshot_of("job", completed_job())
    older = snapshot_of("job", job())
    store.put(CONNECTION_ID, "job", JOB_UUID, newer)

    written = store.put(CONNECTION_ID, "job", JOB_UUID, older)

    assert written is False
    assert store.get(CONNECTION_ID, "job", JOB_UUID) == newer


def test_snapshot_store_newer_put_replaces_older(table: tuple[Any, str]) -> None:
    store = SnapshotStore(*table)
    store.put(CONNECTION_ID, "job", JOB_UUID, snapshot_of("job", job()))
    newer = snapshot_of("job", completed_job())

    assert store.put(CONNECTION_ID, "job", JOB_UUID, newer) is True
    assert store.get(CONNECTION_ID, "job", JOB_UUID) == newer


def test_snapshot_store_undated_snapshot_never_replaces_dated(table: tuple[Any, str]) -> None:
    store = SnapshotStore(*table)
    store.put(CONNECTION_ID, "job", JOB_UUID, snapshot_of("job", job()))

    undated = {"uuid": JOB_UUID, "status": "Completed"}

    assert store.put(CONNECTION_ID, "job", JOB_UUID, undated) is False


def test_dedupe_claim_twice_second_loses(table: tuple[Any, str], clock: Clock) -> None:
    store = DedupeStore(*table, now=clock)

    assert store.claim(CONNECTION_ID, KEY) is True
    assert store.claim(CONNECTION_ID, KEY) is False
    item = raw_item(table, f"DEDUPE#{CONNECTION_ID}#{KEY}", "-")
    assert item is not None
    assert item["state"] == {"S": "pending"}
    assert int(item["expires_at"]["N"]) == int(clock.value) + 7 * 24 * 3600


def test_dedupe_stale_pending_claim_is_retaken(table: tuple[Any, str], clock: Clock) -> None:
    store = DedupeStore(*table, now=clock)
    store.claim(CONNECTION_ID, KEY)  # this owner crashes before publishing

    clock.advance(119)
    assert store.claim(CONNECTION_ID, KEY) is False
    clock.advance(2)
    assert store.claim(CONNECTION_ID, KEY) is True


def test_dedupe_published_claim_is_not_retaken_while_live(
    table: tuple[Any, str], clock: Clock
) -> None:
    store = DedupeStore(*table, now=clock)
    store.claim(CONNECTION_ID, KEY)
    store.mark_published(CONNECTION_ID, KEY)

    clock.advance(6 * 24 * 3600)

    assert store.claim(CONNECTION_ID, KEY) is False


def test_dedupe_expired_claim_not_yet_swept_is_retaken(
    table: tuple[Any, str], clock: Clock
) -> None:
    store = DedupeStore(*table, now=clock)
    store.claim(CONNECTION_ID, KEY)
    store.mark_published(CONNECTION_ID, KEY)

    clock.advance(7 * 24 * 3600 + 1)  # past expires_at; DynamoDB TTL has not deleted it

    assert store.claim(CONNECTION_ID, KEY) is True


def test_dedupe_release_frees_pending_claim(table: tuple[Any, str], clock: Clock) -> None:
    store = DedupeStore(*table, now=clock)
    store.claim(CONNECTION_ID, KEY)

    store.release(CONNECTION_ID, KEY)

    assert store.claim(CONNECTION_ID, KEY) is True


def test_dedupe_release_keeps_published_mark(table: tuple[Any, str], clock: Clock) -> None:
    store = DedupeStore(*table, now=clock)
    store.claim(CONNECTION_ID, KEY)
    store.mark_published(CONNECTION_ID, KEY)

    store.release(CONNECTION_ID, KEY)

    assert store.claim(CONNECTION_ID, KEY) is False


def test_dedupe_keys_are_per_connection(table: tuple[Any, str], clock: Clock) -> None:
    store = DedupeStore(*table, now=clock)

    assert store.claim("conn_tnt_alpha", KEY) is True
    assert store.claim("conn_tnt_beta", KEY) is True


class BrokenClient:
    """Every call fails the way a throttled or misconfigured table does."""

    def __init__(self, code: str) -> None:
        self.code = code

    def _fail(self, **_: Any) -> Any:
        error = {"Error": {"Code": self.code, "Message": "conditional request failed"}}
        raise ClientError(error, "PutItem")

    get_item = put_item = update_item = delete_item = _fail


@pytest.mark.parametrize(
    "call",
    [
        lambda: SnapshotStore(BrokenClient("ProvisionedThroughputExceededException"), "t").get(
            CONNECTION_ID, "job", JOB_UUID
        ),
        lambda: SnapshotStore(BrokenClient("ResourceNotFoundException"), "t").put(
            CONNECTION_ID, "job", JOB_UUID, {"uuid": JOB_UUID}
        ),
        lambda: DedupeStore(BrokenClient("ThrottlingException"), "t").claim(CONNECTION_ID, KEY),
        lambda: DedupeStore(BrokenClient("ThrottlingException"), "t").mark_published(
            CONNECTION_ID, KEY
        ),
        lambda: DedupeStore(BrokenClient("InternalServerError"), "t").release(CONNECTION_ID, KEY),
    ],
    ids=["snapshot-get", "snapshot-put", "claim", "mark-published", "release"],
)
def test_state_other_client_errors_become_state_unavailable(call: Any) -> None:
    # The message mentions "conditional" on purpose: only the error code may decide.
    with pytest.raises(StateUnavailable) as raised:
        call()

    assert isinstance(raised.value.__cause__, ClientError)
