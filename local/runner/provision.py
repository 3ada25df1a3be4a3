"""Creates the template's data-plane resources in moto, in dependency order.

Only the resource types in ``CREATORS`` are created; everything else is recorded in
``Provisioner.skipped`` ("not emulated") but still gets a plausible ``Ref``/``Arn`` so that
intrinsics pointing at it resolve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import boto3

from .cfn import ACCOUNT_ID, REGION, Resolver, TemplateError, pseudo_parameters, references
from .records import Record
from .resources import CREATORS

log = logging.getLogger(__name__)

HTTP_API_TYPES = {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"}
LAYER_TYPES = {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
#: handled by the runner itself (in-process functions, gateway, sys.path), not by moto
RUNNER_TYPES = {"AWS::Serverless::Function", "AWS::Serverless::LayerVersion", *HTTP_API_TYPES}


_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for moto with fake credentials; never reads profiles or real keys.

    One session is shared so that service models are parsed once per process (≈0.1 s each).
    """
    global _SESSION
    with _SESSION_LOCK:  # boto3 sessions are not thread-safe; their clients are
        if _SESSION is None:
            _SESSION = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
                aws_session_token="testing",  # noqa: S106
                region_name=REGION,
            )
        return _SESSION.client(service, endpoint_url=endpoint_url)


class Provisioner:
    """Resolves and provisions one template against a moto endpoint."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        stack_name: str,
        endpoint_url: str,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        self.stack_name = stack_name
        self.endpoint_url = endpoint_url
        self.records: dict[str, Record] = {}
        self.skipped: dict[str, str] = {}
        #: queue ARNs fed verbatim by an EventBridge rule (their bodies are event envelopes)
        self.event_fed_queue_arns: set[str] = set()
        self.resolver = Resolver(
            template, parameters, pseudo_parameters(stack_name), self.ref, self.getatt
        )
        self._clients: dict[str, Any] = {}
        self._http_apis = [k for k, v in self.resources.items() if v.get("Type") in HTTP_API_TYPES]

    # -- lookups used by the resolver -------------------------------------------------------
    def ref(self, logical_id: str) -> Any:
        """``Ref`` of a resource: its physical id."""
        return self._record(logical_id).physical_id

    def getatt(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt`` of a resource."""
        record = self._record(logical_id)
        if attribute not in record.attributes:
            raise TemplateError(f"{logical_id} ({record.type}) has no attribute {attribute!r}")
        return record.attributes[attribute]

    def active(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` is false."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(condition)

    def _record(self, logical_id: str) -> Record:
        if logical_id in self.records:
            return self.records[logical_id]
        spec = self.resources.get(logical_id)
        if spec is None:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id!r}")
        if not self.active(logical_id):
            raise TemplateError(f"{logical_id} is referenced but its Condition is false")
        if spec.get("Type") in CREATORS:
            raise TemplateError(f"{logical_id} referenced before it was provisioned")
        self.records[logical_id] = self._synthetic(logical_id, spec)
        return self.records[logical_id]

    def _synthetic(self, logical_id: str, spec: Mapping[str, Any]) -> Record:
        kind = str(spec.get("Type"))
        props = spec.get("Properties") or {}
        prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}"
        default = f"{self.stack_name}-{logical_id}"
        if kind in FUNCTION_TYPES:
            name = self.resolver.resolve(props.get("FunctionName")) or default
            arn = f"{prefix.format('lambda')}:function:{name}"
            return Record(logical_id, kind, name, {"Arn": arn}, False)
        if kind in HTTP_API_TYPES:
            index = self._http_apis.index(logical_id)
            api_id = "localapi" if index == 0 else f"localapi{index + 1}"
            return Record(logical_id, kind, api_id, {"ApiId": api_id, "ApiEndpoint": ""}, False)
        if kind in LAYER_TYPES:
            name = self.resolver.resolve(props.get("LayerName")) or default
            return Record(logical_id, kind, f"{prefix.format('lambda')}:layer:{name}:1", {}, False)
        if kind == "AWS::Logs::LogGroup":
            name = self.resolver.resolve(props.get("LogGroupName")) or default
            arn = f"{prefix.format('logs')}:log-group:{name}:*"
            return Record(logical_id, kind, name, {"Arn": arn}, False)
        if kind == "AWS::SNS::Topic":
            name = self.resolver.resolve(props.get("TopicName")) or default
            arn = f"{prefix.format('sns')}:{name}"
            return Record(logical_id, kind, arn, {"TopicArn": arn, "TopicName": name}, False)
        service = kind.split("::")[1].lower() if kind.count("::") >= 2 else "unknown"
        arn = f"{prefix.format(service)}:{logical_id.lower()}/{default}"
        return Record(logical_id, kind, default, {"Arn": arn}, False)

    # -- provisioning -----------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A cached moto client for ``service``."""
        if service not in self._clients:
            self._clients[service] = aws_client(service, self.endpoint_url)
        return self._clients[service]

    def order(self) -> list[str]:
        """Active resources, dependencies first (stable: template order among equals)."""
        names = [name for name in self.resources if self.active(name)]
        deps: dict[str, set[str]] = {}
        for name in names:
            spec = self.resources[name]
            depends = spec.get("DependsOn") or []
            depends = [depends] if isinstance(depends, str) else list(depends)
            found = references({k: v for k, v in spec.items() if k != "Condition"})
            deps[name] = {d for d in [*found, *depends] if d in self.resources and d != name}
        done: list[str] = []
        pending = list(names)
        while pending:
            ready = [n for n in pending if all(d in done or d not in names for d in deps[n])]
            if not ready:
                raise TemplateError(f"circular references between {sorted(pending)}")
            done.extend(ready)
            pending = [n for n in pending if n not in ready]
        return done

    def provision(self) -> None:
        """Create every emulated resource; record the rest as skipped."""
        for logical_id in self.order():
            spec = self.resources[logical_id]
            kind = str(spec.get("Type"))
            creator = CREATORS.get(kind)
            if creator is None:
                if kind not in RUNNER_TYPES:
                    self.skipped[logical_id] = f"{kind}: not emulated"
                continue
            props = self.resolver.resolve(spec.get("Properties") or {})
            record = creator(self, logical_id, props)
            if record is None:
                continue
            self.records[logical_id] = record
            log.debug("provisioned %s (%s) -> %s", logical_id, kind, record.physical_id)

    def default_name(self, logical_id: str, limit: int = 255) -> str:
        """Deterministic physical name for resources the template leaves unnamed."""
        return f"{self.stack_name}-{logical_id}"[:limit]
