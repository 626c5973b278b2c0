"""Less personal data in events: the registry's broadcast carries no field no consumer reads, and each
consumer's copy of the caseload keeps only the fields it declares (its models.CASELOAD_FIELDS)."""

from __future__ import annotations

import json
from datetime import date
from importlib import import_module
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import HISTORY_FIELDS, CaseloadFields, DibaoHousehold, DibaoMember
from shared.sealing import open_sealed
from tests.support import AppClient, enrol, envelopes, eventually, household_body, member, read_topic, system

pytestmark = pytest.mark.integration

CONSUMERS = ("medical", "education", "housing", "employment", "utilities", "legal", "office")
NOBODY_READS = {"monthly_income", "monthly_allowance"}
NEVER_IN_CLEAR = {*NOBODY_READS, "address"}  # the address travels sealed for the office, its one reader


def declared(service: str) -> CaseloadFields:
    fields: CaseloadFields = import_module(f"services.{service}.models").CASELOAD_FIELDS
    return fields


async def caseload_copy(client: AppClient, household_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The household's snapshot and its members' data as the service's own database holds them."""

    engine = create_async_engine(client.app.state.settings.database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            household = await session.get(DibaoHousehold, household_id)
            if household is None:
                return None
            rows = (await session.scalars(select(DibaoMember).where(DibaoMember.household_id == household_id))).all()
            return dict(household.snapshot), [dict(row.data) for row in rows]
    finally:
        await engine.dispose()


async def test_each_consumer_keeps_only_the_caseload_fields_it_declares(kafka, postgres):
    async with system("registry", *CONSUMERS) as s:
        body = household_body(
            heating="non_central",
            enrolled_on=date(2025, 9, 1),
            members=[
                member("head", disabled=True, able_to_work=False, employment_status="none"),
                member("child", born=date(2014, 5, 1), school_stage="primary", boarding=True),
            ],
        )
        household = await enrol(s["registry"], body)
        changed = await s["registry"].patch(
            f"/households/{household['id']}", json={"address": "哈尔滨市南岗区新街2号", "effective_on": "2025-10-01"}
        )
        assert changed.status_code == 200, changed.text

        for service in CONSUMERS:
            fields = declared(service)

            async def changed_copy(service: str = service) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
                copy = await caseload_copy(s[service], household["id"])
                return copy if copy is not None and len(copy[0]["history"]) == 2 else None

            snapshot, members = await eventually(changed_copy)
            assert set(snapshot) == fields.household | {"history"}, service
            history_kept = {"effective_on", *(name for name in HISTORY_FIELDS if name in fields.household)}
            assert all(set(entry) == history_kept for entry in snapshot["history"]), (service, snapshot["history"])
            assert len(members) == 2 and all(set(data) == fields.member for data in members), (service, members)
            assert not NOBODY_READS & set(snapshot), service
            assert ("address" in snapshot) == (service == "office"), service

        # What is kept is the registry's, unchanged: the office's head is disabled and has the address as changed.
        office, _ = await caseload_copy(s["office"], household["id"]) or ({}, [])
        assert office["address"] == "哈尔滨市南岗区新街2号"
        medical_members = (await caseload_copy(s["medical"], household["id"]) or ({}, []))[1]
        assert sorted(data["resident_id"] for data in medical_members) == sorted(
            m["resident_id"] for m in body["members"]
        )


async def test_the_household_broadcast_carries_no_income_no_days_allowance_and_the_address_sealed_for_the_office(
    kafka, postgres
):
    async with system("registry") as s:
        registry = s["registry"]
        household = await enrol(registry, household_body(income="150.00"))
        changed = await registry.patch(
            f"/households/{household['id']}", json={"monthly_income": "50.00", "effective_on": household["enrolled_on"]}
        )
        assert changed.status_code == 200, changed.text

        def both(records: list[Any]) -> bool:
            return {e.type for e in envelopes(records) if e.key == household["id"]} >= {
                "HouseholdEnrolled",
                "HouseholdChanged",
            }

        records = await read_topic(registry.topic_prefix + HOUSEHOLDS_TOPIC, until=both)
        events = [e for e in envelopes(records) if e.type in {"HouseholdEnrolled", "HouseholdChanged"}]
        assert {(e.type, e.version) for e in events} == {("HouseholdEnrolled", 2), ("HouseholdChanged", 2)}
        for event in events:
            assert not NEVER_IN_CLEAR & set(event.payload), event.payload
            assert event.payload["allowance_schedule"], "the schedule still tells every month's allowance"
            assert set(event.payload["sealed"]) == {"office"}
            assert "测试街" not in json.dumps(event.payload, ensure_ascii=False), "the address is nowhere in clear"
            assert open_sealed(event.payload["sealed"], "office") == {"address": "哈尔滨市道里区测试街1号"}
            assert open_sealed(event.payload["sealed"], "medical") == {}
