"""Cold import of each handler, as a ratio to ``python -c "import boto3"`` in the same round.

Each round starts a fresh interpreter per target (boto3 first, then every handler) laid out
as Lambda lays it out, not as the dev venv is: ``python -S`` (no site-packages), and
``PYTHONPATH`` the function's directory, the connector's source, the layer's dependencies
(``pip install --target`` from ``layers/connector/requirements.txt``) and a runtime
directory holding only boto3 (Lambda's runtime ships it on its own path), the last two
cached under ``.bench/``. The baseline imports boto3 from that runtime directory alone.
The children get Lambda's environment names, ``LAMBDA_TASK_ROOT`` included, so Powertools
and the X-Ray SDK set themselves up as they would there (tracing on). Bytecode as shipped:
the layer's Makefile compiles the connector and its dependencies for 3.12, so the copy of
the connector here is compiled the same way and the dependencies keep pip's ``.pyc``; the
function's own ``app.py`` (built by SAM's Python builder) is copied without any.
Rounds interleave the targets, so a busy moment slows the baseline as much as the handler.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench.stats import Figure

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "connector"
REQUIREMENTS = LAYER / "requirements.txt"
CACHE = ROOT / ".bench"
TARGET_RATIO = 1.5


def handlers() -> list[str]:
    return sorted(d.name for d in FUNCTIONS.iterdir() if (d / "app.py").is_file())


def _pip_target(directory: Path, *requirements: str) -> Path:
    """``directory`` with ``requirements`` installed, once (a finished install leaves a mark)."""
    done = directory / ".installed"
    if not done.exists():
        shutil.rmtree(directory, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",  # noqa: S603
                        "--disable-pip-version-check", "--target", str(directory),
                        *requirements], check=True, capture_output=True)
        done.touch()
    return directory


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join([sys.version, *parts]).encode()).hexdigest()[:16]


def layer_dependencies() -> Path:
    """The layer's pinned requirements, as ``sam build`` puts them in ``/opt/python``."""
    text = REQUIREMENTS.read_text()
    return _pip_target(CACHE / f"layer-{_key(text)}", "-r", str(REQUIREMENTS))


def runtime_boto3() -> Path:
    """boto3 alone, at the dev venv's version: what the Lambda runtime ships."""
    import boto3

    pin = f"boto3=={boto3.__version__}"
    return _pip_target(CACHE / f"runtime-{_key(pin)}", pin)


@dataclass(frozen=True)
class Layout:
    """Where a child interpreter finds things: Lambda's order of ``sys.path``."""

    functions: Path  # copies of functions/*, without __pycache__
    layer_source: Path  # a copy of layers/connector, compiled as the Makefile does
    dependencies: Path
    runtime: Path

    def path(self, function: str | None, with_layer: bool) -> list[Path]:
        task = [self.functions / function] if function else []
        layer = [self.layer_source, self.dependencies] if with_layer else []
        return [*task, *layer, self.runtime]


@contextmanager
def lambda_layout() -> Iterator[Layout]:
    deps, runtime = layer_dependencies(), runtime_boto3()
    no_cache = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as scratch:
        code = Path(scratch)
        shutil.copytree(FUNCTIONS, code / "functions", ignore=no_cache)
        shutil.copytree(LAYER / "servicem8_connector", code / "layer" / "servicem8_connector",
                        ignore=no_cache)
        # As layers/connector/Makefile does: hash-checked-never .pyc, valid inside a zip.
        compileall.compile_dir(code / "layer", quiet=1,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        yield Layout(code / "functions", code / "layer", deps, runtime)


def child_env(layout: Layout, function: str | None, with_layer: bool = True) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHON", "LAMBDA_", "_X_AMZN"))}
    task_root = layout.functions / function if function else layout.runtime
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{function or 'baseline'}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(task_root),
        "POWERTOOLS_SERVICE_NAME": "servicem8-connector",
        "POWERTOOLS_METRICS_NAMESPACE": "ServiceM8Connector",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(str(p) for p in layout.path(function, with_layer)),
    })
    return env


def _run(layout: Layout, statement: str, function: str | None, *, with_layer: bool = True,
         flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = child_env(layout, function, with_layer)
    # -P: no script directory on sys.path; the working directory is the task root, as in Lambda.
    return subprocess.run([sys.executable, "-S", "-P", *flags, "-c", statement],  # noqa: S603
                          env=env, check=True, capture_output=True, text=True,
                          cwd=env["LAMBDA_TASK_ROOT"])


def time_import(layout: Layout, statement: str, function: str | None,
                with_layer: bool = True) -> float:
    """Wall seconds for a fresh interpreter to run ``statement`` and exit."""
    started = time.perf_counter()
    _run(layout, statement, function, with_layer=with_layer)
    return time.perf_counter() - started


# Import time by who is to blame: self times of every module, summed per group.
GROUPS = {
    "boto3 & botocore": ("boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil",
                         "six"),
    "X-Ray SDK": ("aws_xray_sdk", "wrapt"),
    "Powertools": ("aws_lambda_powertools",),
    "pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection",
                 "typing_extensions"),
    "httpx": ("httpx", "httpcore", "h11", "anyio", "sniffio", "certifi", "idna"),
    "connector's own modules": ("app", "servicem8_connector"),
}
# What any handler built this way imports, whatever the connector's own code does.
FLOORS = {
    "boto3 + Powertools Logger, Tracer, Metrics, HTTP resolver": (
        "import boto3; from aws_lambda_powertools import Logger, Metrics, Tracer;"
        " from aws_lambda_powertools.event_handler import APIGatewayHttpResolver;"
        " Logger(); Tracer(); Metrics(); APIGatewayHttpResolver()"),
    "the same without Tracer (no X-Ray SDK)": (
        "import boto3; from aws_lambda_powertools import Logger, Metrics;"
        " from aws_lambda_powertools.event_handler import APIGatewayHttpResolver;"
        " Logger(); Metrics(); APIGatewayHttpResolver()"),
}


def heaviest(layout: Layout, function: str) -> list[tuple[str, float]]:
    """Milliseconds of the handler's import per group (``-X importtime`` self times)."""
    answer = _run(layout, "import app", function, flags=("-X", "importtime"))
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
    with lambda_layout() as layout:
        time_import(layout, "import boto3", None, with_layer=False)  # warms the file cache
        for _ in range(rounds):
            boto3_seconds = time_import(layout, "import boto3", None, with_layer=False)
            baseline.append(boto3_seconds * 1000)
            targets = [*((key, code, None) for key, code in floors.items()),
                       *((name, "import app", name) for name in names)]
            for key, statement, function in targets:
                took = time_import(layout, statement, function)
                seconds[key].append(took * 1000)
                ratios[key].append(took / boto3_seconds)
        breakdown = {name: heaviest(layout, name) for name in names}
    figures = [Figure.of('cold `python -c "import boto3"` (baseline)', "ms", baseline)]
    for key in floors:
        figures.append(Figure.of(f"floor: {key} / boto3", "x", ratios[key],
                                 note=f"median {statistics.median(seconds[key]):.0f} ms"))
    for name in names:
        ratio = Figure.of(f"cold import of `functions/{name}` / boto3", "x", ratios[name],
                          target=f"median <= {TARGET_RATIO}x",
                          note=f"median {statistics.median(seconds[name]):.0f} ms")
        figures.append(replace(ratio, met=ratio.median <= TARGET_RATIO))
    return figures, breakdown
