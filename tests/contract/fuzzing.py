"""Schema-guided fuzzing of the HTTP API against the real handlers on the local stack.

schemathesis generates requests from ``openapi.json`` (valid ones and ones that
break the schema); each request is aimed at a real connection most of the time
(its id in the path, its API key in ``Authorization``, and often the uuid of a
record it created) so it gets past authentication into the handlers and on to
the ServiceM8 emulator. The answers must never be 5xx, every 4xx must be an
RFC 9457 problem, and every answer must match the contract.

Requests are spread over several connected accounts: each account's ServiceM8
budget is 25 calls per 10 s, and one account alone would make the fuzz wait.

``make fuzz`` runs 10,000 cases (``python -m tests.contract.fuzzing --cases N``);
``tests/contract/test_fuzz_contract.py`` runs a few hundred in CI.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import secrets
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation

from local.demo import Connected
from local.environment import ROOT, LocalEnvironment, LocalOptions

SPEC = ROOT / "openapi.json"
LOG_FILE = ROOT / ".local" / "fuzz-handler-logs.jsonl"
PROBLEM_TYPE = "application/problem+json"
PROBLEM_FIELDS: dict[str, type] = {"type": str, "title": str, "status": int, "detail": str}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Share of the cases each kind of request gets (the rest are as generated).
REAL_CONNECTION = 0.8
REAL_RECORD = 0.7
VALID_KEY = 0.85
POSITIVE_SHARE = 0.6
# Each successful disconnect costs a fresh connection: fewer cases for that route.
OPERATION_WEIGHT = {"DELETE /connections/{connection_id}": 0.2}
MAX_FAILURES_SHOWN = 25
MAX_PASSES = 4


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: dict[str, Counter[int]] = field(default_factory=dict)
    aimed_at_real_connection: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    servicem8_calls: int = 0
    reconnections: int = 0
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())

    def fail(self, message: str, example: str = "") -> None:
        self.failures[message] += 1
        self.examples.setdefault(message, example)

    def summary(self) -> str:
        rate = self.cases / self.seconds if self.seconds else 0.0
        lines = [
            f"cases tried          {self.cases}",
            f"time                 {self.seconds:.1f} s ({rate:.1f} cases/s)",
            f"aimed at a real connection with its key  {self.aimed_at_real_connection}",
            f"ServiceM8 (emulator) API calls made      {self.servicem8_calls}",
            f"connections replaced after a disconnect  {self.reconnections}",
            "answers by status:",
            *(f"  {status}  {count}" for status, count in sorted(self.statuses.items())),
            f"5xx answers          {self.server_errors}",
            "cases by operation (answers by status):",
            *(f"  {sum(counts.values()):>6}  {label:<52} "
              + " ".join(f"{status}:{n}" for status, n in sorted(counts.items()))
              for label, counts in sorted(self.operations.items())),
            f"contract failures    {self.failure_count}",
            *(f"  {count:>6}  {failure}\n          e.g. {self.examples[failure]}"
              for failure, count in self.failures.most_common(MAX_FAILURES_SHOWN)),
        ]
        return "\n".join(lines)


class Accounts:
    """Connected accounts to aim at, used in turn; and the records each has created."""

    def __init__(self, env: LocalEnvironment, size: int, rng: random.Random) -> None:
        self._env = env
        self._rng = rng
        self._made = 0
        self.connected: list[Connected] = [self._connect() for _ in range(size)]
        self.records: dict[str, list[str]] = {}
        self._turn = 0

    def _connect(self) -> Connected:
        from tests.integration.conftest import connect_new_account

        self._made += 1
        return connect_new_account(self._env, f"Fuzz Plumbing {self._made}")

    def next(self) -> Connected:
        self._turn = (self._turn + 1) % len(self.connected)
        return self.connected[self._turn]

    def other_than(self, owner: Connected) -> Connected:
        others = [c for c in self.connected if c != owner]
        return self._rng.choice(others) if others else owner

    def replace(self, connection_id: str) -> None:
        """A fuzzed DELETE disconnected it: connect another account in its place."""
        for index, connected in enumerate(self.connected):
            if connected.connection_id == connection_id:
                self.connected[index] = self._connect()
                self.records.pop(connection_id, None)


def problem_errors(status: int, content_type: str | None, text: str) -> list[str]:
    """Why an error answer is not an RFC 9457 problem (empty when it is one)."""
    if not (content_type or "").lower().startswith(PROBLEM_TYPE):
        return [f"{status} answered as {content_type!r}, not {PROBLEM_TYPE}"]
    try:
        body = json.loads(text)
    except ValueError:
        return [f"{status} problem body is not JSON"]
    if not isinstance(body, dict):
        return [f"{status} problem body is not an object"]
    errors = [
        f"{status} problem member {name!r} missing or not {kind.__name__}"
        for name, kind in PROBLEM_FIELDS.items()
        if not isinstance(body.get(name), kind)
    ]
    if body.get("status") != status:
        errors.append(f"{status} problem says status {body.get('status')!r}")
    if "instance" in body and not isinstance(body["instance"], str):
        errors.append(f"{status} problem member 'instance' is not a string")
    return errors


def describe(case: Any, response: Any = None) -> str:
    """One failing case, to reproduce it (the Authorization header is never shown)."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    body = case.body if not isinstance(case.body, bytes) else case.body[:200]
    shown = (f"{case.operation.method.upper()} {case.formatted_path} query={case.query!r} "
             f"headers={headers!r} media_type={case.media_type!r} body={body!r}")[:600]
    if response is not None:
        shown += f" → {response.status_code} {response.text[:300]!r}"
    return shown


class Fuzzer:
    """Runs generated cases through the stack's gateway, in-process, and judges the answers."""

    def __init__(self, env: LocalEnvironment, accounts: Accounts, rng: random.Random) -> None:
        assert env.stack is not None
        self.env = env
        self.app = env.stack.wsgi_app
        self.accounts = accounts
        self.rng = rng
        self.schema = schemathesis.openapi.from_path(str(SPEC))
        self.schema.app = self.app
        self.report = FuzzReport()

    def operations(self) -> list[Any]:
        return [result.ok() for result in self.schema.get_all_operations()]

    def aim(self, case: Any) -> tuple[Connected, bool]:
        """Point the case at a real connection and its key, most of the time."""
        owner = self.accounts.next()
        params = case.path_parameters
        # A case whose path is the part made invalid keeps it: that is what it tests.
        negated_path = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
        real = bool(params and "connection_id" in params and not negated_path
                    and self.rng.random() < REAL_CONNECTION)
        if real:
            params["connection_id"] = owner.connection_id
            known = self.accounts.records.get(owner.connection_id)
            if "uuid" in params and known and self.rng.random() < REAL_RECORD:
                params["uuid"] = self.rng.choice(known)
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        roll = self.rng.random()
        if roll < VALID_KEY:
            headers["Authorization"] = f"Bearer {owner.api_key}"
        elif roll < VALID_KEY + 0.05:
            headers["Authorization"] = f"Bearer sm8c_{secrets.token_urlsafe(32)}"
        elif roll < VALID_KEY + 0.10:
            headers["Authorization"] = f"Bearer {self.accounts.other_than(owner).api_key}"
        # else: no Authorization header at all
        case.headers = headers
        return owner, real and roll < VALID_KEY

    def run_case(self, case: Any) -> None:
        owner, aimed = self.aim(case)
        label = f"{case.operation.method.upper()} {case.operation.path}"
        self.report.cases += 1
        self.report.aimed_at_real_connection += aimed
        try:
            response = case.call(app=self.app)
        except Exception as error:  # an exception out of the WSGI app is a crash
            self.report.statuses[599] += 1
            self.report.operations.setdefault(label, Counter())[599] += 1
            self.report.fail(f"{label}: the gateway raised {type(error).__name__}",
                             describe(case))
            return
        status = response.status_code
        self.report.statuses[status] += 1
        self.report.operations.setdefault(label, Counter())[status] += 1
        if status >= 400:
            content_type = (response.headers.get("content-type") or [None])[0]
            for message in problem_errors(status, content_type, response.text):
                self.report.fail(f"{label}: {message}", describe(case, response))
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.report.fail(f"{label} → {status}: {failure.code} {failure.title}",
                                 describe(case, response))
        except AssertionError as error:
            self.report.fail(f"{label} → {status}: {str(error).splitlines()[0]}",
                             describe(case, response))
        self.remember(case, status, response, owner)

    def remember(self, case: Any, status: int, response: Any, owner: Connected) -> None:
        method, path = case.operation.method, case.operation.path
        connection_id = (case.path_parameters or {}).get("connection_id")
        if connection_id != owner.connection_id:
            return
        if method == "post" and status == 201 and path.endswith(("/clients", "/jobs")):
            uuid = response.json().get("uuid")
            if uuid:
                self.accounts.records.setdefault(connection_id, []).append(uuid)
        elif method == "delete" and path == "/connections/{connection_id}" and status == 200:
            self.accounts.replace(connection_id)
            self.report.reconnections += 1

    def run_operation(self, operation: Any, mode: GenerationMode, examples: int,
                      seed: int) -> None:
        strategy = operation.as_strategy(generation_mode=mode)

        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def fuzz_one(case: Any) -> None:
            self.run_case(case)

        fuzz_one()

    def run(self, cases: int, seed: int, progress: Callable[[str], None] | None = None
            ) -> FuzzReport:
        assert self.env.emulator is not None
        started = time.monotonic()
        calls_before = len(self.env.emulator.requests)
        plan = self.plan()
        total_weight = sum(weight for _, _, weight in plan)
        for attempt in range(MAX_PASSES):
            missing = cases - self.report.cases
            if missing <= 0:
                break
            for index, (operation, mode, weight) in enumerate(plan):
                examples = max(1, math.ceil(missing * weight / total_weight))
                self.run_operation(operation, mode, examples, seed + 1000 * attempt + index)
                if progress:
                    elapsed = time.monotonic() - started
                    progress(f"{self.report.cases:>6} cases, {self.report.server_errors} 5xx, "
                             f"{elapsed:.0f} s  ({operation.label} {mode.value})")
        self.report.servicem8_calls = len(self.env.emulator.requests) - calls_before
        self.report.seconds = time.monotonic() - started
        return self.report

    def plan(self) -> list[tuple[Any, GenerationMode, float]]:
        plan = []
        for operation in self.operations():
            weight = OPERATION_WEIGHT.get(f"{operation.method.upper()} {operation.path}", 1.0)
            plan.append((operation, GenerationMode.POSITIVE, weight * POSITIVE_SHARE))
            plan.append((operation, GenerationMode.NEGATIVE, weight * (1 - POSITIVE_SHARE)))
        return plan


def fuzz(env: LocalEnvironment, *, cases: int, accounts: int, seed: int,
         progress: Callable[[str], None] | None = None) -> FuzzReport:
    rng = random.Random(seed)
    pool = Accounts(env, accounts, rng)
    return Fuzzer(env, pool, rng).run(cases, seed, progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz the HTTP API on the local stack")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=24,
                        help="connected ServiceM8 accounts to spread the requests over")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args(argv)
    out = sys.stdout
    print(f"Fuzzing {SPEC.name}: {args.cases} cases over {args.accounts} accounts "
          f"(handler logs: {LOG_FILE.relative_to(ROOT)})", file=out, flush=True)
    LOG_FILE.parent.mkdir(exist_ok=True)
    with LOG_FILE.open("w") as logs:
        sys.stdout = sys.stderr = logs
        warnings.simplefilter("ignore")
        try:
            with LocalEnvironment(LocalOptions(auto_approve=True)) as env:
                report = fuzz(env, cases=args.cases, accounts=args.accounts, seed=args.seed,
                              progress=lambda line: print(line, file=out, flush=True))
        finally:
            sys.stdout, sys.stderr = out, sys.__stderr__
    print(report.summary(), file=out)
    ok = report.server_errors == 0 and report.failure_count == 0
    print("OK" if ok else "FAILED", file=out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(ROOT, "layers", "connector")))
    sys.exit(main())
