"""Per app + account throttling (FACTS §2.6): 180 calls per rolling minute, 20,000 per day.

Only calls that are let through are counted, so a client that backs off after its first 429
gets going again once the window slides; the token endpoint is never counted.
"""

from __future__ import annotations

import threading
from collections import deque

from local.emulator.replies import PER_DAY_TEXT, PER_MINUTE_TEXT

_MINUTE = 60.0
_DAY = 86400.0


class RateLimiter:
    def __init__(self, per_minute: int, per_day: int) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self._lock = threading.Lock()
        # One deque of call times per (app, account): the day deque also serves the minute
        # count, trimmed lazily, so memory stays bounded by per_day entries per bucket.
        self._calls: dict[tuple[str, str], deque[float]] = {}

    def check(self, app_key: str, account_uuid: str, now: float) -> str | None:
        """Count a call; return the 429 text when it must be refused instead."""
        with self._lock:
            calls = self._calls.setdefault((app_key, account_uuid), deque())
            while calls and calls[0] <= now - _DAY:
                calls.popleft()
            if len(calls) >= self.per_day:
                return PER_DAY_TEXT
            if self._count_since(calls, now - _MINUTE) >= self.per_minute:
                return PER_MINUTE_TEXT
            calls.append(now)
            return None

    def _count_since(self, calls: deque[float], since: float) -> int:
        # Walk from the newest end: at most per_minute + 1 steps, whatever the day count is.
        count = 0
        for stamp in reversed(calls):
            if stamp <= since:
                break
            count += 1
            if count > self.per_minute:
                break
        return count

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
