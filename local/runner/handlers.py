"""Loads function handlers in-process (lazily, like a cold start) and calls them."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Container, Iterable
from pathlib import Path
from typing import Any

from .context import LambdaContext, new_log_stream_name
from .functions import FunctionSpec

log = logging.getLogger(__name__)

#: sys.path, sys.modules and os.environ are process-global: imports happen one at a time
IMPORT_LOCK = threading.RLock()

Handler = Callable[[Any, Any], Any]


def _reserved_env(spec: FunctionSpec, log_stream: str) -> dict[str, str]:
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "_HANDLER": spec.handler,
    }


class FunctionRuntime:
    """One function's "execution environment": its module and how to call its handler."""

    def __init__(self, spec: FunctionSpec, import_only_env: Iterable[str], paths: SysPath) -> None:
        self.spec = spec
        self.module_name = f"sam_fn_{spec.logical_id}"
        self._import_only = set(import_only_env)
        self._paths = paths
        self._handler: Handler | None = None
        self._log_stream = new_log_stream_name()

    def import_env(self) -> dict[str, str]:
        """Variables set only while the module imports (reserved + conflicting template ones)."""
        env = _reserved_env(self.spec, self._log_stream)
        env.update({k: v for k, v in self.spec.env.items() if k in self._import_only})
        return env

    def handler(self) -> Handler:
        """The handler callable, importing the module on first use."""
        if self._handler is None:
            with IMPORT_LOCK:
                if self._handler is None:
                    self._handler = self._load()
        return self._handler

    def _load(self) -> Handler:
        module_part, _, attr = self.spec.handler.rpartition(".")
        source = self.spec.code_dir / (module_part.replace(".", "/") + ".py")
        if not source.is_file():
            raise FileNotFoundError(f"{self.spec.logical_id}: handler file {source} not found")
        self._paths.front([self.spec.code_dir, *self.spec.layer_dirs])
        overlay = self.import_env()
        saved = {name: os.environ.get(name) for name in overlay}
        os.environ.update(overlay)
        try:
            module_spec = importlib.util.spec_from_file_location(self.module_name, source)
            assert module_spec is not None
            assert module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[self.module_name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(self.module_name, None)
                raise
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        handler = getattr(module, attr, None)
        if not callable(handler):
            raise AttributeError(f"{self.spec.logical_id}: {source} has no callable {attr!r}")
        return handler  # type: ignore[no-any-return]

    def invoke(self, event: Any) -> Any:
        """Call the handler with ``event`` and a fresh context; exceptions propagate."""
        handler = self.handler()
        context = LambdaContext(self.spec, self._log_stream)
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > self.spec.timeout:
                log.warning(
                    "%s ran %.1fs, longer than its Timeout of %ss (Lambda would have stopped it)",
                    self.spec.logical_id,
                    elapsed,
                    self.spec.timeout,
                )


class SysPath:
    """The code and layer directories the stack put on ``sys.path``, removable as a group."""

    def __init__(self) -> None:
        self._added: list[str] = []

    def front(self, dirs: Iterable[Path]) -> None:
        """Put ``dirs`` (in order) at the front of ``sys.path``: code first, then layers."""
        wanted = [str(d) for d in dirs]
        for entry in wanted:
            if entry in sys.path and entry in self._added:
                sys.path.remove(entry)
        for index, entry in enumerate(w for w in wanted if w not in sys.path):
            sys.path.insert(index, entry)
            if entry not in self._added:
                self._added.append(entry)

    def remove(self) -> None:
        """Take the added entries off ``sys.path`` again."""
        for entry in self._added:
            while entry in sys.path:
                sys.path.remove(entry)
        self._added.clear()


def purge_modules(
    dirs: Iterable[Path], names: Iterable[str], keep: Container[str] = frozenset()
) -> None:
    """Forget handler modules and what they imported from ``dirs`` (next start = cold start).

    Module-level boto3 clients in those modules point at this stack's moto port; keeping them
    would send the next stack's calls to a dead endpoint.  Modules named in ``keep`` (those
    imported before the stack started, e.g. by tests) are left alone.
    """
    roots = [str(d.resolve()) + os.sep for d in dirs]
    doomed = set(names)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name not in keep and any(file.startswith(root) for root in roots):
            doomed.add(name)
    for name in doomed:
        sys.modules.pop(name, None)
    _clear_powertools_caches()


def _clear_powertools_caches() -> None:
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is None:
        return
    try:
        parameters.clear_caches()
        parameters.base.DEFAULT_PROVIDERS.clear()
    except AttributeError:  # pragma: no cover - other Powertools versions
        log.debug("Powertools parameters caches not cleared", exc_info=True)
