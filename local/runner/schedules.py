"""Scheduled invocations: the events EventBridge rules and EventBridge Scheduler send."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .cfn import ACCOUNT_ID, REGION
from .functions import ScheduleSpec

log = logging.getLogger(__name__)


def scheduled_event(schedule: ScheduleSpec, stack_name: str) -> Any:
    """The payload a ``Schedule`` (rule) or ``ScheduleV2`` (Scheduler) event delivers.

    With ``Input`` the target gets exactly that JSON; otherwise a "Scheduled Event" envelope
    (source ``aws.events`` for rules, ``aws.scheduler`` for EventBridge Scheduler).
    """
    if schedule.input is not None:
        try:
            return json.loads(schedule.input)
        except ValueError:
            return schedule.input
    name = f"{stack_name}-{schedule.function_id}{schedule.event_name}"
    detail: Any
    if schedule.kind == "ScheduleV2":
        source, detail = "aws.scheduler", "{}"
        resource = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{name}"
    else:
        source, detail = "aws.events", {}
        resource = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [resource],
        "detail": detail,
    }


class ScheduleTimer(threading.Thread):
    """Fires every schedule of the stack every ``interval`` seconds (``make local`` helper)."""

    def __init__(
        self,
        schedules: Iterable[ScheduleSpec],
        interval: float,
        fire: Callable[[ScheduleSpec], Any],
    ) -> None:
        super().__init__(name="local-schedules", daemon=True)
        self._schedules = list(schedules)
        self._interval = interval
        self._fire = fire
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            for schedule in self._schedules:
                try:
                    self._fire(schedule)
                except Exception:
                    log.exception("scheduled run of %s failed", schedule.function_id)
