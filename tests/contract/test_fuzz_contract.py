"""A few hundred schemathesis cases against the real handlers (``make fuzz`` runs 10,000)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.environment import LocalEnvironment, LocalOptions
from tests.contract.fuzzing import FuzzReport, fuzz, problem_errors

CI_CASES = 300
CI_ACCOUNTS = 6


@pytest.fixture(scope="module")
def fuzz_env() -> Iterator[LocalEnvironment]:
    with LocalEnvironment(LocalOptions(auto_approve=True)) as env:
        yield env


@pytest.fixture(scope="module")
def report(fuzz_env: LocalEnvironment) -> FuzzReport:
    return fuzz(fuzz_env, cases=CI_CASES, accounts=CI_ACCOUNTS, seed=7)


def test_no_answer_is_a_server_error(report: FuzzReport) -> None:
    assert report.cases >= CI_CASES
    assert report.server_errors == 0, report.summary()


def test_every_answer_keeps_the_contract(report: FuzzReport) -> None:
    assert report.failure_count == 0, report.summary()


def test_the_fuzz_reaches_the_handlers_and_servicem8(report: FuzzReport) -> None:
    # Most cases carry a real connection's key, so they get past authentication.
    assert report.aimed_at_real_connection > report.cases // 2
    assert report.statuses[200] + report.statuses[201] > report.cases // 10, report.summary()
    assert report.servicem8_calls > 0


@pytest.mark.parametrize(
    ("content_type", "body", "complaint"),
    [
        ("application/json", '{"message": "Not Found"}', "not application/problem+json"),
        ("application/problem+json", "[]", "not an object"),
        ("application/problem+json", '{"type": "/problems/x", "title": "X", "status": 400}',
         "'detail' missing"),
        ("application/problem+json",
         '{"type": "/problems/x", "title": "X", "status": 400, "detail": "d"}',
         "says status 400"),
    ],
)
def test_the_problem_check_catches_what_is_not_rfc_9457(
    content_type: str, body: str, complaint: str
) -> None:
    assert any(complaint in error for error in problem_errors(404, content_type, body))


def test_the_problem_check_passes_a_problem() -> None:
    body = '{"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "d"}'
    assert problem_errors(404, "application/problem+json", body) == []
