"""HTTP API route matching with API Gateway's precedence rules.

A literal segment beats ``{param}``, which beats a greedy ``{proxy+}``; a specific method beats
``ANY``; the ``$default`` route only catches what nothing else matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from .functions import RouteSpec

_LITERAL, _PARAM, _GREEDY, _DEFAULT = 0, 1, 2, 3


@dataclass(frozen=True)
class _Compiled:
    route: RouteSpec
    segments: tuple[str, ...]
    kinds: tuple[int, ...]


def _compile(route: RouteSpec) -> _Compiled:
    if route.path == "$default":
        return _Compiled(route, (), (_DEFAULT,))
    segments = tuple(route.path.strip("/").split("/")) if route.path.strip("/") else ()
    kinds = []
    for index, seg in enumerate(segments):
        if seg.startswith("{") and seg.endswith("+}"):
            if index != len(segments) - 1:
                raise ValueError(f"greedy {seg} must be the last segment in {route.path}")
            kinds.append(_GREEDY)
        elif seg.startswith("{") and seg.endswith("}"):
            kinds.append(_PARAM)
        else:
            kinds.append(_LITERAL)
    return _Compiled(route, segments, tuple(kinds))


class Router:
    """Finds the route for a method and raw (still percent-encoded) path."""

    def __init__(self, routes: Iterable[RouteSpec]) -> None:
        self._routes = [_compile(r) for r in routes]

    @property
    def routes(self) -> list[RouteSpec]:
        """The routes served, in template order."""
        return [c.route for c in self._routes]

    def match(self, method: str, raw_path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        """Best route and its decoded path parameters, or ``None`` (API Gateway's 404)."""
        parts = raw_path.split("/")[1:] if raw_path.startswith("/") else raw_path.split("/")
        if parts == [""]:
            parts = []
        best: tuple[tuple[tuple[int, ...], bool], RouteSpec, dict[str, str]] | None = None
        for compiled in self._routes:
            if compiled.route.method not in ("ANY", method.upper()):
                continue
            params = _match_segments(compiled, parts)
            if params is None:
                continue
            rank = (compiled.kinds, compiled.route.method == "ANY")
            if best is None or rank < best[0]:
                best = (rank, compiled.route, params)
        return None if best is None else (best[1], best[2])


def _match_segments(compiled: _Compiled, parts: list[str]) -> dict[str, str] | None:
    if compiled.kinds == (_DEFAULT,):
        return {}
    params: dict[str, str] = {}
    for index, (seg, kind) in enumerate(zip(compiled.segments, compiled.kinds, strict=True)):
        if kind == _GREEDY:
            rest = parts[index:]
            if not rest or not rest[0]:
                return None
            params[seg[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(parts):
            return None
        if kind == _LITERAL:
            if unquote(parts[index]) != seg:
                return None
        elif not parts[index]:
            return None
        else:
            params[seg[1:-1]] = unquote(parts[index])
    return params if len(parts) == len(compiled.segments) else None
