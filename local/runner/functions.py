"""What the runner needs to know about each ``AWS::Serverless::Function`` of the template.

SAM ``Globals.Function`` are merged in the way SAM does it: scalars are overridden by the
function, ``Environment.Variables`` maps are merged (function wins) and ``Layers`` lists are
concatenated (globals first).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cfn import ACCOUNT_ID, REGION, TemplateError, to_env_value
from .provision import LAYER_TYPES, Provisioner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteSpec:
    """One ``Events: Type: HttpApi`` entry; ``path == "$default"`` is the catch-all route."""

    function_id: str
    event_name: str
    method: str
    path: str
    api_id: str

    @property
    def route_key(self) -> str:
        """``routeKey`` as API Gateway puts it in the event (``"GET /a/{b}"`` or ``$default``)."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSourceSpec:
    """One ``Events: Type: SQS`` entry (an event source mapping)."""

    function_id: str
    event_name: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    batching_window: float = 0.0  # MaximumBatchingWindowInSeconds


@dataclass(frozen=True)
class ScheduleSpec:
    """One ``Events: Type: Schedule`` (EventBridge rule) or ``ScheduleV2`` (Scheduler) entry."""

    function_id: str
    event_name: str
    kind: str
    expression: str
    input: str | None


@dataclass
class FunctionSpec:
    """A function as the runner executes it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    env: dict[str, str]
    timeout: int
    memory: int
    routes: list[RouteSpec] = field(default_factory=list)
    sqs_sources: list[SqsSourceSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)

    @property
    def log_group(self) -> str:
        """``/aws/lambda/<name>``, as Lambda reports it in the context."""
        return f"/aws/lambda/{self.name}"


def _layer_dir(root: Path, spec: dict[str, Any]) -> Path | None:
    props = spec.get("Properties") or {}
    uri = props.get("ContentUri") or props.get("Content")
    if not isinstance(uri, str):
        return None
    path = (root / uri).resolve()
    built = (spec.get("Metadata") or {}).get("BuildMethod")
    if not built and (path / "python").is_dir():
        return path / "python"
    return path


def function_specs(p: Provisioner, project_root: Path) -> dict[str, FunctionSpec]:
    """Every active ``AWS::Serverless::Function`` of the provisioned template, by logical id."""
    globals_fn = (p.template.get("Globals") or {}).get("Function") or {}
    specs: dict[str, FunctionSpec] = {}
    for lid, res in p.resources.items():
        if res.get("Type") != "AWS::Serverless::Function" or not p.active(lid):
            continue
        props = res.get("Properties") or {}
        specs[lid] = _function_spec(p, project_root, lid, props, globals_fn)
    return specs


def _function_spec(
    p: Provisioner, root: Path, lid: str, props: dict[str, Any], globals_fn: dict[str, Any]
) -> FunctionSpec:
    def prop(key: str, default: Any = None) -> Any:
        return p.resolver.resolve(props.get(key, globals_fn.get(key, default)))

    code_uri = prop("CodeUri")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{lid}: CodeUri must be a local directory to run it locally")
    variables: dict[str, Any] = {}
    for source in (globals_fn, props):
        variables.update(((source.get("Environment") or {}).get("Variables")) or {})
    env = {k: to_env_value(v) for k, v in p.resolver.resolve(variables).items()}
    layers: list[Path] = []
    for item in [*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])]:
        target = item.get("Ref") if isinstance(item, dict) and set(item) == {"Ref"} else None
        layer = p.resources.get(target or "", {})
        if layer.get("Type") in LAYER_TYPES:
            path = _layer_dir(root, layer)
            if path is not None:
                layers.append(path)
    name = p.ref(lid)
    spec = FunctionSpec(
        logical_id=lid,
        name=name,
        arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        code_dir=(root / code_uri).resolve(),
        handler=str(prop("Handler", "app.lambda_handler")),
        layer_dirs=layers,
        env=env,
        timeout=int(prop("Timeout", 3)),
        memory=int(prop("MemorySize", 128)),
    )
    for event_name, event in (props.get("Events") or {}).items():
        _add_event(p, spec, event_name, event)
    return spec


def _add_event(p: Provisioner, spec: FunctionSpec, name: str, event: dict[str, Any]) -> None:
    kind = event.get("Type")
    ev = p.resolver.resolve(event.get("Properties") or {})
    lid = spec.logical_id
    if kind == "HttpApi":
        if str(ev.get("PayloadFormatVersion", "2.0")) != "2.0":
            raise TemplateError(f"{lid}.{name}: only HttpApi payload format 2.0 is emulated")
        path = ev.get("Path") or "$default"
        method = "ANY" if path == "$default" else str(ev.get("Method") or "ANY").upper()
        api_id = str(ev.get("ApiId") or "localapi")
        spec.routes.append(RouteSpec(lid, name, method, path, api_id))
    elif kind == "SQS":
        if ev.get("Enabled", True) is False:
            return
        report = "ReportBatchItemFailures" in (ev.get("FunctionResponseTypes") or [])
        batch = int(ev.get("BatchSize", 10))
        window = float(ev.get("MaximumBatchingWindowInSeconds", 0))
        spec.sqs_sources.append(SqsSourceSpec(lid, name, str(ev["Queue"]), batch, report, window))
    elif kind in ("Schedule", "ScheduleV2"):
        raw = ev.get("Input")
        text = None if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
        expression = str(ev.get("Schedule") or ev.get("ScheduleExpression") or "")
        spec.schedules.append(ScheduleSpec(lid, name, str(kind), expression, text))
    else:
        log.warning("%s.%s: event source type %s is not emulated", lid, name, kind)
