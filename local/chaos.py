"""`make chaos`: webhook deliveries through the local stack while its parts fail.

Two accounts, one on event webhooks (records in the body) and one on object webhooks
(records fetched back), each get clients created and jobs created, queued and completed,
phase by phase, while:

* ServiceM8 answers a share of API calls with 429, 500, 502 or 503;
* PutEvents rejects a share of entries (``FailedEntryCount``) or throttles a whole call;
* the processor dies mid-batch, between records or between two of its writes: what it
  did stays done, and the whole batch comes back after the visibility timeout;
* ServiceM8 sends deliveries twice and out of order.

Every fault is transient, so the subscriber queue must hold each expected trigger exactly
once and no DLQ anything. The faults are patched onto the running stack (the processor's
collaborators, the processor handler's module, the emulator's switches); production code
has no test hooks. The visibility timeout and the stale-claim age are scaled down together
(8 s and 4 s, as 180 s and 120 s in the template), so retries come within the run.

Then :mod:`bench.ratebudget` sends 1,000 deliveries for one account within a minute.

``--interleaved`` makes each job's three changes at once instead of a phase at a time:
a record that moves on before its notification is processed shows what the classifier
can and cannot see from a later state.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from local.demo import Connected, connect
from local.environment import ROOT, LocalEnvironment, LocalOptions

LOG_FILE = ROOT / ".local" / "chaos-handler-logs.jsonl"
PROCESSOR = "ProcessorFunction"
# The runner imports each handler as this module (local/runner/handlers.py).
PROCESSOR_MODULE = f"sam_fn_{PROCESSOR}"
JOB_TRIGGERS = ("New Job", "Job Queued", "Job Completed")
CLIENT_TRIGGER = "New Client"


@dataclass(frozen=True)
class ChaosPlan:
    """How much traffic, and how often each part fails."""

    jobs: int = 30  # per account: created, queued, completed (three deliveries each)
    clients: int = 10  # per account: one delivery each
    servicem8_failure_rate: float = 0.1  # share of API calls answered 429/5xx
    putevents_failure_rate: float = 0.2  # share of PutEvents calls that reject entries
    crash_rate: float = 0.2  # share of processor invocations that die part-way
    duplicate_share: float = 0.2  # share of deliveries ServiceM8 sends twice
    reorder: bool = True
    # Dying after PutEvents took an event but before its claim is marked published is the
    # one window where at-least-once is the best anyone can do: the retry cannot know the
    # event went out. Off by default; on, each such crash may duplicate that record's events.
    crash_in_publish_window: bool = False
    interleaved: bool = False  # all changes at once instead of phase by phase
    visibility_timeout: int = 8
    stale_claim_seconds: float = 4.0
    seed: int = 7
    phase_timeout: float = 120.0

    @property
    def deliveries_per_account(self) -> int:
        return 3 * self.jobs + self.clients


# --- faults ---------------------------------------------------------------------------


class ProcessorCrash(Exception):
    """The processor's execution environment died here (injected by local.chaos)."""


@dataclass
class FaultCounts:
    servicem8: Counter[int] = field(default_factory=Counter)
    rejected_entries: int = 0
    throttled_calls: int = 0
    crashes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        codes = ", ".join(f"{n}x{code}" for code, n in sorted(self.servicem8.items()))
        where = ", ".join(f"{n} {step}" for step, n in sorted(self.crashes.items()))
        return (f"ServiceM8 {codes or 'none'}; PutEvents {self.rejected_entries} entries "
                f"rejected, {self.throttled_calls} calls throttled; processor crashes: "
                f"{sum(self.crashes.values())} ({where or 'none'})")


class FlakyEvents:
    """An EventBridge client that fails the way PutEvents does, then forwards the rest."""

    def __init__(self, client: Any, rate: float, rng: random.Random, counts: FaultCounts):
        self._client = client
        self._rate = rate
        self._rng = rng
        self._counts = counts
        self._lock = threading.Lock()

    def put_events(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        entries = kwargs["Entries"]
        with self._lock:
            failing = self._rng.random() < self._rate
            throttle = failing and self._rng.random() < 0.25
            rejected = {i for i in range(len(entries)) if self._rng.random() < 0.5} or {0}
        if not failing:
            return self._client.put_events(**kwargs)
        if throttle:
            self._counts.throttled_calls += 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "PutEvents")
        self._counts.rejected_entries += len(rejected)
        passed = [entry for i, entry in enumerate(entries) if i not in rejected]
        answer = self._client.put_events(**{**kwargs, "Entries": passed}) if passed else {}
        results = iter(answer.get("Entries", []))
        failure = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected by local.chaos"}
        merged = [failure if i in rejected else next(results) for i in range(len(entries))]
        failed = sum(1 for result in merged if result.get("ErrorCode"))
        return {"FailedEntryCount": failed, "Entries": merged}


class CrashSwitch:
    """Picks the invocations that die and the write they die before; dead stays dead."""

    # Each record is staged and its snapshot stored; the batch publishes once, in between.
    STEPS_PER_RECORD = 2
    STEPS_PER_BATCH = 1

    def __init__(self, rate: float, rng: random.Random, counts: FaultCounts) -> None:
        self._rate = rate
        self._rng = rng
        self._counts = counts
        self._local = threading.local()
        self._lock = threading.Lock()

    def arm(self, records: int) -> None:
        """At the start of an invocation: maybe die at one of its steps."""
        with self._lock:
            dies = self._rng.random() < self._rate
            steps = self.STEPS_PER_RECORD * max(1, records) + self.STEPS_PER_BATCH
            countdown = self._rng.randint(1, steps) if dies else None
        self._local.countdown = countdown
        self._local.dead = False

    def disarm(self) -> bool:
        """At the end of an invocation: whether it died."""
        died = bool(getattr(self._local, "dead", False))
        self._local.countdown = None
        self._local.dead = False
        return died

    def step(self, name: str) -> None:
        if getattr(self._local, "dead", False):
            raise ProcessorCrash("the environment is gone")
        countdown = getattr(self._local, "countdown", None)
        if countdown is None:
            return
        self._local.countdown = countdown - 1
        if countdown == 1:
            self._local.dead = True
            self._counts.crashes[name] += 1
            raise ProcessorCrash(name)

    def wrap(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        def crashing(*args: Any, **kwargs: Any) -> Any:
            self.step(name)
            return function(*args, **kwargs)

        return crashing


@dataclass
class InstalledFaults:
    counts: FaultCounts
    undo: list[Callable[[], None]]

    def remove(self) -> None:
        for action in reversed(self.undo):
            action()
        self.undo.clear()


def processor_module(env: LocalEnvironment) -> Any:
    """The processor handler's module, imported (cold start) if nothing invoked it yet."""
    from local.runner.pollers import sqs_record

    assert env.stack is not None
    if PROCESSOR_MODULE not in sys.modules:  # a delivery for no connection: dropped
        body = json.dumps({"connection_id": "con_warm_up", "received_at": 0.0, "body": "{}"})
        message = {"MessageId": "warm-up", "ReceiptHandle": "warm-up", "Body": body}
        queue_arn = env.stack.attribute("DeliveryQueue", "Arn")
        env.stack.invoke(PROCESSOR, {"Records": [sqs_record(message, queue_arn, False)]})
    return sys.modules[PROCESSOR_MODULE]


def set_timings(env: LocalEnvironment, plan: ChaosPlan) -> Callable[[], None]:
    """Scale the retry timings down, keeping visibility timeout > stale-claim age."""
    from servicem8_connector.triggers import state

    assert env.stack is not None and plan.stale_claim_seconds < plan.visibility_timeout
    env.stack.client("sqs").set_queue_attributes(
        QueueUrl=env.stack.physical_id("DeliveryQueue"),
        Attributes={"VisibilityTimeout": str(plan.visibility_timeout)},
    )
    stale = state.STALE_CLAIM_SECONDS
    state.STALE_CLAIM_SECONDS = plan.stale_claim_seconds
    # A receive already waiting (long poll, up to 1 s) still hands out the old timeout.
    time.sleep(1.2)

    def restore() -> None:
        state.STALE_CLAIM_SECONDS = stale

    return restore


def install_faults(env: LocalEnvironment, plan: ChaosPlan) -> InstalledFaults:
    """Patch every fault onto the running stack; ``remove()`` takes them off again."""
    from servicem8_connector import runtime

    assert env.emulator is not None
    rng = random.Random(plan.seed)
    counts = FaultCounts()
    undo: list[Callable[[], None]] = [set_timings(env, plan)]
    processor_module(env)  # imported, so its runtime wiring exists to patch
    processor = runtime.processor()
    publisher = processor._publisher

    publisher._client = FlakyEvents(publisher._client, plan.putevents_failure_rate, rng, counts)
    undo.append(lambda: setattr(publisher, "_client", publisher._client._client))

    switch = CrashSwitch(plan.crash_rate, rng, counts)
    steps = [(processor, "stage", "between records"),
             (publisher, "publish", "before PutEvents"),
             (processor._snapshots, "put", "before the snapshot")]
    if plan.crash_in_publish_window:
        steps.append((processor._dedupe, "mark_published", "after PutEvents, before the mark"))
    for owner, name, step in steps:
        setattr(owner, name, switch.wrap(getattr(owner, name), step))
        undo.append(lambda owner=owner, name=name: delattr(owner, name))

    function = env.stack.function_runtime(PROCESSOR)
    invoke = function.invoke

    def dying_invocation(event: Any) -> Any:
        switch.arm(len((event or {}).get("Records", [])))
        try:
            result = invoke(event)
        finally:
            died = switch.disarm()
        if died:  # a dead environment reports nothing: the whole batch comes back
            raise ProcessorCrash("invocation died mid-batch")
        return result

    function.invoke = dying_invocation  # type: ignore[method-assign]
    undo.append(lambda: delattr(function, "invoke"))

    faults = env.emulator.faults
    take_fail = faults.take_fail

    def flaky_servicem8() -> int | None:
        queued = take_fail()
        if queued is not None or rng.random() >= plan.servicem8_failure_rate:
            return queued
        status = rng.choice((429, 429, 500, 502, 503))
        counts.servicem8[status] += 1
        return status

    faults.take_fail = flaky_servicem8  # type: ignore[method-assign]
    undo.append(lambda: delattr(faults, "take_fail"))
    faults.update({"reorder_deliveries": plan.reorder})
    undo.append(lambda: faults.update({"reorder_deliveries": False, "duplicate_deliveries": 0}))
    return InstalledFaults(counts, undo)


# --- accounts, traffic and what the subscriber got ---------------------------------------


@dataclass
class Account:
    label: str
    account_uuid: str
    connected: Connected
    callback_url: str = ""
    expected: set[tuple[str, str]] = field(default_factory=set)  # (record uuid, detail-type)


def connect_account(env: LocalEnvironment, label: str, *, event_webhooks: bool) -> Account:
    """A fresh emulator account, connected; object webhooks when events are refused."""
    assert env.emulator is not None
    emulator = env.emulator
    emulator.default_account_uuid = emulator.add_account(name=f"Chaos {label}")
    emulator.faults.update({"event_webhooks_enabled": event_webhooks})
    try:
        with httpx.Client(timeout=30) as browser:
            connected = connect(env, browser, quiet=True)
    finally:
        emulator.faults.update({"event_webhooks_enabled": True})
    account = Account(label, emulator.default_account_uuid, connected)
    for subscription in emulator.state()["subscriptions"]:  # type: ignore[union-attr]
        if connected.connection_id in str(subscription.get("unique_id")):
            account.callback_url = str(subscription["callback_url"])
    return account


def phases(env: LocalEnvironment, account: Account, plan: ChaosPlan) -> list[Callable[[], None]]:
    """The account's changes in three steps: create, put jobs in a queue, complete them."""
    assert env.emulator is not None
    emulator = env.emulator
    jobs: list[str] = []

    def create() -> None:
        for _ in range(plan.clients):
            client = emulator.put_record(account.account_uuid, "company", {"name": "Client"})
            account.expected.add((str(client["uuid"]), CLIENT_TRIGGER))
        for _ in range(plan.jobs):
            job = emulator.put_record(account.account_uuid, "job", {"status": "Quote"})
            jobs.append(str(job["uuid"]))
            account.expected.update((str(job["uuid"]), kind) for kind in JOB_TRIGGERS)

    def queue() -> None:
        queue = emulator.put_record(account.account_uuid, "queue", {"name": "Parts"},
                                    notify=False)
        for uuid in jobs:
            emulator.put_record(account.account_uuid, "job",
                                {"uuid": uuid, "queue_uuid": queue["uuid"]})

    def complete() -> None:
        for uuid in jobs:
            emulator.put_record(account.account_uuid, "job",
                                {"uuid": uuid, "status": "Completed"})

    return [create, queue, complete]


def drive(env: LocalEnvironment, accounts: list[Account], plan: ChaosPlan) -> None:
    """Make the changes; phase by phase (each drained) unless the plan interleaves them."""
    assert env.emulator is not None
    steps = [phases(env, account, plan) for account in accounts]
    sizes = (plan.clients + plan.jobs, plan.jobs, plan.jobs)
    for index in range(3):
        for account_steps in steps:
            # "The next n deliveries": set per step, so every account gets its share.
            twice = round(sizes[index] * plan.duplicate_share)
            env.emulator.faults.update({"duplicate_deliveries": twice})
            account_steps[index]()
        if not plan.interleaved:
            env.drain(timeout=plan.phase_timeout)
    env.drain(timeout=plan.phase_timeout)


def read_queue(env: LocalEnvironment, logical_id: str) -> list[dict[str, Any]]:
    """Every message on one of the stack's queues, deleted as it is read."""
    assert env.stack is not None
    sqs = env.stack.client("sqs")
    url = env.stack.physical_id(logical_id)
    bodies: list[dict[str, Any]] = []
    empty = 0
    while empty < 2:  # bounded: a drained stack adds nothing
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                     AttributeNames=["All"])
        messages = answer.get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            body = json.loads(message["Body"])
            body["_sent_ms"] = int(message.get("Attributes", {}).get("SentTimestamp", 0))
            bodies.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def queue_depth(env: LocalEnvironment, logical_id: str) -> int:
    assert env.stack is not None
    attributes = env.stack.client("sqs").get_queue_attributes(
        QueueUrl=env.stack.physical_id(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def redrive_dead_letters(env: LocalEnvironment, dlq: str = "DeliveryDLQ",
                         queue: str = "DeliveryQueue", limit: int = 10_000) -> int:
    """Move every message of ``dlq`` back onto ``queue``, as a console redrive does.

    On AWS, ``aws sqs start-message-move-task --source-arn <DLQ arn>`` does the same
    (docs/operations.md); moto lacks that call, so the local stack moves them by hand:
    send a copy, then delete the original, so a crash in between duplicates a delivery
    (which the processor's claims absorb) and never loses one.
    """
    assert env.stack is not None
    sqs = env.stack.client("sqs")
    source, target = env.stack.physical_id(dlq), env.stack.physical_id(queue)
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def replay_archive(env: LocalEnvironment, since: float, until: float, name: str) -> str:
    """Replay the trigger bus's archive between two epoch times onto the bus again."""
    assert env.stack is not None
    events = env.stack.client("events")
    answer = events.start_replay(
        ReplayName=name,
        EventSourceArn=env.stack.attribute("TriggerArchive", "Arn"),
        EventStartTime=since, EventEndTime=until,
        Destination={"Arn": env.stack.attribute("TriggerBus", "Arn")},
    )
    return str(answer["State"])


@dataclass
class Tally:
    """What one account's subscriber saw against what was expected."""

    label: str
    expected: int
    received: int = 0  # deliveries our receiver accepted, ServiceM8's duplicates included
    published: int = 0  # expected triggers on the subscriber queue
    duplicated: int = 0  # events beyond the first with one idempotency key
    unexpected: int = 0
    missing: list[str] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)  # idempotency keys seen more than once


def tally(env: LocalEnvironment, accounts: list[Account],
          events: list[dict[str, Any]]) -> list[Tally]:
    assert env.emulator is not None
    deliveries = env.emulator.deliveries
    tallies = []
    for account in accounts:
        mine = [e for e in events
                if e["detail"].get("connection_id") == account.connected.connection_id]
        keys = Counter(e["detail"]["idempotency_key"] for e in mine)
        got = {(e["detail"]["record_uuid"], e["detail-type"]) for e in mine}
        result = Tally(account.label, len(account.expected))
        result.received = sum(1 for d in deliveries
                              if d["url"] == account.callback_url and d["ok"])
        result.published = len(got & account.expected)
        result.duplicated = sum(n - 1 for n in keys.values())
        result.twice = sorted(key for key, n in keys.items() if n > 1)
        result.unexpected = len(got - account.expected)
        result.missing = sorted(f"{kind} {uuid}" for uuid, kind in account.expected - got)
        tallies.append(result)
    return tallies


@dataclass
class ChaosReport:
    accounts: list[Account]
    tallies: list[Tally]
    delivery_dlq: int
    subscriber_dlq: int
    faults: FaultCounts
    seconds: float

    @property
    def ok(self) -> bool:
        return self.delivery_dlq == 0 and self.subscriber_dlq == 0 and all(
            t.published == t.expected and t.duplicated == 0 and t.unexpected == 0
            for t in self.tallies
        )

    def lines(self) -> list[str]:
        labels = [t.label for t in self.tallies]
        rows = [("expected", [t.expected for t in self.tallies]),
                ("received", [t.received for t in self.tallies]),
                ("published", [t.published for t in self.tallies]),
                ("duplicated", [t.duplicated for t in self.tallies]),
                ("unexpected", [t.unexpected for t in self.tallies])]
        out = [f"{'':<12}" + "".join(f"{label:>18}" for label in labels) + f"{'total':>10}"]
        out += [f"{name:<12}" + "".join(f"{v:>18}" for v in values) + f"{sum(values):>10}"
                for name, values in rows]
        out.append(f"{'in DLQ':<12}deliveries {self.delivery_dlq}, "
                   f"subscriber {self.subscriber_dlq}")
        out.append(f"faults      {self.faults.summary()}")
        for t in self.tallies:
            out += [f"missing     {t.label}: {m}" for m in t.missing[:10]]
            out += [f"twice       {t.label}: {key}" for key in t.twice[:10]]
        verdict = "OK: every trigger once, nothing in a DLQ" if self.ok else "FAILED"
        out.append(f"{verdict} ({self.seconds:.0f} s)")
        return out


def run(env: LocalEnvironment, plan: ChaosPlan) -> ChaosReport:
    """One chaos run on a started environment (accounts of its own)."""
    started = time.monotonic()
    accounts = [connect_account(env, "event webhooks", event_webhooks=True),
                connect_account(env, "object webhooks", event_webhooks=False)]
    env.drain()
    faults = install_faults(env, plan)
    try:
        drive(env, accounts, plan)
    finally:
        faults.remove()
    events = read_queue(env, "SubscriberQueue")
    return ChaosReport(
        accounts=accounts,
        tallies=tally(env, accounts, events),
        delivery_dlq=queue_depth(env, "DeliveryDLQ"),
        subscriber_dlq=queue_depth(env, "SubscriberDLQ"),
        faults=faults.counts,
        seconds=time.monotonic() - started,
    )


def chaos_options() -> LocalOptions:
    # ServiceM8 retries a failed delivery after 1, 5, 30 s; sooner here, as a run is short.
    return LocalOptions(auto_approve=True,
                        emulator_config={"delivery_retry_delays": (0.5, 1.0, 2.0)})


@contextmanager
def handler_logs_to_file(path: Path = LOG_FILE) -> Iterator[Any]:
    """The handlers' JSON logs (stdout) and crash tracebacks (stderr) go to ``path``."""
    out = sys.stdout
    path.parent.mkdir(exist_ok=True)
    with path.open("w") as logs:
        sys.stdout = sys.stderr = logs
        try:
            yield out
        finally:
            sys.stdout, sys.stderr = out, sys.__stderr__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=ChaosPlan.jobs)
    parser.add_argument("--clients", type=int, default=ChaosPlan.clients)
    parser.add_argument("--seed", type=int, default=ChaosPlan.seed)
    parser.add_argument("--interleaved", action="store_true",
                        help="make all changes at once instead of phase by phase")
    parser.add_argument("--crash-in-publish-window", action="store_true",
                        help="also die between PutEvents and the published mark")
    parser.add_argument("--skip-rate-budget", action="store_true",
                        help="only the fault run, not the rate-budget load check")
    args = parser.parse_args(argv)
    layer = str(ROOT / "layers" / "connector")  # patched below, so imported from here too
    if layer not in sys.path:
        sys.path.insert(0, layer)
    plan = ChaosPlan(jobs=args.jobs, clients=args.clients, seed=args.seed,
                     interleaved=args.interleaved,
                     crash_in_publish_window=args.crash_in_publish_window)
    print(f"1. Faults: 2 accounts x {plan.deliveries_per_account} deliveries "
          f"(handler logs: {LOG_FILE.relative_to(ROOT)})", flush=True)
    with handler_logs_to_file() as out, LocalEnvironment(chaos_options()) as env:
        report = run(env, plan)
        for line in report.lines():
            print(f"   {line}", file=out, flush=True)
        load_ok = True
        if not args.skip_rate_budget:
            from bench.ratebudget import LoadPlan
            from bench.ratebudget import run as run_load

            load = LoadPlan()
            print(f"\n2. Rate budget: {load.jobs * load.notifications_per_job} deliveries "
                  "for one account within a minute, another account beside it", file=out,
                  flush=True)
            budget = run_load(env, load)
            for line in budget.lines():
                print(f"   {line}", file=out)
            load_ok = budget.ok
    return 0 if report.ok and load_ok else 1


if __name__ == "__main__":
    sys.exit(main())
