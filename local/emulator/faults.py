"""Fault switches: misbehaviour a connector must survive (FACTS §2.3, §2.6, §4.3-§4.4).

Counters are consumed one per use, so a test sets "the next three calls fail" and then
observes the recovery without resetting anything.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields

_LOCK = threading.Lock()


@dataclass
class Faults:
    latency_seconds: float = 0.0
    # Status codes for the next API calls (/api_1.0 and /webhook_subscriptions), one each.
    fail_next: list[int] = field(default_factory=list)
    # Token endpoint failures: an int status, or an OAuth error name answered with 400.
    token_fail_next: list[int | str] = field(default_factory=list)
    html_400_next: int = 0
    # 200 text/html "interstitial" with no x-record-uuid: success status, unusable body.
    html_200_next: int = 0
    # int n >= 1: drop the next n deliveries; float in (0, 1]: drop each with that probability.
    drop_deliveries: float | int = 0
    # Each of the next n deliveries is sent one extra time (same body, same event id).
    duplicate_deliveries: int = 0
    reorder_deliveries: bool = False
    object_entries_per_delivery: int = 1
    event_webhooks_enabled: bool = True
    unpaid_accounts: list[str] = field(default_factory=list)
    _random: random.Random = field(default_factory=lambda: random.Random(7), repr=False)

    def update(self, changes: dict[str, object]) -> None:
        """Apply switches from a JSON object; unknown names raise KeyError."""
        names = {f.name for f in fields(self) if not f.name.startswith("_")}
        for name in changes:
            if name not in names:
                raise KeyError(name)
        coerced = {name: _coerce(name, value) for name, value in changes.items()}
        with _LOCK:
            for name, value in coerced.items():
                setattr(self, name, value)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def take_fail(self) -> int | None:
        with _LOCK:
            return self.fail_next.pop(0) if self.fail_next else None

    def take_token_fail(self) -> int | str | None:
        with _LOCK:
            return self.token_fail_next.pop(0) if self.token_fail_next else None

    def take_html_400(self) -> bool:
        return self._take_count("html_400_next")

    def take_html_200(self) -> bool:
        return self._take_count("html_200_next")

    def _take_count(self, name: str) -> bool:
        with _LOCK:
            remaining = int(getattr(self, name))
            if remaining > 0:
                setattr(self, name, remaining - 1)
                return True
            return False

    def take_drop(self) -> bool:
        with _LOCK:
            drop = self.drop_deliveries
            if isinstance(drop, bool) or not drop:
                return False
            if isinstance(drop, int):
                self.drop_deliveries = drop - 1
                return True
            return self._random.random() < drop

    def take_duplicate(self) -> bool:
        return self._take_count("duplicate_deliveries")


def _coerce(name: str, value: object) -> object:
    """Type-check switches arriving as JSON, so a bad value fails at set time, not mid-call."""
    if name in ("fail_next",):
        return [_int(v) for v in _as_list(value)]
    if name == "token_fail_next":
        return [v if isinstance(v, str) else _int(v) for v in _as_list(value)]
    if name == "unpaid_accounts":
        return [str(v) for v in _as_list(value)]
    if name in ("reorder_deliveries", "event_webhooks_enabled"):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false")
        return value
    if name == "latency_seconds":
        return float(_int_or_float(value))
    if name == "drop_deliveries":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("drop_deliveries must be a count or a probability")
        return value
    return _int(value)


def _int_or_float(value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _int(value: object) -> int:
    number = _int_or_float(value)
    if number != int(number):
        raise TypeError(f"expected a whole number, got {value!r}")
    return int(number)


def _as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return list(value)
