"""`make demo`: the whole story on the local stack, told step by step.

Connect an account through the full redirect dance, work on a client and a job
through the action API, let things happen in ServiceM8 (the emulator), and read
the trigger events the way any subscriber would: from an SQS queue that an
EventBridge rule feeds. Exits non-zero unless each of the five triggers
arrived exactly once.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from local.environment import ROOT, LocalEnvironment, LocalOptions

EXPECTED = ("New Client", "New Job", "Job Queued", "Job Completed", "New Form Response")


LOG_FILE = ROOT / ".local" / "demo-handler-logs.jsonl"
OUT = sys.stdout  # the story; the handlers' JSON logs go to LOG_FILE


def say(step: str, detail: str = "") -> None:
    print(f"  {step:<34} {detail}".rstrip(), file=OUT, flush=True)


def heading(text: str) -> None:
    print(f"\n{text}", file=OUT, flush=True)


@dataclass(frozen=True)
class Connected:
    connection_id: str
    api_key: str
    claim: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def connect(env: LocalEnvironment, browser: httpx.Client, quiet: bool = False) -> Connected:
    """Follow every redirect by hand, as a browser would; then claim the API key."""
    url = f"{env.api_url}/connect"
    params = {"return_url": f"{env.app_url}/return", "reference": "demo-user-1"}
    response = browser.get(url, params=params)
    hops = 0
    while response.is_redirect and hops < 10:
        target = response.headers["location"]
        if not quiet:
            say(f"{response.status_code} from {urlsplit(str(response.url)).path}",
                f"→ {urlsplit(target).netloc}{urlsplit(target).path}")
        response = browser.get(target)
        hops += 1
    response.raise_for_status()
    query = parse_qs(urlsplit(str(response.url)).query)
    if "connection_id" not in query or "claim" not in query:
        raise SystemExit(f"connect failed: {response.status_code} {response.text[:300]}")
    connection_id = query["connection_id"][0]
    # The app's server, not the browser, trades the one-time claim for the API key.
    claimed = httpx.post(f"{env.api_url}/connections/{connection_id}/api-key",
                         json={"claim": query["claim"][0]}, timeout=30)
    if claimed.status_code != 201:
        raise SystemExit(f"claim failed: {claimed.status_code} {claimed.text[:300]}")
    return Connected(connection_id, claimed.json()["api_key"], query["claim"][0])


def call(api: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = api.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise SystemExit(f"{method} {path} failed: {response.status_code} {response.text}")
    return dict(response.json())


def subscriber_events(
    env: LocalEnvironment, connection_id: str, want: int, timeout: float
) -> list[dict[str, Any]]:
    """Read the subscriber queue until ``want`` events of one connection arrived."""
    assert env.stack is not None
    sqs = env.stack.client("sqs")
    queue_url = env.stack.physical_id("SubscriberQueue")
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"].get("connection_id") == connection_id:
                events.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if len(events) >= want and not answer.get("Messages"):
            break
    return events


def story(env: LocalEnvironment) -> int:
    assert env.emulator is not None
    print(f"Local stack up: API {env.api_url} · ServiceM8 emulator {env.emulator_url}",
          file=OUT, flush=True)
    heading("1. Connect a ServiceM8 account")
    with httpx.Client(timeout=30) as browser:
        connected = connect(env, browser)
    connection_id = connected.connection_id
    say("connected", connection_id)
    say("API key claimed", f"{connected.api_key[:9]}… (shown once; only its hash is kept)")

    base = f"/connections/{connection_id}"
    with httpx.Client(base_url=env.api_url, timeout=30, headers=connected.headers) as api:
        heading("2. Act on the account through the API")
        client = call(api, "POST", f"{base}/clients",
                      json={"name": "Harbour View Plumbing", "address_city": "Brisbane"})
        say("create client", client["uuid"])
        job = call(api, "POST", f"{base}/jobs", headers={"Idempotency-Key": "demo-job-1"},
                   json={"status": "Quote", "company_uuid": client["uuid"],
                         "job_address": "12 Wharf St, Brisbane QLD 4000",
                         "job_description": "Replace hot water system"})
        say("create job", job["uuid"])
        clients = call(api, "GET", f"{base}/clients",
                       params={"filter": "name eq 'Harbour View Plumbing'"})
        say("list clients (filtered)", f"{clients['count']} found")
        say("list jobs", f"{call(api, 'GET', f'{base}/jobs')['count']} found")
        say("retrieve client", call(api, "GET", f"{base}/clients/{client['uuid']}")["name"])
        say("retrieve job", call(api, "GET", f"{base}/jobs/{job['uuid']}")["status"])
        call(api, "PATCH", f"{base}/jobs/{job['uuid']}", json={"status": "Work Order"})
        say("update job", "status → Work Order")

        heading("3. Things happen in ServiceM8")
        account = env.emulator.default_account_uuid
        queue = env.emulator.put_record(account, "queue", {"name": "Parts on order"},
                                        notify=False)
        call(api, "PATCH", f"{base}/jobs/{job['uuid']}",
             json={"queue_uuid": queue["uuid"], "queue_expiry_date": "2026-12-24 17:00:00"})
        say("put job in a queue", "Parts on order")
        call(api, "PATCH", f"{base}/jobs/{job['uuid']}", json={"status": "Completed"})
        say("complete job", "status → Completed")
        env.emulator.put_record(account, "formresponse", {
            "form_uuid": "7f1c2d3e-0000-4000-8000-00000000f0f0",
            "regarding_object": "job", "regarding_object_uuid": job["uuid"],
            "field_data": json.dumps([{"question": "All clear?", "answer": "Yes"}]),
        })
        say("technician submits a form", "Job sign-off")
        env.drain()

        heading("4. Clean up")
        say("delete job", call(api, "DELETE", f"{base}/jobs/{job['uuid']}")["deletion"])
        say("delete client",
            call(api, "DELETE", f"{base}/clients/{client['uuid']}")["deletion"])
        env.drain()

    heading("5. Trigger events as the subscriber receives them")
    events = subscriber_events(env, connection_id, want=len(EXPECTED), timeout=20)
    for event in events:
        detail = event["detail"]
        changes = ", ".join(f"{k}: {v['previous'] or '(none)'} → {v['current']}"
                            for k, v in detail.get("changes", {}).items())
        say(event["detail-type"], f"{detail['record_uuid']} {changes}".strip())
    return verdict(Counter(e["detail-type"] for e in events))


def verdict(counts: Counter[str]) -> int:
    wrong = {t: counts.get(t, 0) for t in EXPECTED if counts.get(t, 0) != 1}
    if wrong:
        print(f"\nFAILED: each trigger should arrive exactly once; got {wrong}", file=OUT)
        return 1
    print("\nOK: each of the five triggers arrived exactly once.", file=OUT)
    return 0


def main() -> int:
    print("Starting the local stack (moto, the ServiceM8 emulator, the template's functions)…",
          file=OUT, flush=True)
    LOG_FILE.parent.mkdir(exist_ok=True)
    with LOG_FILE.open("w") as logs:
        sys.stdout = sys.stderr = logs
        try:
            with LocalEnvironment(LocalOptions(auto_approve=True)) as env:
                code = story(env)
        finally:
            sys.stdout, sys.stderr = OUT, sys.__stderr__
    print(f"(handler logs: {LOG_FILE.relative_to(ROOT)})", file=OUT)
    return code


if __name__ == "__main__":
    sys.exit(main())
