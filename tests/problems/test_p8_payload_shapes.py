"""PROBLEMS.md #8: the live webhook payload differs from the docs.

The same new company arrives in all three shapes ServiceM8 is known to send (object
webhook, event webhook, Add-on SDK envelope): each is recognised, and together they
make exactly one New Client event. An envelope for another account is dropped and
counted; a body in no known shape is accepted and publishes nothing.

Keeping raw bodies (and parking the unrecognised one) is covered by the parking tests.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local.emulator import Emulator
from local.environment import LocalEnvironment
from tests.problems.conftest import TriggerEvents, account_of, connect, live, webhook_url

COMPANY = "ffffffff-0000-4000-8000-000000000006"
OTHER_ACCOUNT = "99999999-0000-4000-8000-000000000000"


def object_shape() -> dict[str, Any]:
    return {"object": "company",
            "entry": [{"uuid": COMPANY, "changed_fields": ["uuid", "name"],
                       "time": "2025-03-01 08:00:00"}],
            "resource_url": f"https://api.example.test/api_1.0/company/{COMPANY}.json"}


def event_shape() -> dict[str, Any]:
    return {"id": "evt-test-0001", "type": "company.created",
            "data": {"uuid": COMPANY, "name": "Test Client"}}


def addon_shape(account_uuid: str) -> dict[str, Any]:
    return {"eventVersion": "1.0", "eventName": "webhook_subscription",
            "auth": {"accountUUID": account_uuid},
            "eventArgs": {"entry": [{"uuid": COMPANY}]}}


def record_outcomes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What the processor made of each delivery: (connection id, outcome), in order."""
    processor = live("runtime").processor()
    stage = processor.stage
    outcomes: list[tuple[str, Any]] = []

    def recorded(batch: Any, key: str, message: Any) -> None:
        # The batch fills the outcome in as it goes: published counts come at its finish.
        outcomes.append((message.connection_id, batch.outcome(key)))
        stage(batch, key, message)

    monkeypatch.setattr(processor, "stage", recorded)
    return outcomes


def of(outcomes: list[tuple[str, Any]], connection_id: str) -> list[Any]:
    return [outcome for owner, outcome in outcomes if owner == connection_id]


def dropped_metrics(printed: str) -> int:
    total = 0
    for line in printed.splitlines():
        if '"_aws"' in line and "DeliveriesDropped" in line:
            value = json.loads(line)["DeliveriesDropped"]
            total += int(sum(value) if isinstance(value, list) else value)
    return total


@pytest.mark.parametrize("order", ["object,event,addon", "addon,event,object",
                                   "event,addon,object"])
def test_three_shapes_of_one_new_company_make_one_event(
    env: LocalEnvironment, emu: Emulator, trigger_events: TriggerEvents,
    monkeypatch: pytest.MonkeyPatch, order: str,
) -> None:
    connected = connect(env, f"P8 Shapes Plumbing {order}", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    route = webhook_url(env, connected.connection_id)
    emu.put_record(account, "company", {"uuid": COMPANY, "name": "Test Client"}, notify=False)
    outcomes = record_outcomes(monkeypatch)
    shapes = {"object": object_shape(), "event": event_shape(), "addon": addon_shape(account)}

    for name in order.split(","):
        assert httpx.post(route, json=shapes[name], timeout=30).status_code == 200
    env.drain()
    recognised = of(outcomes, connected.connection_id)
    assert [(o.parked, o.dropped) for o in recognised] == [(None, None)] * 3
    # Each was understood well enough to read the company back (or to know a fetch
    # since its change already had); the event was made once.
    assert all(o.fetches + o.coalesced >= 1 for o in recognised)
    assert sum(o.published for o in recognised) == 1
    assert trigger_events.kinds(connected.connection_id) == ["New Client"]
    assert trigger_events.of(connected.connection_id)[0]["detail"]["record_uuid"] == COMPANY


def test_foreign_envelope_is_dropped_and_unknown_shape_publishes_nothing(
    env: LocalEnvironment, emu: Emulator, trigger_events: TriggerEvents,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    connected = connect(env, "P8 Foreign Plumbing", event_webhooks=False)
    account = account_of(env, connected.connection_id)
    route = webhook_url(env, connected.connection_id)
    emu.put_record(account, "company", {"uuid": COMPANY, "name": "Test Client"}, notify=False)
    outcomes = record_outcomes(monkeypatch)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # metrics printed, as EMF
    capsys.readouterr()
    assert httpx.post(route, json=addon_shape(OTHER_ACCOUNT), timeout=30).status_code == 200
    env.drain()
    [foreign] = of(outcomes, connected.connection_id)
    assert foreign.dropped == "account-mismatch" and foreign.published == 0
    assert foreign.fetches == 0
    assert dropped_metrics(capsys.readouterr().out) == 1
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    assert httpx.post(route, json={"hello": "world"}, timeout=30).status_code == 200
    env.drain()
    unclassified = of(outcomes, connected.connection_id)[1]
    assert unclassified.published == 0 and unclassified.dropped is None
    assert (unclassified.parked or "").startswith("unrecognised")
    assert trigger_events.of(connected.connection_id) == []
