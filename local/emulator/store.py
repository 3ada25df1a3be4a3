"""Accounts and their records, with the fields ServiceM8 manages itself (FACTS §2.2, §2.7, §2.9).

Records are kept sparse (only the fields ever written) and merged onto the object's default
shape when read: 50,000 seeded jobs then cost one small dict each, and "which fields are
populated" (needed for creation webhooks) is simply the stored keys.
"""

from __future__ import annotations

import copy
import threading
import uuid as uuid_lib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from local.emulator.config import OBJECT_DISPLAY_NAMES, ZERO_DATETIME
from local.emulator.fields import DEFAULTS, is_populated

Record = dict[str, object]

# Job status -> the stamp ServiceM8 sets when a job enters that status (§2.9).
STATUS_STAMPS = {
    "Quote": "quote_date",
    "Work Order": "work_order_date",
    "Completed": "completion_date",
    "Unsuccessful": "unsuccessful_date",
}
# Job flag -> stamp set when the flag goes 0 -> 1.
FLAG_STAMPS = {
    "invoice_sent": "invoice_sent_stamp",
    "quote_sent": "quote_sent_stamp",
    "payment_processed": "payment_processed_stamp",
    "payment_received": "payment_received_stamp",
}


@lru_cache(maxsize=64)
def zone_for(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_local(epoch: float, timezone_name: str) -> str:
    return datetime.fromtimestamp(epoch, zone_for(timezone_name)).strftime("%Y-%m-%d %H:%M:%S")


def format_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Table:
    """Records of one object type in insertion order; records are never removed (soft delete)."""

    def __init__(self, object_name: str) -> None:
        self.object_name = object_name
        self.defaults = DEFAULTS[object_name]
        self.rows: dict[str, Record] = {}
        self.order: list[str] = []
        self.position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.order)

    def insert(self, sparse: Record) -> None:
        record_uuid = str(sparse["uuid"])
        self.position[record_uuid] = len(self.order)
        self.order.append(record_uuid)
        self.rows[record_uuid] = sparse

    def full(self, sparse: Record) -> Record:
        return {**self.defaults, **sparse}

    def get(self, record_uuid: str) -> Record | None:
        sparse = self.rows.get(record_uuid)
        return None if sparse is None else copy.deepcopy(self.full(sparse))

    def sparse_from(self, start: int) -> Iterator[Record]:
        rows, order = self.rows, self.order
        for index in range(start, len(order)):
            yield rows[order[index]]


@dataclass
class Account:
    uuid: str
    tables: dict[str, Table] = field(default_factory=dict)
    unpaid: bool = False
    next_job_number: int = 1

    @property
    def vendor(self) -> Record:
        return self.tables["vendor"].rows[self.uuid]

    @property
    def name(self) -> str:
        return str(self.vendor.get("name", ""))

    @property
    def timezone_name(self) -> str:
        return str(self.vendor.get("timezone_name") or "Australia/Brisbane")


@dataclass
class Change:
    """One record write, as webhooks see it."""

    account_uuid: str
    object_name: str
    uuid: str
    created: bool
    changed_fields: list[str]
    before: Record | None
    after: Record
    epoch: float


class Store:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}

    def add_account(self, account_uuid: str, name: str, timezone_name: str) -> Account:
        zone_for(timezone_name)  # fail early on a bad zone name
        with self.lock:
            account = Account(account_uuid)
            account.tables = {name_: Table(name_) for name_ in OBJECT_DISPLAY_NAMES}
            vendor: Record = {
                "uuid": account_uuid,
                "name": name,
                "timezone_name": timezone_name,
                "currency": "AUD",
                "default_region": "AU",
                "job_default_status": "Quote",
                "active": 1,
                "edit_date": format_local(self.clock(), timezone_name),
            }
            account.tables["vendor"].insert(vendor)
            self.accounts[account_uuid] = account
            return account

    def account(self, account_uuid: str) -> Account:
        try:
            return self.accounts[account_uuid]
        except KeyError:
            raise KeyError(f"unknown account {account_uuid}") from None

    def table(self, account_uuid: str, object_name: str) -> Table:
        return self.account(account_uuid).tables[object_name]

    def write(
        self, account_uuid: str, object_name: str, values: Record, record_uuid: str | None
    ) -> Change | None:
        """Create (unknown or absent uuid) or update; None when an update changed nothing."""
        with self.lock:
            account = self.account(account_uuid)
            table = account.tables[object_name]
            epoch = self.clock()
            now_local = format_local(epoch, account.timezone_name)
            if record_uuid is not None and record_uuid in table.rows:
                return self._update(account, table, record_uuid, values, epoch, now_local)
            return self._create(account, table, record_uuid, values, epoch, now_local)

    def _create(
        self,
        account: Account,
        table: Table,
        record_uuid: str | None,
        values: Record,
        epoch: float,
        now_local: str,
    ) -> Change:
        sparse: Record = {"uuid": record_uuid or str(uuid_lib.uuid4()), "active": 1}
        sparse.update(values)
        sparse.setdefault("edit_date", now_local)
        if table.object_name == "job":
            sparse.setdefault("generated_job_id", str(account.next_job_number))
            account.next_job_number += 1
            sparse.setdefault("date", now_local[:10])
            stamp = STATUS_STAMPS.get(str(sparse.get("status")))
            if stamp and sparse.get(stamp) in (None, ZERO_DATETIME):
                sparse[stamp] = now_local
            _stamp_flags(None, sparse, now_local)
        elif table.object_name == "formresponse":
            # §3.1: formresponse.timestamp is UTC, unlike every other date.
            sparse.setdefault("timestamp", format_utc(epoch))
        table.insert(sparse)
        after = table.full(sparse)
        populated = [
            name for name, value in after.items() if is_populated(table.object_name, name, value)
        ]
        return Change(
            account.uuid,
            table.object_name,
            str(sparse["uuid"]),
            True,
            populated,
            None,
            after,
            epoch,
        )

    def _update(
        self,
        account: Account,
        table: Table,
        record_uuid: str,
        values: Record,
        epoch: float,
        now_local: str,
    ) -> Change | None:
        sparse = table.rows[record_uuid]
        before = table.full(sparse)
        updated = {**sparse, **values}
        if table.object_name == "job":
            status = updated.get("status")
            stamp = STATUS_STAMPS.get(str(status))
            if stamp and status != before.get("status") and stamp not in values:
                updated[stamp] = now_local
            _stamp_flags(before, updated, now_local, explicit=values)
        after = table.full(updated)
        changed = [name for name, value in after.items() if before.get(name) != value]
        if not changed:
            return None
        if "edit_date" not in values:
            updated["edit_date"] = now_local
            after["edit_date"] = now_local
            if "edit_date" not in changed and before.get("edit_date") != now_local:
                changed.append("edit_date")
        sparse.clear()
        sparse.update(updated)
        return Change(
            account.uuid, table.object_name, record_uuid, False, changed, before, after, epoch
        )


def _stamp_flags(
    before: Record | None, updated: Record, now_local: str, explicit: Record | None = None
) -> None:
    for flag, stamp in FLAG_STAMPS.items():
        was = 0 if before is None else before.get(flag, 0)
        rising = updated.get(flag) == 1 and was != 1 and stamp not in (explicit or {})
        # On create an explicit stamp wins; on update the flag rising always restamps.
        if rising and (before is not None or updated.get(stamp) in (None, ZERO_DATETIME)):
            updated[stamp] = now_local
