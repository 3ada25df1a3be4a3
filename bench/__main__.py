"""`make bench` (``python -m bench``): measure everything, write docs/benchmarks.md.

``--smoke`` runs every measurement in a tiny size and writes elsewhere: CI uses it to keep
the benchmark working; the figures of a smoke run mean nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from local.environment import ROOT

LAYER = ROOT / "layers" / "connector"
LOG_FILE = ROOT / ".local" / "bench-handler-logs.jsonl"


@dataclass(frozen=True)
class Sizes:
    receiver_runs: int = 3
    receiver_calls: int = 150
    deliveries: int = 1000
    per_second: float = 8.0
    trigger_jobs: int = 6
    trigger_runs: int = 3
    publisher_runs: int = 5
    burst: int = 100
    burst_runs: int = 3
    records: int = 50_000
    listing_runs: int = 3
    import_rounds: int = 5
    handlers: tuple[str, ...] = ()  # all


SMOKE = Sizes(receiver_runs=1, receiver_calls=10, deliveries=10, per_second=10.0,
              trigger_jobs=1, trigger_runs=1, publisher_runs=1, burst=20, burst_runs=1,
              records=500, listing_runs=1, import_rounds=1, handlers=("receiver",))


def run(sizes: Sizes, out: Path, command: str) -> list[str]:
    from bench import delivery, imports, listing, machine, receiver, report
    from local.chaos import chaos_options, handler_logs_to_file
    from local.environment import LocalEnvironment

    facts = machine.describe()
    with handler_logs_to_file(LOG_FILE) as console:
        print("receiver ...", file=console, flush=True)
        figures = receiver.measure_in_memory(sizes.receiver_runs, sizes.receiver_calls)
        figures += receiver.measure(sizes.receiver_runs, sizes.receiver_calls)
        print(f"{sizes.deliveries} deliveries at {sizes.per_second:g}/s ...", file=console,
              flush=True)
        with LocalEnvironment(chaos_options()) as env:
            figures += delivery.latency(env, sizes.deliveries, sizes.per_second)
            figures.append(delivery.publisher_batching(env, sizes.publisher_runs))
            figures.append(delivery.burst_batching(env, sizes.burst_runs, sizes.burst))
            figures += delivery.calls_per_trigger(env, sizes.trigger_jobs, sizes.trigger_runs)
        print("list-all ...", file=console, flush=True)
        figures += listing.measure(sizes.records, sizes.listing_runs)
        print("cold imports ...", file=console, flush=True)
        import_figures, breakdown = imports.measure(sizes.import_rounds, sizes.handlers)
        figures += import_figures
    out.write_text(report.markdown(facts, figures, breakdown, command) + "\n")
    return report.console(figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--deliveries", type=int, default=Sizes.deliveries)
    parser.add_argument("--rate", type=float, default=Sizes.per_second,
                        help="deliveries per second in the latency run")
    args = parser.parse_args(argv)
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    sizes = SMOKE if args.smoke else Sizes(deliveries=args.deliveries, per_second=args.rate)
    command = "python -m bench --smoke" if args.smoke else "make bench"
    for line in run(sizes, args.out, command):
        print(line)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
