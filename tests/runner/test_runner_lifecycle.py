"""Start/stop behaviour: environment restoration, failures, timers, and the real template."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from local.runner import LocalStack, TemplateError
from local.runner.resources import CREATORS

PROJECT_ROOT = Path(__file__).resolve().parents[2]

MINI = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Counter:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: tick/
      Handler: app.lambda_handler
      Environment:
        Variables:
          COUNTER_TABLE: !Ref Counter
      Events:
        Tick:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
"""

TICK = """
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["COUNTER_TABLE"])


def lambda_handler(event, context):
    TABLE.update_item(Key={"pk": "ticks"}, UpdateExpression="ADD n :one",
                      ExpressionAttributeValues={":one": 1})
    return os.environ["AWS_ENDPOINT_URL"]
"""


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(textwrap.dedent(MINI))
    (tmp_path / "tick").mkdir()
    (tmp_path / "tick" / "app.py").write_text(TICK)
    return tmp_path


def test_env_sys_path_and_modules_restored_on_stop(
    mini_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before_env, before_path = dict(os.environ), list(sys.path)
    stack = LocalStack(project_root=mini_project, run_schedules_every=0.2).start()
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
        assert stack.moto_url.startswith("http://127.0.0.1:")
        assert stack.api_url.startswith("http://127.0.0.1:")
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert os.environ["COUNTER_TABLE"] == "servicem8-connector-local-Counter"
        assert stack.invoke_schedule("TickFunction") == stack.moto_url
        assert "sam_fn_TickFunction" in sys.modules
        table = stack.physical_id("Counter")
        deadline = time.monotonic() + 5
        count = 0
        while count < 3 and time.monotonic() < deadline:  # the 0.2 s timer adds ticks
            time.sleep(0.1)
            item = stack.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "ticks"}})
            count = int(item.get("Item", {}).get("n", {}).get("N", 0))
        assert count >= 3
    finally:
        stack.stop()
    assert dict(os.environ) == before_env
    assert sys.path == before_path
    assert "sam_fn_TickFunction" not in sys.modules


def test_second_stack_starts_clean(mini_project: Path) -> None:
    with LocalStack(project_root=mini_project) as first:
        first.invoke("TickFunction", {})
        first_url = first.moto_url
    with LocalStack(project_root=mini_project) as second:
        # fresh moto state and a fresh module whose client points at the new server
        assert second.invoke("TickFunction", {}) == second.moto_url != first_url
        item = second.client("dynamodb").get_item(
            TableName=second.physical_id("Counter"), Key={"pk": {"S": "ticks"}}
        )["Item"]
        assert item["n"]["N"] == "1"


def test_lambda_rule_target_is_refused_and_start_cleans_up(
    mini_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    template = textwrap.dedent(MINI) + textwrap.indent(
        textwrap.dedent("""
        Rule:
          Type: AWS::Events::Rule
          Properties:
            EventPattern: {source: [x]}
            Targets:
              - Id: fn
                Arn: !GetAtt TickFunction.Arn
    """),
        "  ",
    )
    (mini_project / "template.yaml").write_text(template)
    with pytest.raises(TemplateError, match=r"moto 5\.2\.5 cannot deliver EventBridge events"):
        LocalStack(project_root=mini_project).start()
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_unknown_parameter_override_fails_early(mini_project: Path) -> None:
    with pytest.raises(TemplateError, match="unknown parameters"):
        LocalStack(project_root=mini_project, parameter_overrides={"Nope": "1"})


def test_project_template_provisions() -> None:
    stack = LocalStack(
        project_root=PROJECT_ROOT,
        parameter_overrides={
            "ServiceM8ApiUrl": "http://127.0.0.1:8090",
            "PublicBaseUrl": "http://127.0.0.1:3000",
        },
        poll_sqs=False,
    )
    handler_modules = {name for name in sys.modules if name.startswith("sam_fn_")}
    with stack:
        resources = stack.template["Resources"]
        emulated = {lid for lid, spec in resources.items() if spec["Type"] in CREATORS}
        assert emulated <= set(stack.provisioner.records)
        ddb, sqs = stack.client("dynamodb"), stack.client("sqs")
        tables = set(ddb.list_tables()["TableNames"])
        queues = set(sqs.list_queues()["QueueUrls"])
        for lid in emulated:
            kind, physical = resources[lid]["Type"], stack.physical_id(lid)
            if kind == "AWS::DynamoDB::Table":
                assert physical in tables
            elif kind == "AWS::SQS::Queue":
                assert physical in queues
            elif kind == "AWS::Events::EventBus":
                stack.client("events").describe_event_bus(Name=physical)
            elif kind == "AWS::Events::Rule":
                bus = resources[lid]["Properties"].get("EventBusName")
                bus_name = stack.physical_id(bus["Ref"]) if isinstance(bus, dict) else bus
                stack.client("events").describe_rule(Name=physical, EventBusName=bus_name)
            elif kind == "AWS::KMS::Key":
                stack.client("kms").describe_key(KeyId=physical)
            elif kind == "AWS::SecretsManager::Secret":
                stack.client("secretsmanager").describe_secret(SecretId=physical)
        assert {r.route_key for r in stack.routes}  # HttpApi routes were found
        assert stack.functions  # and functions, without importing any handler
        env = next(iter(stack.functions.values())).env
        assert env.get("PUBLIC_BASE_URL", "http://127.0.0.1:3000") == "http://127.0.0.1:3000"
        # no handler was imported (the real functions may not even import yet)
        assert {n for n in sys.modules if n.startswith("sam_fn_")} == handler_modules
