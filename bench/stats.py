"""Figures as the report shows them: median and p99 over repeated runs, and a target."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 7 runs is the slowest run)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Figure:
    """One row of docs/benchmarks.md."""

    name: str
    unit: str
    median: float
    p99: float
    samples: int
    target: str  # e.g. "p99 < 50 ms"; empty when the figure is for information
    met: bool | None  # None: no target
    note: str = ""

    @classmethod
    def of(cls, name: str, unit: str, values: Sequence[float], *, target: str = "",
           met: bool | None = None, note: str = "") -> Figure:
        return cls(name, unit, statistics.median(values), percentile(values, 0.99),
                   len(values), target, met, note)


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
