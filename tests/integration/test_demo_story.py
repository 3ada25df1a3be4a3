"""The demo's story, as a test: each of the five triggers arrives exactly once."""

from __future__ import annotations

from collections import Counter

from local import demo
from local.environment import LocalEnvironment


def test_demo_story_delivers_each_trigger_exactly_once(local_env: LocalEnvironment) -> None:
    assert demo.story(local_env) == 0


def test_verdict_fails_on_a_missing_or_doubled_trigger() -> None:
    counts = Counter(dict.fromkeys(demo.EXPECTED, 1))
    assert demo.verdict(counts) == 0
    counts["Job Completed"] = 2
    assert demo.verdict(counts) == 1
    del counts["Job Completed"]
    assert demo.verdict(counts) == 1
