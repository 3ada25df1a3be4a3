"""Prints the figures of docs/style.md: line widths and function sizes per area.

Measured as STYLE.md measures the anchors: non-blank lines for widths; a
function runs from ``def`` to its last line, docstring included (``ast``).
"""

from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AREAS = {
    "library": "layers/connector/servicem8_connector",
    "handlers": "functions",
    "local stack": "local",
    "tests": "tests",
}


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def figures(folder: Path) -> dict[str, float]:
    widths: list[int] = []
    sizes: list[int] = []
    files = [p for p in folder.rglob("*.py") if ".mypy_cache" not in p.parts]
    for path in files:
        text = path.read_text()
        widths.extend(len(line) for line in text.splitlines() if line.strip())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes.append((node.end_lineno or node.lineno) - node.lineno + 1)
    return {
        "files": len(files),
        "lines": len(widths),
        "max": max(widths, default=0),
        "p50": percentile(widths, 0.5),
        "p90": percentile(widths, 0.9),
        "over88": round(100 * sum(w > 88 for w in widths) / max(len(widths), 1), 1),
        "fn_median": statistics.median(sizes) if sizes else 0,
        "fn_max": max(sizes, default=0),
        "functions": len(sizes),
    }


def main() -> int:
    print("| Area | Files | Lines | Max width | p50 | p90 | >88 cols | Functions (median / max) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, folder in AREAS.items():
        f = figures(ROOT / folder)
        print(f"| {name} (`{folder}`) | {f['files']} | {f['lines']} | {f['max']} | {f['p50']} | "
              f"{f['p90']} | {f['over88']} % | {f['functions']} ({f['fn_median']} / "
              f"{f['fn_max']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
