"""The template's schema registry entries are generated from schemas/events/ and current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from local.runner.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_registry_entries_match_the_schema_files() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/sync_event_schemas.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert check.returncode == 0, check.stdout


def test_one_registry_schema_per_detail_type() -> None:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    documents = [json.loads(r["Properties"]["Content"]) for r in resources.values()
                 if r["Type"] == "AWS::EventSchemas::Schema"]
    detail_types = {d["info"]["title"] for d in documents}
    files = {json.loads(p.read_text())["x-detail-type"]
             for p in (ROOT / "schemas" / "events").glob("*.json")}
    assert detail_types == files
    for document in documents:
        envelope = document["components"]["schemas"]["AWSEvent"]
        assert envelope["properties"]["source"]["enum"] == ["servicem8.connector"]
