"""YAML loading of CloudFormation/SAM templates.

The loader understands the short-form tags (``!Ref``, ``!Sub`` ...) and turns them into their
long ``Fn::`` form, so the rest of the runner only sees plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .cfn import TemplateError

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "Cidr": "Fn::Cidr",
}


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs
    """SafeLoader with CloudFormation short-form tags and without YAML timestamps.

    CloudFormation keeps ``Version: 2012-10-17`` a string, so the timestamp resolver is dropped.
    """


CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _make_constructor(long_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}

    return construct


for _short, _long in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_short}", _make_constructor(_long))


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a SAM/CloudFormation YAML (or JSON) template into plain Python data."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - CfnLoader derives from SafeLoader
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data
