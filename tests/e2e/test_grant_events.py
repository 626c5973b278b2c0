"""Grant events, version 2: one event per bureau, household and change, carrying all its lines; the office
reads them, and still reads version 1."""

from __future__ import annotations

from datetime import date

import pytest
from aiokafka import AIOKafkaProducer

from shared.events import GRANTS_TOPIC, AssistanceGranted, encode, envelope_for
from tests.support import KAFKA, enrol, envelopes, eventually, household_body, member, read_topic, system

pytestmark = pytest.mark.integration


def _medical(records: list, household_id: str) -> list[tuple[str, int, list]]:
    return [
        (e.type, e.version, [(line["resident_id"], line["programme"]) for line in e.payload["lines"]])
        for e in envelopes(records)
        if e.key == household_id and e.payload["bureau"] == "medical"
    ]


async def _programmes(office, household_id: str) -> dict:
    response = await office.get(f"/households/{household_id}/assistance")
    assert response.status_code == 200, response.text
    return {(p["bureau"], p["programme"], p["resident_id"]): p["status"] for p in response.json()["programmes"]}


async def test_enrolment_is_one_grant_event_per_bureau_and_a_change_revokes_before_it_grants_again(kafka, postgres):
    head, spouse, child = member("head"), member("spouse", male=False), member("child", born=date(2014, 4, 4))
    async with system("registry", "medical", "office") as s:
        registry, office = s["registry"], s["office"]
        topic = s["registry"].topic_prefix + GRANTS_TOPIC
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 5), members=[head, spouse]))
        household_id = household["id"]

        records = await read_topic(topic, until=lambda r: len(_medical(r, household_id)) >= 1)
        assert _medical(records, household_id) == [
            (
                "AssistanceGranted",
                2,
                [(head["resident_id"], "medical_assistance"), (spouse["resident_id"], "medical_assistance")],
            )
        ]

        # The spouse leaves and a child joins, in one change: one event for what stopped, one for what began.
        response = await registry.patch(
            f"/households/{household_id}", json={"members": [head, child], "effective_on": "2026-03-01"}
        )
        assert response.status_code == 200, response.text
        records = await read_topic(topic, until=lambda r: len(_medical(r, household_id)) >= 3)
        assert _medical(records, household_id)[1:] == [
            ("AssistanceGranted", 2, [(child["resident_id"], "medical_assistance")]),
            ("AssistanceRevoked", 2, [(spouse["resident_id"], "medical_assistance")]),
        ]

        assert await eventually(lambda: _status_of(office, household_id, spouse["resident_id"], "revoked"), timeout=60)
        assert await _programmes(office, household_id) == {
            ("medical", "medical_assistance", head["resident_id"]): "active",
            ("medical", "medical_assistance", child["resident_id"]): "active",
            ("medical", "medical_assistance", spouse["resident_id"]): "revoked",
        }


async def _status_of(office, household_id: str, resident_id: str, status: str) -> bool:
    response = await office.get(f"/households/{household_id}/assistance")  # 404 until the office hears
    return response.status_code == 200 and any(
        p["resident_id"] == resident_id and p["status"] == status for p in response.json()["programmes"]
    )


async def test_office_still_reads_a_version_1_grant_event(kafka, postgres):
    async with system("registry", "office") as s:
        registry, office = s["registry"], s["office"]
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 5)))
        household_id = household["id"]
        resident_id = household["members"][0]["resident_id"]
        old = AssistanceGranted(
            household_id=household_id,
            division_code="230102",
            bureau="legal",
            programme="legal_aid",
            resident_id=resident_id,
            granted_on=date(2026, 1, 5),
        )
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
        await producer.start()
        try:
            await producer.send_and_wait(
                registry.topic_prefix + GRANTS_TOPIC, encode(envelope_for(old, "legal")), key=household_id.encode()
            )
        finally:
            await producer.stop()
        assert await eventually(lambda: _status_of(office, household_id, resident_id, "active"), timeout=60)
