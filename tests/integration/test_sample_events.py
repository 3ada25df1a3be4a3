"""Every handler runs on every sample in events/ (the files `sam local invoke -e` takes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.environment import LocalEnvironment

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_FOR_PREFIX = {
    "connect": "ConnectFunction",
    "callback": "CallbackFunction",
    "actions": "ActionsFunction",
    "receiver": "ReceiverFunction",
    "processor": "ProcessorFunction",
    "maintenance": "MaintenanceFunction",
}
SAMPLES = sorted(p for p in EVENTS.glob("*.json") if p.name != "env.json")


def test_every_function_has_a_sample() -> None:
    prefixes = {path.name.split("_")[0].removesuffix(".json") for path in SAMPLES}
    assert prefixes == set(FUNCTION_FOR_PREFIX)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_handler_answers_its_sample_without_a_server_error(
    local_env: LocalEnvironment, sample: Path
) -> None:
    assert local_env.stack is not None
    function = FUNCTION_FOR_PREFIX[sample.name.split("_")[0].removesuffix(".json")]
    result = local_env.stack.invoke(function, json.loads(sample.read_text()))
    if "statusCode" in result:
        assert result["statusCode"] < 500, result
        if result["statusCode"] >= 400:
            assert result["headers"]["Content-Type"] == "application/problem+json"
    elif function == "ProcessorFunction":
        assert result == {"batchItemFailures": []}
    else:
        assert isinstance(result, dict)
