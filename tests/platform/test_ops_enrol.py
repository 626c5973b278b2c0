"""`harbin-ops enrol` as the ops team runs it on a city's file: a real process against a real registry."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from ops.cli import CSV_COLUMNS
from tests.support import bearer, drop_database, migrated_database, new_prefix, person_id, service_app, serving, token

pytestmark = pytest.mark.integration


def _row(ref: str, resident_id: str, name: str, relation: str, enrolled_on: str = "2026-03-01") -> dict[str, str]:
    return {
        "household_ref": ref, "division_code": "230102", "address": "哈尔滨市道里区测试街1号", "heating": "central",
        "housing_area_m2": "40.00", "monthly_income": "100.00", "enrolled_on": enrolled_on,
        "resident_id": resident_id, "name": name, "relation": relation, "able_to_work": "否",
        "employment_status": "none", "unemployed_since": "", "disabled": "否", "school_stage": "none",
        "boarding": "否",
    }  # fmt: skip


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def _harbin_ops(env: dict[str, str], *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops", *arguments,
        env={**os.environ, "NO_COLOR": "1", "HARBIN_TOKEN": token("registry:write", "registry:read"), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def _members(registry: str, resident_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=registry, headers=bearer("registry:read")) as http:
        person = (await http.get(f"/persons/{resident_id}")).json()
        household = (await http.get(f"/households/{person['household_id']}")).json()
        return sorted(member["name"] for member in household["members"])


async def test_a_gbk_file_with_a_household_split_across_the_file_and_a_bad_row_enrols_what_is_good(
    kafka, postgres, tmp_path: Path
):
    head, spouse, alone, early = person_id(), person_id(male=False), person_id(), person_id()
    rows = [
        _row("H1", head, "张伟", "head"),
        _row("H2", alone, "李娜", "head"),
        _row("H1", spouse, "王芳", "spouse"),  # H1's second member, not next to the first
        _row("H3", early, "赵强", "head", enrolled_on="1999-01-01"),  # before the plan: refused, alone
    ]
    caseload = tmp_path / "caseload.csv"
    caseload.write_bytes(_csv(rows).encode("gbk"))  # as Excel saves a CSV on Chinese Windows

    url = await migrated_database("registry")
    try:
        async with serving(service_app("registry", url, new_prefix())) as registry:
            code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(caseload))
            assert code == 3, output  # some rows were refused
            assert "read as GBK" in output and "enrolled 2 households; rejected 1" in output, output

            assert await _members(registry, head) == ["张伟", "王芳"]  # one household, both members
            assert await _members(registry, alone) == ["李娜"]
            rejected = list(csv.DictReader((tmp_path / "caseload.rejected.csv").open(encoding="utf-8")))
            assert [(r["line"], r["resident_id"], r["error_code"]) for r in rejected] == [
                ("5", early, "date_before_plan")
            ]
    finally:
        await drop_database(url)


async def test_an_unreachable_registry_is_said_in_one_line(tmp_path: Path):
    caseload = tmp_path / "caseload.csv"
    caseload.write_text(_csv([_row("H1", person_id(), "张伟", "head", enrolled_on=date(2026, 3, 1).isoformat())]))
    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": "http://127.0.0.1:1"}, "enrol", str(caseload))
    assert code == 4, output
    assert "cannot reach http://127.0.0.1:1/" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) <= 2, output
