"""The template's promises: least privilege, failure paths, and routes the handlers serve."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from local.runner.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in function["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, "inline statements only"
        found.extend(policy["Statement"])
    return found


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_policy_names_every_action_and_resource(name: str) -> None:
    found = statements(FUNCTIONS[name])
    assert found, f"{name} has no policy of its own"
    for statement in found:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert all("*" not in action for action in actions), statement
        assert statement["Resource"] != "*", statement


def test_every_queue_has_a_dead_letter_queue_or_is_one() -> None:
    queues = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::SQS::Queue"}
    dead_letter = {k for k in queues if k.endswith("DLQ")}
    for name, queue in queues.items():
        if name not in dead_letter:
            target = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
            assert target["Fn::GetAtt"][0] in dead_letter


def test_every_rule_target_retries_and_has_a_dead_letter_queue() -> None:
    rules = [v for v in RESOURCES.values() if v["Type"] == "AWS::Events::Rule"]
    assert rules
    for rule in rules:
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
            assert "Arn" in target["DeadLetterConfig"]


def test_sqs_event_sources_report_partial_batch_failures() -> None:
    sources = [e for f in FUNCTIONS.values()
               for e in f["Properties"].get("Events", {}).values() if e["Type"] == "SQS"]
    assert sources
    assert all(e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
               for e in sources)


def served_routes(code_uri: str) -> set[tuple[str, str]]:
    """The (method, path) pairs a handler module's Powertools resolver serves."""
    sys.path[:0] = [str(ROOT / "layers/connector"), str(ROOT / code_uri)]
    try:
        name = "template_check_" + code_uri.strip("/").replace("/", "_")
        spec = importlib.util.spec_from_file_location(name, ROOT / code_uri / "app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        del sys.path[:2]
    routes = module.app._static_routes + module.app._dynamic_routes
    return {(r.method.upper(), re.sub(r"<(\w+)>", r"{\1}", r.path)) for r in routes}


HTTP_FUNCTIONS = sorted(
    name for name, f in FUNCTIONS.items()
    if any(e["Type"] == "HttpApi" for e in f["Properties"].get("Events", {}).values())
)


@pytest.mark.parametrize("name", HTTP_FUNCTIONS)
def test_every_template_route_is_served_by_its_handler(name: str) -> None:
    properties = FUNCTIONS[name]["Properties"]
    declared = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"])
                for e in properties["Events"].values()
                if e["Type"] == "HttpApi" and e["Properties"]["Path"] != "/{proxy+}"}
    assert declared == served_routes(properties["CodeUri"])


def test_api_accepts_exactly_the_pass_through_events_the_connector_can_subscribe() -> None:
    import typing

    from servicem8_connector.api_routes import PassThroughEvent
    from servicem8_connector.subscriptions import PASSTHROUGH_EVENTS

    assert set(typing.get_args(PassThroughEvent)) == set(PASSTHROUGH_EVENTS)
