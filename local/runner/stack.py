"""``LocalStack``: the Docker-free stand-in for ``sam local`` that runs one template in-process."""

from __future__ import annotations

import logging
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.server import ThreadedMotoServer

from .cfn import parameter_values
from .cfn_yaml import load_template
from .env import EnvPatch, sdk_env, split_function_env
from .functions import FunctionSpec, RouteSpec, ScheduleSpec, function_specs
from .gateway import Gateway, GatewayServer
from .handlers import FunctionRuntime, SysPath, purge_modules
from .pollers import Activity, SqsPoller
from .provision import Provisioner, aws_client
from .schedules import ScheduleTimer, scheduled_event

log = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "servicem8-connector-local"
_NOISY_LOGGERS = ("werkzeug",)
#: started stacks of this process (moto state is process-wide, so more than one is a hazard)
_ACTIVE: list[LocalStack] = []


class LocalStack:
    """Runs ``template_path`` locally: moto for AWS services, handlers in this process.

    ``start()`` starts moto (reset), provisions the template's tables/queues/bus/rules/keys/
    secrets, points this process's AWS SDKs at moto (fake credentials), serves the HTTP API
    routes and polls the SQS event sources.  ``stop()`` undoes all of it, environment included.
    """

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        project_root: str | Path = ".",
        parameter_overrides: dict[str, Any] | None = None,
        api_port: int = 0,
        stack_name: str = DEFAULT_STACK_NAME,
        poll_sqs: bool = True,
        run_schedules_every: float | None = None,
        moto_port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.project_root = Path(project_root).resolve()
        self.template_path = self.project_root / template_path
        self.template = load_template(self.template_path)
        self.parameters = parameter_values(self.template, parameter_overrides)
        self.stack_name = stack_name
        self.api_port = api_port
        self.moto_port = moto_port
        self.poll_sqs = poll_sqs
        self.run_schedules_every = run_schedules_every
        self.quiet = quiet
        self.api_url = ""
        self.moto_url = ""
        self.functions: dict[str, FunctionSpec] = {}
        self._env = EnvPatch()
        self._paths = SysPath()
        self._activity = Activity()
        self._moto: ThreadedMotoServer | None = None
        self._provisioner: Provisioner | None = None
        self._runtimes: dict[str, FunctionRuntime] = {}
        self._gateway: Gateway | None = None
        self._server: GatewayServer | None = None
        self._pollers: list[SqsPoller] = []
        self._timer: ScheduleTimer | None = None
        self._log_levels: dict[str, int] = {}
        self._modules_before: frozenset[str] = frozenset()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """Bring the whole stack up; on any failure everything started so far is stopped."""
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        others = [s for s in _ACTIVE if s is not self]
        if others:
            log.warning(
                "another LocalStack (%s) is running in this process; all in-process moto "
                "servers share one state, so starting this one wipes that stack's resources",
                others[0].stack_name,
            )
        _ACTIVE.append(self)
        self._modules_before = frozenset(sys.modules)
        if self.quiet:
            for name in _NOISY_LOGGERS:
                logger = logging.getLogger(name)
                self._log_levels[name] = logger.level
                logger.setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{self._moto.get_host_and_port()[1]}"
        self._env.apply(sdk_env(self.moto_url))
        self._reset_moto()
        purge_modules([], [])  # drop Powertools' cached clients from earlier stacks
        self._provisioner = Provisioner(
            self.template, self.parameters, self.stack_name, self.moto_url
        )
        self._provisioner.provision()
        self.functions = function_specs(self._provisioner, self.project_root)
        shared, conflicting = split_function_env({k: f.env for k, f in self.functions.items()})
        self._env.apply(shared)
        self._runtimes = {
            lid: FunctionRuntime(spec, conflicting, self._paths)
            for lid, spec in self.functions.items()
        }
        self._gateway = Gateway(self.routes, self.invoke)
        self._server = GatewayServer(self._gateway, self.api_port)
        self._server.start()
        self.api_url = self._server.url
        if self.poll_sqs:
            self._start_pollers()
        if self.run_schedules_every:
            schedules = [s for f in self.functions.values() for s in f.schedules]
            self._timer = ScheduleTimer(schedules, self.run_schedules_every, self._fire)
            self._timer.start()

    def _reset_moto(self) -> None:
        # every in-process moto server shares one state: start from a clean slate
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = f"{self.moto_url}/moto-api/reset"  # always http://127.0.0.1:<port>
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with opener.open(request, timeout=10) as response:
            response.read()

    def _start_pollers(self) -> None:
        assert self._provisioner is not None
        queues = {
            r.attributes["Arn"]: r.physical_id
            for r in self._provisioner.records.values()
            if r.type == "AWS::SQS::Queue"
        }
        for spec in self.functions.values():
            for source in spec.sqs_sources:
                if source.queue_arn not in queues:
                    raise KeyError(f"{spec.logical_id}: queue {source.queue_arn} not provisioned")
                patch = source.queue_arn in self._provisioner.event_fed_queue_arns
                poller = SqsPoller(
                    source,
                    queues[source.queue_arn],
                    self.moto_url,
                    self.invoke,
                    patch,
                    self._activity,
                )
                self._pollers.append(poller)
                poller.start()

    def stop(self) -> None:
        """Stop timer, pollers, gateway and moto; restore environment, sys.path and loggers."""
        if self._timer is not None:
            self._timer.stop()
        for poller in self._pollers:
            poller.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        for poller in self._pollers:  # each finishes its current long poll (≤1 s)
            poller.join(timeout=5)
        self._pollers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._env.restore()
        dirs = {d for f in self.functions.values() for d in [f.code_dir, *f.layer_dirs]}
        names = [r.module_name for r in self._runtimes.values()]
        purge_modules(dirs, names, keep=self._modules_before)
        self._paths.remove()
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels.clear()
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        self._started = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lookups -----------------------------------------------------------------------------
    @property
    def provisioner(self) -> Provisioner:
        """The provisioner of the running stack (records, skipped resources, resolver)."""
        if self._provisioner is None:
            raise RuntimeError("LocalStack is not started")
        return self._provisioner

    def physical_id(self, logical_id: str) -> Any:
        """``Ref`` value: table/bus/rule name, queue URL, key id, secret ARN, function name…"""
        return self.provisioner.ref(logical_id)

    def attribute(self, logical_id: str, name: str) -> Any:
        """``Fn::GetAtt`` value, e.g. ``attribute("DeliveryQueue", "Arn")``."""
        return self.provisioner.getatt(logical_id, name)

    @property
    def skipped(self) -> dict[str, str]:
        """Resources of the template that are not emulated, with the reason."""
        return dict(self.provisioner.skipped)

    @property
    def routes(self) -> list[RouteSpec]:
        """Every HttpApi route served by the gateway."""
        return [route for spec in self.functions.values() for route in spec.routes]

    def function_env(self, logical_id: str) -> dict[str, str]:
        """The function's template environment (Globals merged, intrinsics resolved)."""
        return dict(self._spec(logical_id).env)

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's moto server."""
        return aws_client(service, self.moto_url)

    def _spec(self, logical_id: str) -> FunctionSpec:
        if logical_id not in self.functions:
            raise KeyError(f"no AWS::Serverless::Function {logical_id!r} in the started stack")
        return self.functions[logical_id]

    @property
    def wsgi_app(self) -> Gateway:
        """The gateway's WSGI callable (``httpx.WSGITransport(app=stack.wsgi_app)``)."""
        if self._gateway is None:
            raise RuntimeError("LocalStack is not started")
        return self._gateway

    # -- invocation --------------------------------------------------------------------------
    def function_runtime(self, logical_id: str) -> FunctionRuntime:
        """The function's runtime; tools like ``local.chaos`` wrap its ``invoke``."""
        self._spec(logical_id)
        return self._runtimes[logical_id]

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the function's handler with ``event``; its exceptions propagate."""
        self._spec(logical_id)
        return self._runtimes[logical_id].invoke(event)

    def invoke_schedule(self, logical_id: str, event_name: str | None = None) -> Any:
        """Invoke ``logical_id`` with the event its (first or named) schedule would send."""
        schedules = self._spec(logical_id).schedules
        for schedule in schedules:
            if event_name in (None, schedule.event_name):
                return self._fire(schedule)
        raise KeyError(f"{logical_id} has no Schedule/ScheduleV2 event {event_name or ''}")

    def _fire(self, schedule: ScheduleSpec) -> Any:
        return self.invoke(schedule.function_id, scheduled_event(schedule, self.stack_name))

    @contextmanager
    def paused(self, logical_id: str) -> Iterator[None]:
        """The function's queue pollers receive nothing inside the block; messages pile up."""
        pollers = [p for p in self._pollers if p.source.function_id == logical_id]
        for poller in pollers:
            poller.pause()
        try:
            yield
        finally:
            for poller in pollers:
                poller.resume()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every polled queue is empty and no batch is running.

        Raises ``TimeoutError`` after ``timeout`` seconds.  Messages waiting out a visibility
        timeout after a failure count as not drained.
        """
        deadline = time.monotonic() + timeout
        sqs = self.client("sqs")
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        while True:
            running, generation = self._activity.snapshot()
            if running == 0:
                empty = all(
                    all(
                        int(v) == 0
                        for v in sqs.get_queue_attributes(
                            QueueUrl=p.queue_url, AttributeNames=names
                        )["Attributes"].values()
                    )
                    for p in self._pollers
                )
                if empty and self._activity.snapshot() == (0, generation):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues not drained within {timeout}s")
            time.sleep(0.05)
