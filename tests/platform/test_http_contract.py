"""What a client meets over HTTP beyond the operations: which methods a path has, one title per problem code,
money written one way, and /docs that works on a network without internet."""

from __future__ import annotations

import re

import pytest

from shared.app import DOCS_ASSETS
from tests.support import household_body, system

pytestmark = pytest.mark.integration


@pytest.fixture()
async def registry(kafka, postgres):
    async with system("registry") as s:
        yield s["registry"]


@pytest.fixture()
async def medical(kafka, postgres):
    async with system("medical") as s:
        yield s["medical"]


async def test_a_literal_path_is_not_taken_for_a_resident_id(medical):
    # /eligibility/search is POST only: GET must not look up the resident "search".
    answer = await medical.get("/eligibility/search")
    assert answer.status_code == 405 and answer.json()["code"] == "method_not_allowed"
    assert answer.headers["allow"] == "OPTIONS, POST"
    # The template still answers for a resident ID (not known here: 200 not eligible, or 404).
    looked_up = await medical.get("/eligibility/230102198001010110")
    assert looked_up.status_code in (200, 404) and looked_up.json().get("code") != "method_not_allowed"


async def test_a_method_the_path_lacks_is_405_with_every_method_the_path_has(medical):
    answer = await medical.delete("/claims")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, OPTIONS, POST"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Method not allowed"


async def test_options_answers_the_methods_of_the_path_without_a_body(medical):
    for path, allow in (
        ("/claims", "GET, OPTIONS, POST"),
        ("/hospitals/7", "OPTIONS, PATCH"),
        ("/eligibility/search", "OPTIONS, POST"),
        ("/health", "GET, OPTIONS"),
    ):
        answer = await medical.options(path)
        assert (answer.status_code, answer.headers["allow"], answer.content) == (204, allow, b""), path
    assert (await medical.options("/no/such/path")).status_code == 404


async def test_a_problem_code_has_one_title_whichever_way_it_is_raised(registry):
    # invalid_period from a query parameter (a dependency) and from a body field (validation) alike.
    from_query = await registry.get("/reports", params={"period": "2026-13"})
    from_body = await registry.post("/payment-runs", json={"period": "2026-13"})
    assert from_query.json()["code"] == from_body.json()["code"] == "invalid_period"
    assert from_query.json()["title"] == from_body.json()["title"] == "Invalid period"
    assert from_query.json()["type"] == from_body.json()["type"]


@pytest.mark.parametrize("income", [300, 300.0, "300", "300.5", "-300.00", "300.001", " 300.00", "3e2", "300,00"])
async def test_money_is_written_one_way_a_string_with_two_decimals(registry, income):
    answer = await registry.post("/households", json=household_body(income="0.00") | {"monthly_income": income})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] in {"invalid_amount", "negative_amount"}
    assert answer.json()["errors"][0]["loc"] == ["body", "monthly_income"]


async def test_money_comes_back_as_it_went_in(registry):
    created = await registry.post("/households", json=household_body(income="125.50"))
    assert created.status_code == 201, created.text
    assert created.json()["monthly_income"] == "125.50"
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)\.[0-9]{2}", created.json()["monthly_allowance"])


async def test_the_docs_load_every_file_from_the_service_itself(registry):
    for page in ("/docs", "/redoc"):
        html = (await registry.get(page)).text
        assert "http://" not in html and "https://" not in html, page
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(asset.startswith(f"{DOCS_ASSETS}/") for asset in assets), assets
        for asset in assets:
            answer = await registry.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 1000, asset
    # Swagger UI 5: renders OpenAPI 3.1 (Swagger UI 4 shows "Unable to render this definition").
    bundle = (await registry.get(f"{DOCS_ASSETS}/swagger-ui-bundle.js")).text
    assert re.search(r'"5\.[0-9]+\.[0-9]+"', bundle)


async def test_eligibility_on_a_day_before_the_plan_is_refused_not_a_server_error(medical):
    # Found by the fuzz test: no yearly cap is in force before 2004, and the look-up answered 500.
    in_path = await medical.get("/eligibility/23011319600719351X", params={"on": "1960-01-31"})
    in_body = await medical.post("/eligibility/search", json={"resident_id": "23011319600719351X", "on": "2003-12-31"})
    for answer in (in_path, in_body):
        assert answer.status_code == 422 and answer.json()["code"] == "date_before_plan", answer.text


async def test_the_audit_trail_reads_back_a_change_of_the_members(registry):
    # Found by the fuzz test: a change of members is audited as a list, and GET /audit answered 500.
    created = await registry.post("/households", json=household_body())
    assert created.status_code == 201, created.text
    members = [{k: v for k, v in m.items() if k not in ("sex", "birth_date")} for m in created.json()["members"]]
    changed = await registry.patch(f"/households/{created.json()['id']}", json={"members": members})
    assert changed.status_code == 200, changed.text
    trail = await registry.get("/audit", params={"resource_type": "members"})
    assert trail.status_code == 200, trail.text
    assert isinstance(trail.json()["items"][0]["after"], list)
