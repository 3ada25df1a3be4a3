"""The ten actions over HTTP on the local stack, and their problem+json errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from local.environment import LocalEnvironment

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"/problems/{kind}" and body["status"] == status
    return dict(body)


@pytest.mark.parametrize("resource", ["clients", "jobs"])
def test_crud_round_trip(api: httpx.Client, connection_id: str, resource: str) -> None:
    base = f"/connections/{connection_id}/{resource}"
    fields = {"name": "Round Trip Pty Ltd"} if resource == "clients" else {"status": "Quote"}
    created = api.post(base, json=fields)
    assert created.status_code == 201, created.text
    record_uuid = created.json()["uuid"]
    assert created.headers["location"] == f"{base}/{record_uuid}"

    fetched = api.get(f"{base}/{record_uuid}").json()
    assert fetched["uuid"] == record_uuid and fetched["active"] == 1

    change = {"address_city": "Cairns"} if resource == "clients" else {"status": "Work Order"}
    updated = api.patch(f"{base}/{record_uuid}", json=change)
    assert updated.status_code == 200 and updated.json()["updated_fields"] == list(change)
    assert api.get(f"{base}/{record_uuid}").json() | change == api.get(
        f"{base}/{record_uuid}").json()

    listed = api.get(base).json()
    assert record_uuid in {item["uuid"] for item in listed["items"]}

    deleted = api.delete(f"{base}/{record_uuid}")
    assert deleted.status_code == 200 and deleted.json()["deletion"] == "soft"
    assert record_uuid not in {i["uuid"] for i in api.get(base).json()["items"]}
    inactive = api.get(base, params={"include_inactive": "true"}).json()["items"]
    assert any(i["uuid"] == record_uuid and i["active"] == 0 for i in inactive)


def test_update_sends_only_the_given_fields(
    api: httpx.Client, connection_id: str, local_env: LocalEnvironment
) -> None:
    base = f"/connections/{connection_id}/clients"
    record_uuid = api.post(base, json={"name": "Only Given", "address_city": "Perth"}).json()[
        "uuid"]
    api.patch(f"{base}/{record_uuid}", json={"website": "https://only.example.test"})
    assert local_env.emulator is not None
    writes = [r for r in local_env.emulator.requests
              if r["method"] == "POST" and str(r["path"]).endswith(f"{record_uuid}.json")]
    assert writes, "the update reached ServiceM8"
    record = api.get(f"{base}/{record_uuid}").json()
    assert record["address_city"] == "Perth" and record["website"] == "https://only.example.test"


def test_list_follows_every_page_and_filters_safely(
    api: httpx.Client, connection_id: str
) -> None:
    base = f"/connections/{connection_id}/clients"
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        api.post(base, json={"name": f"Filter {tag} {n}"})
    found = api.get(base, params={"filter": f"name eq 'Filter {tag} 1'"}).json()
    assert [i["name"] for i in found["items"]] == [f"Filter {tag} 1"]


def test_create_with_same_idempotency_key_makes_one_record(
    api: httpx.Client, connection_id: str
) -> None:
    base = f"/connections/{connection_id}/jobs"
    headers = {"Idempotency-Key": f"idem-{uuid.uuid4()}"}
    first = api.post(base, json={"status": "Quote"}, headers=headers)
    second = api.post(base, json={"status": "Quote"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["uuid"] == second.json()["uuid"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "clients", {"address_city": "No Name"}, 422, "invalid-request"),
        ("POST", "clients", {"name": "x", "surprise": 1}, 422, "invalid-request"),
        ("POST", "jobs", {"status": "Done"}, 422, "invalid-request"),
        ("PATCH", "jobs/00000000-0000-4000-8000-000000000000", {}, 422, "nothing-to-update"),
        ("GET", "jobs/00000000-0000-4000-8000-000000000000", None, 404, "not-found"),
        ("DELETE", "clients/00000000-0000-4000-8000-000000000000", None, 404, "not-found"),
        ("GET", "jobs/not-a-uuid", None, 422, "invalid-request"),
    ],
    ids=["missing-name", "unknown-field", "bad-status", "empty-update", "unknown-job",
         "unknown-client", "malformed-uuid"],
)
def test_bad_input_gets_a_problem_never_a_5xx(
    api: httpx.Client, connection_id: str, method: str, path: str,
    body: dict[str, object] | None, status: int, kind: str,
) -> None:
    response = api.request(method, f"/connections/{connection_id}/{path}", json=body)
    assert_problem(response, status, kind)


def test_bad_filter_is_400(api: httpx.Client, connection_id: str) -> None:
    response = api.get(f"/connections/{connection_id}/jobs",
                       params={"filter": "status eq 'Quote' or active eq 1"})
    assert_problem(response, 400, "invalid-filter")


def test_unknown_connection_is_404(api: httpx.Client) -> None:
    response = api.get("/connections/con_AAAAAAAAAAAAAAAAAAAAAA/jobs")
    assert_problem(response, 404, "not-found")


def test_missing_api_key_is_401(local_env: LocalEnvironment, connection_id: str) -> None:
    response = httpx.get(f"{local_env.api_url}/connections/{connection_id}/jobs", timeout=30)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_non_json_body_is_a_problem(api: httpx.Client, connection_id: str) -> None:
    response = api.post(f"/connections/{connection_id}/clients", content=b"\xff\xfe{",
                        headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith(PROBLEM)


def test_servicem8_outage_is_retried_then_reported(
    api: httpx.Client, connection_id: str, local_env: LocalEnvironment
) -> None:
    assert local_env.emulator is not None
    local_env.emulator.faults.update({"fail_next": [503]})
    recovered = api.get(f"/connections/{connection_id}/jobs")
    assert recovered.status_code == 200
    local_env.emulator.faults.update({"fail_next": [500, 500, 500, 500]})
    failed = api.get(f"/connections/{connection_id}/jobs")
    assert_problem(failed, 502, "upstream-unavailable")


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("PUT", "/connect"),
                                              ("POST", "/connections")])
def test_unmatched_routes_get_a_problem_404(
    local_env: LocalEnvironment, method: str, path: str
) -> None:
    response = httpx.request(method, f"{local_env.api_url}{path}", timeout=30)
    assert_problem(response, 404, "not-found")


def test_a_mistyped_list_parameter_is_refused_not_ignored(
    api: httpx.Client, connection_id: str
) -> None:
    response = api.get(f"/connections/{connection_id}/jobs", params={"filtr": "x eq 1"})
    assert_problem(response, 400, "unknown-parameter")


def test_null_clears_a_field_but_not_a_required_one(api: httpx.Client, connection_id: str) -> None:
    base = f"/connections/{connection_id}/clients"
    record = api.post(base, json={"name": "Nullable", "address_city": "Hobart"}).json()["uuid"]
    assert_problem(api.patch(f"{base}/{record}", json={"name": None}), 422, "invalid-request")
    assert api.patch(f"{base}/{record}", json={"address_city": None}).status_code == 200
    after = api.get(f"{base}/{record}").json()
    assert after["name"] == "Nullable"
    assert after["address_city"] in ("", None)


def test_ten_filter_terms_are_accepted(api: httpx.Client, connection_id: str) -> None:
    terms = " and ".join([f"name ne 'x{i}'" for i in range(9)] + ["active eq 1"])
    response = api.get(f"/connections/{connection_id}/clients", params={"filter": terms})
    assert response.status_code == 200, response.text
