"""A stand-in for the ``LambdaContext`` object the Lambda Python runtime passes to handlers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .functions import FunctionSpec


class LambdaContext:
    """Carries the attributes Powertools and handlers read (names as in the real runtime)."""

    function_version = "$LATEST"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def __init__(self, spec: FunctionSpec, log_stream_name: str) -> None:
        self.function_name = spec.name
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = spec.log_group
        self.log_stream_name = log_stream_name
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left until the function's ``Timeout`` (not enforced, only reported)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def new_log_stream_name() -> str:
    """A log stream name in the runtime's format: ``2026/12/04/[$LATEST]<hex>``."""
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{uuid.uuid4().hex}"
