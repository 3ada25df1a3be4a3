"""Every record the emulator returns validates against ServiceM8's own component schemas.

The schemas come from /work/shared/servicem8/api.json (read in place, never copied); the
whole module is skipped when that file is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.emulator import Emulator

API_JSON = Path(__file__).resolve().parents[2] / ".." / "shared" / "servicem8" / "api.json"

SCHEMA_FOR = {
    "company": "Company",
    "companycontact": "CompanyContact",
    "job": "Job",
    "formresponse": "FormResponse",
    "form": "Form",
    "queue": "Queue",
    "vendor": "Vendor",
    "staff": "Staff",
}

# One create body per writable object, exercising the optional fields a connector sends.
CREATE_BODIES: dict[str, dict[str, object]] = {
    "company": {
        "name": "Schema Test Plumbing",
        "address": "1 George Street, Brisbane QLD 4000",
        "abn_number": "12345678901",
        "badges": "[]",
        "website": "https://x.example",
    },
    "companycontact": {
        "first": "Ava",
        "last": "Lee",
        "email": "ava@example.com",
        "type": "BILLING",
        "is_primary_contact": "1",
    },
    "job": {
        "status": "Work Order",
        "job_address": "2 Queen Street, Brisbane QLD 4000",
        "job_description": "Replace tap",
        "purchase_order_number": "PO-9",
        "badges": "[]",
        "quote_sent": 1,
        "invoice_sent": "1",
    },
    "formresponse": {"field_data": "[]", "regarding_object": "job"},
    "form": {
        "name": "Pre-start checklist",
        "badge_name": "PSC",
        "template_fields": [{"name": "Site", "fieldType": "Text", "value": "", "sortOrder": 1}],
    },
    "queue": {"name": "Awaiting approval", "default_timeframe": 3, "requires_assignment": 0},
    "staff": {"first": "Kai", "last": "Brown", "email": "kai@example.com", "hide_from_schedule": 0},
}


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return dict(json.loads(API_JSON.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validators() -> dict[str, tuple[Any, Any]]:
    if not API_JSON.is_file():
        pytest.skip(f"{API_JSON} is not available")
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT202012

    resource = referencing.Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry = referencing.Registry().with_resource("urn:servicem8:api", resource)
    out = {}
    for object_name, schema_name in SCHEMA_FOR.items():
        schema = {"$ref": f"urn:servicem8:api#/components/schemas/{schema_name}"}
        plain = jsonschema.Draft202012Validator(schema, registry=registry)
        formats = jsonschema.Draft202012Validator(
            schema,
            registry=registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        out[object_name] = (plain, formats)
    return out


@pytest.fixture
def seeded(
    make_emulator: Callable[..., Emulator], client_for: Callable[[Emulator], httpx.Client]
) -> tuple[Emulator, httpx.Client]:
    emulator = make_emulator(seed_records=25)
    return emulator, client_for(emulator)


def _check(validators: dict[str, tuple[Any, Any]], object_name: str, record: dict) -> None:
    plain, formats = validators[object_name]
    errors = [e.message for e in plain.iter_errors(record)]
    assert not errors, (object_name, record.get("uuid"), errors)
    # Empty strings stand for "not set" (ServiceM8 answers "" rather than omitting a field);
    # every value that *is* set must also meet the declared format (uuid, email).
    populated = {k: v for k, v in record.items() if v != ""}
    format_errors = [e.message for e in formats.iter_errors(populated)]
    assert not format_errors, (object_name, record.get("uuid"), format_errors)
    properties = _document()["components"]["schemas"][SCHEMA_FOR[object_name]]["properties"]
    assert set(record) <= set(properties), set(record) - set(properties)


@pytest.mark.parametrize("object_name", sorted(SCHEMA_FOR))
def test_seeded_records_validate_against_component_schema(
    validators: dict[str, tuple[Any, Any]],
    seeded: tuple[Emulator, httpx.Client],
    object_name: str,
) -> None:
    _, http = seeded
    answer = http.get(f"/api_1.0/{object_name}.json", headers={"X-API-Key": "test-api-key"})
    records = answer.json()
    assert answer.status_code == 200 and isinstance(records, list) and records
    for record in records:
        _check(validators, object_name, record)


@pytest.mark.parametrize("object_name", sorted(CREATE_BODIES))
def test_created_records_validate_against_component_schema(
    validators: dict[str, tuple[Any, Any]],
    seeded: tuple[Emulator, httpx.Client],
    object_name: str,
) -> None:
    emulator, http = seeded
    headers = {"X-API-Key": "test-api-key"}
    body = dict(CREATE_BODIES[object_name])
    if object_name == "companycontact":
        body["company_uuid"] = emulator.records(emulator.default_account_uuid, "company")[0]["uuid"]
    created = http.post(f"/api_1.0/{object_name}.json", headers=headers, json=body)
    assert created.status_code == 200, created.text
    record_uuid = created.headers["x-record-uuid"]
    single = http.get(f"/api_1.0/{object_name}/{record_uuid}.json", headers=headers).json()
    _check(validators, object_name, single)
    http.delete(f"/api_1.0/{object_name}/{record_uuid}.json", headers=headers)
    deleted = http.get(f"/api_1.0/{object_name}/{record_uuid}.json", headers=headers).json()
    _check(validators, object_name, deleted)


def test_event_delivery_data_validates_against_job_schema(
    validators: dict[str, tuple[Any, Any]],
    emu: Emulator,
    client: httpx.Client,
    auth: dict[str, str],
    receiver: Any,
) -> None:
    client.post(
        "/webhook_subscriptions/event",
        headers=auth,
        data={"event": "job.created", "callback_url": receiver.url()},
    )
    client.post("/api_1.0/job.json", headers=auth, json=CREATE_BODIES["job"])
    emu.wait_for_deliveries()
    [body] = receiver.bodies()
    _check(validators, "job", body["data"])
