"""Writes docs/subscribers.md: for each detail-type its schema, an example, and a rule.

The examples are not typed by hand: each one is a ServiceM8 delivery from
``events/deliveries/`` run through the real classifier and event builder, then
checked against its JSON Schema, so the guide cannot drift from the code.
``tests/unit/test_subscriber_guide.py`` fails when the committed guide is stale.

Usage: python scripts/subscriber_guide.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "connector"))

import jsonschema  # noqa: E402

from servicem8_connector.processor import parse_event_time  # noqa: E402
from servicem8_connector.publishing import TriggerEvent  # noqa: E402
from servicem8_connector.settings import EVENT_SOURCE  # noqa: E402
from servicem8_connector.triggers import (  # noqa: E402
    EventDelivery,
    classify,
    object_for_event,
    parse_delivery,
)

GUIDE = ROOT / "docs" / "subscribers.md"
SCHEMAS = ROOT / "schemas" / "events"
DELIVERIES = ROOT / "events" / "deliveries"
CONNECTION = "con_ExampleConnection0001"
ACCOUNT = "99999999-0000-4000-8000-000000000000"

# (schema file, delivery fixture, previous snapshot that makes the edge visible)
EXAMPLES = [
    ("new-job.v1.json", "event-job-created.json", None),
    ("job-completed.v1.json", "event-job-completed.json", {"status": "Work Order"}),
    ("job-queued.v1.json", "event-job-queued.json", {"queue_uuid": None}),
    ("new-client.v1.json", "event-company-created.json", None),
    ("new-form-response.v1.json", "event-form-response-created.json", None),
    ("servicem8-event.v1.json", "event-job-updated.json", "same"),
]


def example_event(schema_file: str, delivery_file: str, previous: Any) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / schema_file).read_text())
    delivery = parse_delivery((DELIVERIES / delivery_file).read_text(), "application/json")
    assert isinstance(delivery, EventDelivery) and delivery.data is not None
    record = delivery.data
    snapshot = dict(record) if previous == "same" else (
        {**{"uuid": record["uuid"], "active": 1}, **previous} if previous else None)
    occurrences = classify(object_name=object_for_event(delivery.type), record=record,
                           previous=snapshot, event_type=delivery.type,
                           occurred_at=parse_event_time(delivery.created_at),
                           delivery_id=delivery.id)
    wanted = [o for o in occurrences if o.detail_type == schema["x-detail-type"]
              or schema_file.startswith("servicem8-event")]
    event = TriggerEvent.from_occurrence(wanted[-1], connection_id=CONNECTION,
                                         account_uuid=ACCOUNT, delivery_id=delivery.id)
    detail = json.loads(event.detail_json())
    jsonschema.Draft202012Validator(schema).validate(detail)
    return {
        "version": "0",
        "id": "6f8e4c2a-0000-4000-8000-00000000e0e0",
        "detail-type": event.detail_type,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": detail["occurred_at"],
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


FIELD_MEANINGS = {
    "object": "The ServiceM8 object the record is (`job`, `company`, `formresponse`, …).",
    "changes": "Field → `{previous, current}` for the fields whose change fired the trigger.",
}


def _meaning(schema: dict[str, Any], field: str) -> str:
    described = str(schema["properties"][field].get("description", "")).strip()
    return described or FIELD_MEANINGS.get(field, "")


def section(schema_file: str, delivery_file: str, previous: Any) -> str:
    schema = json.loads((SCHEMAS / schema_file).read_text())
    detail_type = schema["x-detail-type"]
    example = example_event(schema_file, delivery_file, previous)
    pattern = {"source": [EVENT_SOURCE], "detail-type": [detail_type]}
    if schema_file.startswith("servicem8-event"):
        pattern["detail-type"] = [{"prefix": "ServiceM8 "}]
    name = "".join(part.title() for part in schema_file.split(".")[0].split("-"))
    rows = "\n".join(
        f"| `{field}` | {_meaning(schema, field)} |" for field in schema["required"]
    )
    return f"""## {detail_type}

{schema['description']}

Schema: [`schemas/events/{schema_file}`](../schemas/events/{schema_file})

| `detail` field | Meaning |
|---|---|
{rows}

Example event (what a rule target receives):

```json
{json.dumps(example, indent=2)}
```

Rule to an SQS queue (SAM, in your own template; `ConnectorBusName` is the
connector stack's `TriggerBusName` output):

```yaml
  {name}Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref ConnectorBusName
      EventPattern: {json.dumps(pattern)}
      Targets:
        - Id: queue
          Arn: !GetAtt {name}Queue.Arn
          RetryPolicy: {{MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400}}
          DeadLetterConfig: {{Arn: !GetAtt {name}DeadLetters.Arn}}
```

Or straight to a Lambda function:

```yaml
  On{name}:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Events:
        {name}:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref ConnectorBusName
            Pattern: {json.dumps(pattern)}
            RetryPolicy: {{MaximumRetryAttempts: 185}}
            DeadLetterConfig: {{Type: SQS}}
```
"""


HEADER = """# Subscriber guide

Every trigger is an EventBridge event on the connector's bus (stack output
`TriggerBusName`) with `source` = `servicem8.connector` and a `detail-type`
naming the trigger. Add your own rules to that bus; the connector never needs
to know about them.

- **Exactly once, as far as the connector can make it**: one event per trigger
  occurrence across duplicate and retried ServiceM8 deliveries. EventBridge
  itself delivers at least once, so dedupe on `detail.idempotency_key`: the same
  occurrence always carries the same key, whichever webhook kind reported it.
- **Edges, not states**: *Job Completed* fires when a job's status changes into
  Completed (again after a reopen), never for edits to a completed job; *Job
  Queued* fires when `queue_uuid` is set or changes, not for scheduling.
- **Records as ServiceM8 has them**, with two fixes: zero dates
  (`0000-00-00 00:00:00`) are `null` and `badges` is a list. ServiceM8 dates are
  in the account's time zone except `formresponse.timestamp` (UTC);
  `occurred_at` is UTC.
- **Versioned contracts**: `detail.schema_version`; a breaking change gets a new
  schema file and version. The stack also registers each schema in an
  EventBridge schema registry (`${StackName}-triggers`) so code bindings can be
  downloaded from the console.
- **Replays**: the bus has an archive (14 days); see docs/operations.md.

This page is generated by `scripts/subscriber_guide.py` from the schemas and
the ServiceM8 delivery samples in `events/deliveries/`.

"""


def guide() -> str:
    return HEADER + "\n".join(section(*example) for example in EXAMPLES)


def main() -> int:
    text = guide()
    if "--check" in sys.argv:
        if not GUIDE.exists() or GUIDE.read_text() != text:
            print("docs/subscribers.md is stale: run python scripts/subscriber_guide.py")
            return 1
        return 0
    GUIDE.parent.mkdir(exist_ok=True)
    GUIDE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
