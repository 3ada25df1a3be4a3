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
        with _LOCK:
            for name, value in changes.items():
                setattr(self, name, list(value) if isinstance(value, list) else value)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def take_fail(self) -> int | None:
        with _LOCK:
            return self.fail_next.pop(0) if self.fail_next else None

    def take_token_fail(self) -> int | str | None:
        with _LOCK:
            return self.token_fail_next.pop(0) if self.token_fail_next else None

    def take_html_400(self) -> bool:
        with _LOCK:
            if self.html_400_next > 0:
                self.html_400_next -= 1
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
        with _LOCK:
            if self.duplicate_deliveries > 0:
                self.duplicate_deliveries -= 1
                return True
            return False
