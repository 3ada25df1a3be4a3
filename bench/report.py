"""docs/benchmarks.md: the machine, then one row per figure, then how each was taken."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.stats import Figure, fmt

METHOD = """\
## How the figures are taken

- **Runs.** Each figure is measured over repeated runs in one `make bench`; the table gives
  the median and the p99 (nearest rank) of all samples, and how many there were. Ratios
  are taken side by side in the same run, so a busy machine slows both sides.
- **Receiver.** `functions/receiver`'s handler called in this process with a real event
  webhook for a stored connection, warm (20 calls first). Twice: with AWS in memory
  (moto's in-process mock: the handler's own cost, the figure the target is for), and on
  the local stack, where its DynamoDB read and SQS send go to the moto server over
  loopback (the processor's pollers stopped), beside those two calls made alone.
- **Delivery to subscriber.** Event webhooks sent by the ServiceM8 emulator at a steady
  rate to the local stack (receiver, queue, processor, EventBridge, subscriber queue).
  The send is stamped in the emulator's delivery worker, the arrival is the subscriber
  queue's `SentTimestamp`. Every component shares this machine and one Python process.
- **ServiceM8 calls per trigger.** Jobs created, then completed (each step drained), for an
  account on object webhooks and one on event webhooks; calls counted in the emulator's
  request log for that account, triggers on the subscriber queue.
- **PutEvents.** The publisher given 100 events at once (against the stack's bus); the
  live processor on a burst (the processor's poller paused while 100 deliveries queue up,
  then let go: batches of ten); and its calls per event over the steady latency run.
- **List-all.** `ServiceM8Client.records("job")` against an emulator process seeded with
  50,000 jobs (5,000 a page), counting records as they come (each page is read into a
  spool file, in memory up to 1 MB, then parsed a record at a time); peak growth is
  `tracemalloc`'s peak over the listing.
- **Cold imports.** `python -S -c "import app"` in a fresh interpreter laid out as in
  Lambda, not as the dev venv: no site-packages; `sys.path` the function's directory, the
  connector's source, the layer's pinned requirements (`pip install --target` from
  `layers/connector/requirements.txt`) and a runtime directory holding only boto3 at the
  venv's version, the last two cached in `.bench/`. Lambda's environment names are set,
  `LAMBDA_TASK_ROOT` included, so Powertools and the X-Ray SDK set up as there (tracing
  on). Against `python -S -c "import boto3"` from the runtime directory in the same round.
  The two "floor" rows are what any handler built on Powertools' Logger, Tracer, Metrics
  and HTTP resolver imports before a line of the connector runs. Bytecode as deployed:
  `layers/connector/Makefile` ships the layer compiled for 3.12 (Lambda's `/opt` is
  read-only, so a layer without `.pyc` compiles every module at every cold start: about
  twice the import time, measured when the layer was built without them), so the
  connector is compiled here the same way and the dependencies keep pip's `.pyc`; the
  function's `app.py` has none, as SAM's Python builder ships it. An import is not a
  whole cold start: the AWS clients are built on first use, and `functions/maintenance`
  (hourly) imports its modules there too.
"""


def markdown(machine: Mapping[str, str], figures: Sequence[Figure],
             breakdown: Mapping[str, Sequence[tuple[str, float]]], command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}`; every number below comes from the run described here.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine.items()],
        "",
        "## Figures",
        "",
        "| Figure | Median | p99 | Samples | Target | Met | Note |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {fmt(f.median, f.unit)} | {fmt(f.p99, f.unit)} | "
                     f"{f.samples} | {f.target} | {met} | {f.note} |")
    if breakdown:
        lines += ["", "## Cold imports: where the time goes", "",
                  "Where each handler's import goes: every module's self time "
                  "(`-X importtime`, one run), summed by who is to blame, ms:",
                  "", "| Handler | Milliseconds |", "|---|---|"]
        for name, heavy in breakdown.items():
            listed = ", ".join(f"{module} {ms:.0f}" for module, ms in heavy)
            lines.append(f"| `functions/{name}` | {listed} |")
        lines += ["", "Python itself starts in about 10 ms here; the rest of each import is "
                  "the table above."]
    return "\n".join([*lines, "", METHOD])


def console(figures: Sequence[Figure]) -> list[str]:
    out = []
    for f in figures:
        met = "" if f.met is None else ("  ok" if f.met else "  MISSED")
        out.append(f"{f.name:<72} {fmt(f.median, f.unit):>10} {fmt(f.p99, f.unit):>10}"
                   f"  {f.target}{met}")
    return out
