"""PROBLEMS.md #1: "Error Adding Webhook" — a JSON body is refused.

ServiceM8 reads subscription parameters from the form (or query), so every
subscription call must be form-encoded; when ServiceM8 still refuses, the refusal
is recorded and answered as a 422 naming ServiceM8's reason, never a 5xx or a loop.
"""

from __future__ import annotations

import re
import time

from local.emulator import Emulator
from local.environment import LocalEnvironment
from tests.problems.conftest import (
    Answers,
    account_of,
    api,
    calling,
    calls,
    connect,
    describe,
    json_answer,
)

FORM = "application/x-www-form-urlencoded"
REFUSAL = "Please specify an object for subscription"


def test_subscription_calls_are_form_encoded(env: LocalEnvironment, emu: Emulator) -> None:
    connected = connect(env, "P1 Form Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    made = calls(emu, account=account, path="/webhook_subscriptions/object", method="POST")
    assert {str(c["form"]["object"]) for c in made} == {"job", "company", "formresponse"}
    job = next(c for c in made if c["form"]["object"] == "job")
    assert job["content_type"] == FORM and job["json"] is None
    # The union of what the enabled Job triggers watch, comma-separated, uuid first.
    assert job["form"]["fields"] == "uuid,queue_expiry_date,queue_uuid,status"
    callback = str(job["form"]["callback_url"])
    assert re.fullmatch(re.escape(env.api_url) + r"/webhooks/servicem8/[A-Za-z0-9_-]{20,}",
                        callback)
    assert job["form"]["unique_id"] == connected.connection_id

    with api(env, connected) as owner:
        answer = owner.put("/triggers", json={"triggers": ["job_completed"]})
    assert answer.status_code == 200
    deletes = calls(emu, account=account, path="/webhook_subscriptions", method="DELETE")
    assert deletes and all(d["content_type"] == FORM for d in deletes)
    assert {str(d["form"]["object"]) for d in deletes} == {"company", "formresponse"}


def test_event_subscriptions_are_form_encoded(env: LocalEnvironment, emu: Emulator) -> None:
    connected = connect(env, "P1 Event Plumbing")
    made = calls(emu, account=account_of(env, connected.connection_id),
                 path="/webhook_subscriptions/event", method="POST")
    assert len(made) == 5
    assert all(c["content_type"] == FORM and c["json"] is None for c in made)
    assert {c["form"]["event"] for c in made} >= {"job.created", "job.completed"}


def test_refusal_is_recorded_failed_and_answered_422_without_retrying(
    env: LocalEnvironment, emu: Emulator, answers: Answers
) -> None:
    connected = connect(env, "P1 Refused Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    answers.when(calling("POST", "/webhook_subscriptions", account, emu),
                 json_answer({"success": False, "message": REFUSAL}, 400))
    with api(env, connected) as owner:
        for attempt in (1, 2):  # the same request again: refused again, one call again
            started = time.monotonic()
            answer = owner.put("/triggers", json={"triggers": ["job_completed"]})
            assert answer.status_code == 422, answer.text
            problem = answer.json()
            assert problem["type"] == "/problems/upstream-validation"
            assert REFUSAL in problem["detail"]
            tried = calls(emu, account=account, since=started, path="/webhook_subscriptions",
                          method="POST")
            assert len(tried) == 1, f"attempt {attempt}: {len(tried)} subscribe calls"
    described = describe(env, connected)
    job = described["subscriptions"]["objects"]["job"]
    assert job["status"] == f"failed: {REFUSAL}"
    assert described["status"] == "active"


def test_refusal_in_event_mode_falls_back_once_then_answers_422(
    env: LocalEnvironment, emu: Emulator, answers: Answers
) -> None:
    connected = connect(env, "P1 Refused Events Plumbing")
    account = account_of(env, connected.connection_id)
    with api(env, connected) as owner:
        assert owner.put("/triggers", json={"triggers": []}).status_code == 200
        answers.when(calling("POST", "/webhook_subscriptions", account, emu),
                     json_answer({"success": False, "message": REFUSAL}, 400))
        started = time.monotonic()
        answer = owner.put("/triggers", json={"triggers": ["new_job"]})
    assert answer.status_code == 422 and REFUSAL in answer.json()["detail"]
    tried = calls(emu, account=account, since=started, path="/webhook_subscriptions",
                  method="POST")
    # One event subscription, refused; then the object-webhook fallback, refused: no loop.
    assert [c["path"] for c in tried] == ["/webhook_subscriptions/event",
                                          "/webhook_subscriptions/object"]
