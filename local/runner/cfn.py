"""CloudFormation intrinsic-function resolution, parameters and pseudo-parameters.

``Resolver`` evaluates intrinsics (long ``Fn::`` form, as ``cfn_yaml`` produces them) against
parameters, pseudo-parameters, conditions and whatever the caller knows about resources
(physical ids and attributes).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class TemplateError(Exception):
    """The template uses something the runner cannot resolve or emulate."""


class _NoValue:
    """Marker for ``AWS::NoValue``: removes the surrounding key or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def sub_variables(template: str) -> list[str]:
    """The ``${...}`` names a ``Fn::Sub`` string refers to (``${!X}`` literals excluded)."""
    return [
        m.group(1).strip() for m in _SUB_VAR.finditer(template) if not m.group(1).startswith("!")
    ]


def references(node: Any) -> set[str]:
    """Logical names (resources, parameters, pseudo-parameters) that ``node`` refers to."""
    found: set[str] = set()

    def walk(item: Any, local: Iterable[str] = ()) -> None:
        if isinstance(item, list):
            for sub in item:
                walk(sub, local)
        elif isinstance(item, dict):
            if len(item) == 1:
                ((key, value),) = item.items()
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                    return
                if key == "Fn::GetAtt":
                    parts = value.split(".", 1) if isinstance(value, str) else value
                    if isinstance(parts[0], str):
                        found.add(parts[0])
                    return
                if key == "Fn::Sub":
                    text, mapping = (value, {}) if isinstance(value, str) else value
                    walk(mapping)
                    names = {n.split(".", 1)[0] for n in sub_variables(text) if n not in mapping}
                    found.update(names)
                    return
            for sub in item.values():
                walk(sub, local)

    walk(node)
    return found


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


RefFn = Callable[[str], Any]
GetAttFn = Callable[[str, str], Any]


class Resolver:
    """Evaluates intrinsic functions of one template.

    ``ref`` and ``getatt`` are called for names that are neither parameters nor pseudo-parameters,
    i.e. resources; they raise ``TemplateError`` for unknown names.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        ref: RefFn,
        getatt: GetAttFn,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self._ref = ref
        self._getatt = getatt
        self._conditions: dict[str, bool] = {}

    # -- conditions -------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        """Value of the named entry of ``Conditions`` (cached)."""
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic evaluated; ``NO_VALUE`` entries are dropped."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                return self._intrinsic(key, value)
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def ref(self, name: str) -> Any:
        """``Ref`` of a parameter, pseudo-parameter or resource."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name.startswith("AWS::"):
            raise TemplateError(f"unsupported pseudo-parameter {name}")
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _intrinsic(self, key: str, value: Any) -> Any:
        if key == "Ref":
            return self.ref(value)
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::GetAtt":
            parts = value.split(".", 1) if isinstance(value, str) else self.resolve(value)
            return self._getatt(parts[0], parts[1])
        if key == "Fn::Sub":
            return self._sub(value)
        if key == "Fn::If":
            cond, if_true, if_false = value
            return self.resolve(if_true if self.condition(cond) else if_false)
        if key == "Fn::Equals":
            left, right = self.resolve(value)
            return _as_str(left) == _as_str(right)
        if key == "Fn::Not":
            return not self._truth(value[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in value)
        if key == "Fn::Or":
            return any(self._truth(item) for item in value)
        if key == "Fn::Join":
            delimiter, items = self.resolve(value)
            return delimiter.join(_as_str(item) for item in items)
        if key == "Fn::Select":
            index, items = self.resolve(value)
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, text = self.resolve(value)
            return text.split(delimiter)
        if key == "Fn::FindInMap":
            name, top, second = self.resolve(value)[:3]
            try:
                return self.template["Mappings"][name][top][second]
            except KeyError as exc:
                raise TemplateError(f"Fn::FindInMap {name}/{top}/{second} not found") from exc
        if key == "Fn::Base64":
            return base64.b64encode(_as_str(self.resolve(value)).encode()).decode()
        if key == "Fn::GetAZs":
            region = self.resolve(value) or self.pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::ImportValue":
            raise TemplateError(
                f"Fn::ImportValue {value!r}: cross-stack imports cannot be emulated locally"
            )
        raise TemplateError(f"unsupported intrinsic function {key}")

    def _truth(self, item: Any) -> bool:
        if isinstance(item, dict) and set(item) == {"Condition"}:
            return self.condition(item["Condition"])
        return bool(self.resolve(item))

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        local = {k: self.resolve(v) for k, v in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return _as_str(local[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return _as_str(self._getatt(logical, attr))
            resolved = self.ref(name)
            if resolved is NO_VALUE or isinstance(resolved, (list, dict)):
                raise TemplateError(f"Fn::Sub variable ${{{name}}} is not a string")
            return _as_str(resolved)

        return _SUB_VAR.sub(replace, text)


def to_env_value(value: Any) -> str:
    """A resolved template value as Lambda would store it in an environment variable."""
    if isinstance(value, (list, dict)):
        raise TemplateError(f"environment value {value!r} is not a scalar")
    return _as_str(value)


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Template parameter defaults overridden by ``overrides``, typed like ``Ref`` returns them."""
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter_overrides names unknown parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default and no override")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            values[name] = (
                raw
                if isinstance(raw, list)
                else [part.strip() for part in str(raw).split(",")]
                if str(raw)
                else []
            )
        else:
            values[name] = _as_str(raw)
            allowed = spec.get("AllowedValues")
            if allowed and values[name] not in [_as_str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={values[name]!r} not in {allowed}")
    return values


def pseudo_parameters(stack_name: str) -> dict[str, Any]:
    """The pseudo-parameters of a local stack (fixed account and region)."""
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::StackId": (
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/"
            "00000000-0000-0000-0000-000000000000"
        ),
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
