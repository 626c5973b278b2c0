"""Reads of a person's data leave an audit entry: who, which route, whose record (a keyed hash and the masked
number, never the ID readable), when and the request's ID; "who looked at this person" is one query."""

from __future__ import annotations

from datetime import date

import pytest

from shared.read_audit import DEVELOPMENT_AUDIT_KEY, RESOURCE_TYPE
from tests.support import bearer, enrol, household_body, member, new_prefix, person_id, service_app, system

AUDITOR = bearer("audit:read", agency="audit_bureau")


@pytest.mark.integration
async def test_reading_a_person_by_path_or_by_search_is_audited_with_the_caller_and_a_masked_subject(kafka, postgres):
    async with system("registry") as s:
        registry = s["registry"]
        head = member("head")
        someone_else = member("head")
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[head]))
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[someone_else]))
        rid = head["resident_id"]
        civil_affairs = bearer("registry:read", agency="civil_affairs")

        by_path = await registry.get(f"/persons/{rid}", headers={**civil_affairs, "X-Request-ID": "read-by-path"})
        by_search = await registry.post(
            "/persons/search", json={"resident_id": rid}, headers={**civil_affairs, "X-Request-ID": "read-by-body"}
        )
        assert by_path.status_code == by_search.status_code == 200
        await registry.get(f"/persons/{someone_else['resident_id']}", headers=civil_affairs)
        # A lookup that finds no one is a read too: it tells the caller the person is not in dibao.
        nobody = person_id(born=date(1990, 2, 2))
        assert (await registry.get(f"/persons/{nobody}", headers=civil_affairs)).status_code == 404
        # Refused before reading (no scope): not a read.
        assert (await registry.get(f"/persons/{rid}", headers=bearer("medical:read"))).status_code == 403

        report = await registry.post("/audit/reads", json={"resident_id": rid}, headers=AUDITOR)
        assert report.status_code == 200
        # The auditor's own question about the person is a read of it too, recorded before it is answered.
        *reads, question = report.json()["items"]
        masked = rid[:6] + "********" + rid[-4:]
        assert [(e["agency"], e["subject"], e["action"], e["after"]["request_id"]) for e in reads] == [
            ("civil_affairs", "pytest", "GET /persons/{resident_id}", "read-by-path"),
            ("civil_affairs", "pytest", "POST /persons/search", "read-by-body"),
        ]
        assert (question["agency"], question["action"]) == ("audit_bureau", "POST /audit/reads")
        assert all(e["resource_type"] == RESOURCE_TYPE and e["after"]["resident_id"] == masked for e in reads)
        assert reads[0]["resource_id"] == reads[1]["resource_id"] != rid

        # The whole trail of reads never shows the ID.
        trail = await registry.get("/audit", params={"resource_type": RESOURCE_TYPE}, headers=AUDITOR)
        entries = trail.json()["items"]
        assert [e["action"] for e in entries] == [
            "GET /persons/{resident_id}",
            "POST /persons/search",
            "GET /persons/{resident_id}",
            "GET /persons/{resident_id}",
            "POST /audit/reads",
        ]
        assert entries[-1]["agency"] == "audit_bureau" and entries[-1]["resource_id"] == reads[0]["resource_id"]
        assert rid not in trail.text and nobody not in trail.text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("service", "path", "search"),
    [
        ("medical", "/eligibility/{}", "/eligibility/search"),
        ("legal", "/eligibility/{}", "/eligibility/search"),
        ("employment", "/persons/{}", "/persons/search"),
        ("education", "/pupils/{}", "/pupils/search"),
    ],
)
async def test_every_bureaus_lookups_of_a_person_are_audited(kafka, postgres, service, path, search):
    async with system(service) as s:
        http = s[service]
        rid = person_id(born=date(1985, 6, 7))
        await http.get(path.format(rid), headers=bearer())
        await http.post(search, json={"resident_id": rid}, headers=bearer())
        await http.post(search, json={"resident_id": "not an id"}, headers=bearer())  # refused: no one was read
        reads = (await http.post("/audit/reads", json={"resident_id": rid}, headers=AUDITOR)).json()["items"]
    assert [e["action"] for e in reads] == [
        f"GET {path.format('{resident_id}')}",
        f"POST {search}",
        "POST /audit/reads",
    ]


@pytest.mark.parametrize("key", ["", DEVELOPMENT_AUDIT_KEY, "short"])
def test_production_refuses_to_start_without_a_real_audit_key(key):
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        service_app(
            "legal",
            "sqlite+aiosqlite:///:memory:",
            new_prefix(),
            environment="production",
            jwt_secret="x" * 48,
            audit_key=key,
        )
