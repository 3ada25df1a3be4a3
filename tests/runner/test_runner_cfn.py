"""Unit tests of the runner's pure parts: YAML tags, intrinsics, routing, event/response rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from local.runner.cfn import NO_VALUE, Resolver, TemplateError, parameter_values, references
from local.runner.cfn_yaml import CfnLoader
from local.runner.functions import RouteSpec
from local.runner.gateway import build_response, is_text
from local.runner.pollers import add_missing_account, succeeded_ids
from local.runner.routes import Router


def load(text: str) -> Any:
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506


def resolver(template: dict[str, Any], **params: Any) -> Resolver:
    resources = {"Bus": ("my-bus", {"Arn": "arn:bus"}), "Queue": ("https://q", {"Arn": "arn:q"})}

    def ref(name: str) -> Any:
        if name not in resources:
            raise TemplateError(name)
        return resources[name][0]

    def getatt(name: str, attr: str) -> Any:
        return resources[name][1][attr]

    pseudo = {
        "AWS::Region": "us-east-1",
        "AWS::StackName": "st",
        "AWS::AccountId": "1",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    values = parameter_values(template, params)
    return Resolver(template, values, pseudo, ref, getatt)


def test_short_form_tags_become_long_form() -> None:
    data = load("""
        a: !Ref X
        b: !GetAtt Res.Arn
        c: !GetAtt [Res, Arn]
        d: !Sub "x-${Y}"
        e: !Sub ["${A}", {A: !Ref Z}]
        f: !If [Cond, 1, 2]
        g: !Join [",", [a, b]]
        h: !Select [0, !Split [",", "a,b"]]
        i: !FindInMap [M, K, V]
        j: !Equals [a, b]
        k: !Not [!Condition C]
        l: !And [!Condition C, !Or [!Condition D, !Condition E]]
        m: !ImportValue Other
        version: 2012-10-17
    """)
    assert data["a"] == {"Ref": "X"}
    assert data["b"] == data["c"] == {"Fn::GetAtt": ["Res", "Arn"]}
    assert data["d"] == {"Fn::Sub": "x-${Y}"}
    assert data["e"] == {"Fn::Sub": ["${A}", {"A": {"Ref": "Z"}}]}
    assert data["h"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert data["l"]["Fn::And"][1] == {"Fn::Or": [{"Condition": "D"}, {"Condition": "E"}]}
    assert data["m"] == {"Fn::ImportValue": "Other"}
    assert data["version"] == "2012-10-17"  # CloudFormation keeps it a string


TEMPLATE = load("""
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Feature: {Type: String, Default: ""}
  Count: {Type: Number, Default: 3}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  HasFeature: !Not [!Equals [!Ref Feature, ""]]
  Any: !Or [!Condition IsProd, !Condition HasFeature]
Mappings:
  Size: {dev: {Mem: 128}, prod: {Mem: 1024}}
Resources: {}
""")


def test_intrinsics_resolve() -> None:
    r = resolver(TEMPLATE)
    node = load("""
        stack: !Sub "${AWS::StackName}-${Stage}-${AWS::Region}.${AWS::URLSuffix}"
        arn: !Sub "${Bus.Arn}|${Queue}"
        literal: !Sub "${!Keep}"
        listform: !Sub ["${A}-${Count}", {A: !GetAtt Bus.Arn}]
        getatt: !GetAtt Queue.Arn
        mode: !If [IsProd, prod, dev]
        gone: !If [HasFeature, x, !Ref AWS::NoValue]
        any: !If [Any, y, n]
        items: [a, !Ref AWS::NoValue, !Select [1, !Ref Names]]
        mem: !FindInMap [Size, !Ref Stage, Mem]
        joined: !Join ["/", [!Ref Bus, !Ref Count]]
    """)
    assert r.resolve(node) == {
        "stack": "st-dev-us-east-1.amazonaws.com",
        "arn": "arn:bus|https://q",
        "literal": "${Keep}",
        "listform": "arn:bus-3",
        "getatt": "arn:q",
        "mode": "dev",
        "any": "n",
        "items": ["a", "b"],
        "mem": 128,
        "joined": "my-bus/3",
    }
    prod = resolver(TEMPLATE, Stage="prod", Feature="on")
    assert prod.resolve(node)["gone"] == "x"
    assert prod.resolve(node)["mode"] == "prod"
    assert prod.ref("AWS::NoValue") is NO_VALUE


def test_resolution_errors() -> None:
    r = resolver(TEMPLATE)
    with pytest.raises(TemplateError, match="ImportValue"):
        r.resolve({"Fn::ImportValue": "shared-vpc"})
    with pytest.raises(TemplateError):
        r.resolve({"Ref": "Missing"})
    with pytest.raises(TemplateError, match="not in"):
        parameter_values(TEMPLATE, {"Stage": "qa"})
    with pytest.raises(TemplateError, match="unknown parameters"):
        parameter_values(TEMPLATE, {"Nope": "1"})


def test_references_for_dependency_order() -> None:
    node = load("""
        A: !Ref Bus
        B: !Sub "${Queue.Arn}-${AWS::Region}-${!Literal}-${Local}"
        C: !GetAtt [Table, Arn]
        D: !Sub ["${Local}", {Local: !Ref Key}]
    """)
    assert references(node) >= {"Bus", "Queue", "Table", "Key"}
    assert "Literal" not in references(node)


def route(path: str, method: str = "GET", fn: str = "F") -> RouteSpec:
    return RouteSpec(fn, path, method, path, "localapi")


def test_router_precedence_and_params() -> None:
    router = Router(
        [
            route("/items/{id}", fn="param"),
            route("/items/special", fn="literal"),
            route("/items/{proxy+}", fn="greedy"),
            route("/items/{id}", method="ANY", fn="any"),
            route("$default", fn="default"),
        ]
    )

    def match(method: str, path: str) -> tuple[str, dict[str, str]]:
        found = router.match(method, path)
        assert found is not None
        return found[0].function_id, found[1]

    assert match("GET", "/items/special") == ("literal", {})
    assert match("GET", "/items/a%2Fb") == ("param", {"id": "a/b"})
    assert match("POST", "/items/1") == ("any", {"id": "1"})
    assert match("GET", "/items/1/2/3") == ("greedy", {"proxy": "1/2/3"})
    assert match("GET", "/elsewhere") == ("default", {})
    assert Router([route("/items/{id}")]).match("GET", "/items/") is None
    assert Router([route("/items/{id}")]).match("GET", "/items/1/x") is None
    assert Router([route("/items/{id}")]).match("DELETE", "/items/1") is None


def test_text_types_and_response_rules() -> None:
    assert is_text("application/json; charset=utf-8")
    assert is_text("text/csv")
    assert is_text("application/vnd.api+json")
    assert not is_text("application/octet-stream")
    assert not is_text(None)
    assert not is_text("application/x-www-form-urlencoded")  # API Gateway base64-encodes forms
    plain = build_response({"a": 1}, "rid")
    assert plain.status_code == 200
    assert json.loads(plain.get_data()) == {"a": 1}
    assert plain.headers["content-type"] == "application/json"
    raw = build_response(
        {
            "statusCode": 201,
            "isBase64Encoded": True,
            "body": base64.b64encode(b"\x00").decode(),
            "cookies": ["a=1"],
            "headers": {"x-y": "z"},
        },
        "rid",
    )
    assert raw.status_code == 201
    assert raw.get_data() == b"\x00"
    assert raw.headers.getlist("Set-Cookie") == ["a=1"]
    assert raw.headers["x-y"] == "z"
    with pytest.raises(TypeError):
        build_response({"statusCode": 200, "body": {"not": "a string"}}, "rid")


def test_partial_batch_rules() -> None:
    ids = ["m1", "m2", "m3"]
    assert succeeded_ids(None, ids, True) == ids
    assert succeeded_ids({"batchItemFailures": []}, ids, True) == ids
    assert succeeded_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids, True) == [
        "m1",
        "m3",
    ]
    assert succeeded_ids({"batchItemFailures": [{"itemIdentifier": "bogus"}]}, ids, True) == []
    assert succeeded_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids, False) == ids


def test_account_added_to_moto_envelopes_only() -> None:
    envelope = {
        "version": "0",
        "id": "1",
        "detail-type": "t",
        "source": "s",
        "time": "x",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    patched = json.loads(add_missing_account(json.dumps(envelope)))
    assert patched["account"] == "123456789012"
    assert list(patched)[:5] == ["version", "id", "detail-type", "source", "account"]
    assert add_missing_account("plain text") == "plain text"
    assert add_missing_account('{"a": 1}') == '{"a": 1}'
