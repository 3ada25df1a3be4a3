"""Cold import of each handler, as a ratio to ``python -c "import boto3"`` in the same round.

Each round starts a fresh interpreter per target (boto3 first, then every handler), with
``sys.path`` as Lambda sets it (the function's directory, then the layer) and Lambda's
environment names, so Powertools sets itself up as it would there (tracing included).
Rounds interleave the targets, so a busy moment slows the baseline as much as the handler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.stats import Figure

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "connector"
TARGET_RATIO = 1.5


def handlers() -> list[str]:
    return sorted(d.name for d in FUNCTIONS.iterdir() if (d / "app.py").is_file())


def child_env(function: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHONPATH"))}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{function or 'baseline'}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "servicem8-connector",
        "POWERTOOLS_METRICS_NAMESPACE": "ServiceM8Connector",
    })
    if function is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(FUNCTIONS / function), str(LAYER)])
    return env


def time_import(statement: str, function: str | None) -> float:
    """Wall seconds for a fresh interpreter to run ``statement`` and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement],  # noqa: S603 - our interpreter, fixed code
                   env=child_env(function), check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


# Import time by who is to blame: self times of every module, summed per group.
GROUPS = {
    "boto3 & botocore": ("boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil"),
    "X-Ray SDK": ("aws_xray_sdk", "wrapt"),
    "Powertools": ("aws_lambda_powertools",),
    "pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection"),
    "httpx (with its CLI's rich and click)": ("httpx", "httpcore", "h11", "anyio", "sniffio",
                                              "certifi", "idna", "rich", "click", "pygments"),
    "connector's own modules": ("app", "servicem8_connector"),
}
# What any handler built this way imports, whatever the connector's own code does.
FLOORS = {
    "boto3 + Powertools Logger, Tracer, HTTP resolver": (
        "import boto3; from aws_lambda_powertools import Logger, Tracer;"
        " from aws_lambda_powertools.event_handler import APIGatewayHttpResolver;"
        " Logger(); Tracer(); APIGatewayHttpResolver()"),
    "the same without Tracer (no X-Ray SDK)": (
        "import boto3; from aws_lambda_powertools import Logger;"
        " from aws_lambda_powertools.event_handler import APIGatewayHttpResolver;"
        " Logger(); APIGatewayHttpResolver()"),
}


def heaviest(function: str) -> list[tuple[str, float]]:
    """Milliseconds of the handler's import per group (``-X importtime`` self times)."""
    answer = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"],
                            env=child_env(function), check=True, capture_output=True,
                            text=True, cwd=ROOT)
    totals = dict.fromkeys([*GROUPS, "standard library and the rest"], 0.0)
    for line in answer.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        module = parts[2].strip().split(".")[0]
        own = int(parts[0].rsplit(":", 1)[-1]) / 1000
        group = next((g for g, tops in GROUPS.items() if module in tops),
                     "standard library and the rest")
        totals[group] += own
    return [(group, ms) for group, ms in totals.items() if ms >= 1]


def measure(
    rounds: int = 7, only: tuple[str, ...] = ()
) -> tuple[list[Figure], dict[str, list[tuple[str, float]]]]:
    names = [name for name in handlers() if not only or name in only]
    floors = {} if only else FLOORS
    baseline: list[float] = []
    ratios: dict[str, list[float]] = {key: [] for key in [*floors, *names]}
    seconds: dict[str, list[float]] = {key: [] for key in ratios}
    time_import("import boto3", None)  # the first start also warms the file cache
    for _ in range(rounds):
        boto3_seconds = time_import("import boto3", None)
        baseline.append(boto3_seconds * 1000)
        targets = [*((key, code, None) for key, code in floors.items()),
                   *((name, "import app", name) for name in names)]
        for key, statement, function in targets:
            took = time_import(statement, function)
            seconds[key].append(took * 1000)
            ratios[key].append(took / boto3_seconds)
    figures = [Figure.of('cold `python -c "import boto3"` (baseline)', "ms", baseline)]
    for key in floors:
        figures.append(Figure.of(f"floor: {key} / boto3", "x", ratios[key],
                                 note=f"median {statistics.median(seconds[key]):.0f} ms"))
    for name in names:
        ratio = Figure.of(f"cold import of `functions/{name}` / boto3", "x", ratios[name],
                          target=f"median <= {TARGET_RATIO}x",
                          note=f"median {statistics.median(seconds[name]):.0f} ms")
        figures.append(replace(ratio, met=ratio.median <= TARGET_RATIO))
    breakdown = {name: heaviest(name) for name in names}
    return figures, breakdown
