"""docs/subscribers.md is generated from the schemas and real delivery samples, and current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_subscriber_guide_is_current_and_its_examples_validate() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/subscriber_guide.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
