"""One SQS batch of deliveries, classified one by one and published together.

Each delivery is *staged*: its records are classified against their snapshots and the
occurrences claimed, but nothing is published yet. :meth:`DeliveryBatch.finish` then puts
every claimed event of the batch on the bus in as few PutEvents calls as fit (ten
entries a call), marks or releases each claim, and only then stores snapshots.

Two deliveries of one batch may be about the same record. The later one is classified
against the snapshot the earlier one staged, as if they had run one after the other,
and so it depends on it: if the earlier one fails, the later one stores nothing and
fails too, or its snapshot would move past an edge that never went out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servicem8_connector.connections import Connection
from servicem8_connector.publishing import EventPublisher, PublishError, TriggerEvent
from servicem8_connector.triggers import DedupeStore, Occurrence, SnapshotStore

RecordKey = tuple[str, str, str]  # connection id, object name, record uuid (lower case)


class ClaimHeld(Exception):
    """Another attempt claimed an occurrence and has not published it: retry the delivery."""


class DependencyFailed(Exception):
    """An earlier delivery of the batch, about the same record, failed: retry this one."""


@dataclass
class Outcome:
    """What one delivery led to; the handler turns these into metrics."""

    published: int = 0
    duplicates: int = 0
    parked: str | None = None
    dropped: str | None = None
    fetches: int = 0
    coalesced: int = 0
    detail_types: list[str] = field(default_factory=list)


@dataclass
class _Claim:
    connection_id: str
    dedupe_key: str
    event: TriggerEvent


@dataclass
class _Staged:
    """One delivery between its claims and its snapshot writes."""

    outcome: Outcome = field(default_factory=Outcome)
    claims: list[_Claim] = field(default_factory=list)
    snapshots: list[tuple[RecordKey, dict[str, Any]]] = field(default_factory=list)
    after_snapshots: list[Callable[[], None]] = field(default_factory=list)
    depends_on: list[_Staged] = field(default_factory=list)
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchResult:
    """Per delivery key: what it led to, and why it must be retried (if it must)."""

    outcomes: dict[str, Outcome]
    failures: dict[str, BaseException]
    put_events_calls: int = 0


class DeliveryBatch:
    """Stages deliveries, then publishes them in one go; see the module docstring."""

    def __init__(
        self,
        *,
        snapshots: SnapshotStore,
        dedupe: DedupeStore,
        publisher: EventPublisher,
        published: Callable[[str, str], bool],
    ) -> None:
        self._snapshots = snapshots
        self._dedupe = dedupe
        self._publisher = publisher
        self._published = published
        self._staged: dict[str, _Staged] = {}
        # The snapshot each record would have after the deliveries staged so far.
        self._overlay: dict[RecordKey, tuple[dict[str, Any], _Staged]] = {}
        self._fetches: dict[tuple[str, str], tuple[float, str]] = {}
        self._claimed_here: dict[tuple[str, str], _Staged] = {}
        self._stored: dict[RecordKey, dict[str, Any] | None] = {}

    def _of(self, key: str) -> _Staged:
        return self._staged.setdefault(key, _Staged())

    def outcome(self, key: str) -> Outcome:
        """The outcome of delivery ``key``, started on first use."""
        return self._of(key).outcome

    def failed(self, key: str, error: BaseException) -> None:
        """Staging ``key`` stopped at ``error``: publish its claims, store nothing."""
        self._of(key).error = error

    def previous(self, key: str, record: RecordKey) -> dict[str, Any] | None:
        """The snapshot to classify against, seen through this batch's staged writes."""
        staged = self._of(key)
        if record in self._overlay:
            snapshot, writer = self._overlay[record]
            if writer is not staged:
                staged.depends_on.append(writer)
            return snapshot
        if record not in self._stored:  # read once a batch, however many deliveries ask
            self._stored[record] = self._snapshots.get(*record)
        return self._stored[record]

    def claim(
        self, key: str, connection: Connection, events: list[tuple[Occurrence, TriggerEvent]]
    ) -> None:
        """Claim each occurrence for this delivery; raises ClaimHeld if another holds one."""
        staged = self._of(key)
        held = 0
        for occurrence, event in events:
            claim_key = (connection.connection_id, occurrence.dedupe_key)
            if claim_key in self._claimed_here:
                # An earlier delivery of this batch holds it: a duplicate, if that one lands.
                owner = self._claimed_here[claim_key]
                if owner is not staged:
                    staged.depends_on.append(owner)
                staged.outcome.duplicates += 1
            elif self._dedupe.claim(*claim_key):
                staged.claims.append(_Claim(*claim_key, event))
                self._claimed_here[claim_key] = staged
            elif self._published(*claim_key):
                staged.outcome.duplicates += 1
            else:
                held += 1
        if held:
            # The holder may have died before PutEvents: storing the snapshot now would
            # hide the edge from its retry. Come back once it is published or stale.
            raise ClaimHeld(f"{held} occurrence(s) claimed elsewhere, not yet published")

    def stage_snapshot(self, key: str, record: RecordKey, snapshot: dict[str, Any]) -> None:
        staged = self._of(key)
        staged.snapshots.append((record, snapshot))
        # Like the store, the batch's view never moves back in edit_date.
        if record in self._overlay and _older(snapshot, self._overlay[record][0]):
            return
        self._overlay[record] = (snapshot, staged)

    def after_snapshots(self, key: str, action: Callable[[], None]) -> None:
        """Run ``action`` once the delivery's snapshots are stored (fetch marks)."""
        self._of(key).after_snapshots.append(action)

    def note_fetch(self, key: str, connection_id: str, uuid: str, started: float) -> None:
        self._fetches[(connection_id, uuid.lower())] = (started, key)

    def fetch_started(self, connection_id: str, uuid: str) -> float | None:
        """When a fetch of this record began earlier in this batch, if the delivery that
        made it has not failed and staged the record's snapshot."""
        found = self._fetches.get((connection_id, uuid.lower()))
        if found is None:
            return None
        started, key = found
        owner = self._staged.get(key)
        if owner is None or owner.error is not None:
            return None
        staged = any(record[0] == connection_id and record[2] == uuid.lower()
                     for record, _ in owner.snapshots)
        return started if staged else None

    def finish(self) -> BatchResult:
        """Publish every claimed event, settle each claim, then store snapshots in order."""
        claims = [claim for staged in self._staged.values() for claim in staged.claims]
        failed_keys: set[str] = set()
        calls = 0
        publish_error: PublishError | None = None
        if claims:
            try:
                calls = self._publisher.publish([claim.event for claim in claims]).calls
            except PublishError as rejected:
                publish_error, calls = rejected, rejected.result.calls
                failed_keys = {failure.idempotency_key for failure in rejected.failures}
            # A crash before here leaves every claim pending: retries wait out the stale
            # claim window rather than publish twice.
        failures: dict[str, BaseException] = {}
        for key, staged in self._staged.items():
            error = self._settle(staged, failed_keys, publish_error)
            if error is not None:
                staged.error = error
                failures[key] = error
        return BatchResult(outcomes={key: s.outcome for key, s in self._staged.items()},
                           failures=failures, put_events_calls=calls)

    def _settle(
        self, staged: _Staged, failed_keys: set[str], publish_error: PublishError | None
    ) -> BaseException | None:
        error = staged.error
        for claim in staged.claims:  # each settled on its own: one failed write stops none
            try:
                if claim.event.idempotency_key in failed_keys:
                    self._dedupe.release(claim.connection_id, claim.dedupe_key)
                    error = error or publish_error
                else:
                    self._dedupe.mark_published(claim.connection_id, claim.dedupe_key)
                    staged.outcome.published += 1
                    staged.outcome.detail_types.append(claim.event.detail_type)
            except Exception as exc:  # the claim stays pending; its retry waits it out
                error = error or exc
        try:
            if error is None and any(d.error is not None for d in staged.depends_on):
                error = DependencyFailed("an earlier delivery about the same record failed")
            if error is None:
                for (connection_id, object_name, uuid), snapshot in staged.snapshots:
                    self._snapshots.put(connection_id, object_name, uuid, snapshot)
                for action in staged.after_snapshots:
                    action()
        except Exception as exc:  # this delivery is retried; the rest of the batch goes on
            error = error or exc
        return error


def _older(snapshot: dict[str, Any], than: dict[str, Any]) -> bool:
    new, old = snapshot.get("edit_date"), than.get("edit_date")
    return isinstance(new, str) and isinstance(old, str) and new < old
