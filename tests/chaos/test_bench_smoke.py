"""`make bench` in its smoke size, so the benchmark keeps working (about 20 s).

The figures of a smoke run mean nothing and nothing here times anything: the targets
live in the benchmark's table, not in tests.
"""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import main

ROWS = (
    "receiver, warm, in-process",
    "delivery to subscriber",
    "ServiceM8 calls per published trigger, object webhooks",
    "ServiceM8 calls per published trigger, event webhooks with data",
    "PutEvents calls per 100 events, publisher",
    "list-all of 500 jobs, peak memory growth",
    "cold import of `functions/receiver` / boto3",
)


def test_the_benchmark_runs_and_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    assert main(["--smoke", "--out", str(out)]) == 0
    table = out.read_text()
    assert "## Machine" in table and "| Python |" in table
    for row in ROWS:
        assert f"| {row}" in table, row
