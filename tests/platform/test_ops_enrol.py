"""`harbin-ops enrol` as the ops team runs it on a city's file: a real process against a real registry."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sys
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from ops.caseload import LABELS
from ops.cli import CSV_COLUMNS
from ops.http import SCOPES, token_hint
from shared import agencies
from shared.auth import ALL_SCOPES
from shared.auth import main as auth_main
from shared.services import NAMES
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


async def _household_count(registry: str) -> int:
    async with httpx.AsyncClient(base_url=registry, headers=bearer("registry:read")) as http:
        return int((await http.get("/households")).json()["total"])


def _rejected(path: Path) -> list[dict[str, str]]:
    # UTF-8 with a BOM: Excel opens it with its Chinese intact.
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(path.open(encoding="utf-8-sig")))


@pytest.fixture()
async def registry(kafka, postgres):
    url = await migrated_database("registry")
    try:
        async with serving(service_app("registry", url, new_prefix())) as base:
            yield base
    finally:
        await drop_database(url)


async def test_a_gbk_file_with_a_household_split_across_the_file_and_a_bad_row_enrols_what_is_good(
    registry, tmp_path: Path
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

    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(caseload))
    assert code == 3, output  # some rows were refused
    assert "read as GBK" in output and "enrolled 2 households; already enrolled 0; rejected 1" in output, output
    # Without a terminal, progress is plain lines with counts (a log keeps them).
    assert "enrolling: 3/3 households (100%)" in output and "enrolled 2, already in 0, rejected 1" in output

    assert await _members(registry, head) == ["张伟", "王芳"]  # one household, both members
    assert await _members(registry, alone) == ["李娜"]
    rejected = _rejected(tmp_path / "caseload.rejected.csv")
    assert [(r["line"], r["resident_id"], r["error_code"], r["column"]) for r in rejected] == [
        ("5", early, "date_before_plan", "纳入低保日期(enrolled_on)")
    ]
    assert rejected[0]["原因"].startswith("纳入低保日期：日期早于 2004 年") and "members.0" not in rejected[0]["reason"]


async def test_an_excel_file_in_chinese_is_enrolled_and_a_second_run_resumes_instead_of_clashing(
    registry, tmp_path: Path
):
    """Chinese headers and values as a district office types them, a date cell, a resident ID Excel turned into a
    number, a bad ID in a second member's row; then the same file again, as after an interrupted run."""

    head, child, other, bad_child = person_id(), person_id(born=date(2014, 5, 1)), person_id(), person_id()
    bad_child = bad_child[:17] + ("1" if bad_child[17] != "1" else "2")  # wrong check character
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([LABELS[name] for name in CSV_COLUMNS])
    sheet.append(["A1", "230102", "道里区中央大街5号", "非集中供热", 12, 150, datetime(2026, 3, 1), head, "刘洋", "户主", "是", "失业", datetime(2025, 1, 1), "否", "无", "否"])  # fmt: skip
    sheet.append(["A2", "230102", "道里区红军街8号", "集中供热", 30, 0, "2026/3/1", other, "陈静", "户主", "否", "无", None, "否", "无", "否"])  # fmt: skip
    sheet.append(["A1", None, None, None, None, None, None, child, "刘小", "子女", "否", "学生", None, "否", "小学", "否"])  # fmt: skip
    sheet.append(["A3", "230102", "道里区学府路1号", "集中供热", 30, 0, "2026-03-01", person_id(), "孙丽", "户主", "否", "无", None, "否", "无", "否"])  # fmt: skip
    sheet.append(["A3", None, None, None, None, None, None, bad_child, "孙小", "子女", "否", "学生", None, "否", "小学", "否"])  # fmt: skip
    sheet.append(["A4", "230102", "道里区友谊路3号", "集中供热", 30, 0, "2026-03-01", 230102198001010011, "周强", "户主", "否", "无", None, "否", "无", "否"])  # fmt: skip
    caseload = tmp_path / "街道低保名册.xlsx"
    book.save(caseload)

    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(caseload))
    assert code == 3, output
    assert "enrolled 2 households; already enrolled 0; rejected 2 (3 rows)" in output, output
    assert await _members(registry, head) == ["刘小", "刘洋"]
    rejected = {r["line"]: r for r in _rejected(tmp_path / "街道低保名册.rejected.csv")}
    # The bad ID is on the child's own line (6), its column named; the head's line says why it was held back.
    assert rejected["6"]["error_code"] == "invalid_resident_id" and rejected["6"]["column"] == "身份证号(resident_id)"
    assert rejected["6"]["原因"].startswith("身份证号：身份证号码无效")
    assert rejected["5"]["error_code"] == "household_rejected" and "第6行" in rejected["5"]["原因"]
    assert rejected["7"]["error_code"] == "resident_id_as_number" and "文本" in rejected["7"]["原因"]

    # The same file again: what went in is "already enrolled", nothing clashes with itself, nothing doubles.
    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(caseload))
    assert code == 3, output
    assert "enrolled 0 households; already enrolled 2; rejected 2 (3 rows)" in output, output
    assert "person_in_active_household" not in (tmp_path / "街道低保名册.rejected.csv").read_text(encoding="utf-8-sig")
    assert await _household_count(registry) == 2


async def test_a_person_in_two_households_is_refused_naming_the_other_household_and_its_line(registry, tmp_path: Path):
    shared_person, first_head, moved = person_id(), person_id(), person_id()
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(_csv([_row("E1", moved, "吴敏", "head")]), encoding="utf-8")
    assert (await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(earlier)))[0] == 0

    caseload = tmp_path / "caseload.csv"
    caseload.write_text(
        _csv(
            [
                _row("H1", first_head, "郑华", "head"),
                _row("H1", shared_person, "郑一", "child"),
                _row("H2", person_id(), "冯刚", "head"),
                _row("H2", shared_person, "郑一", "child"),  # also in H1
                # Enrolled from the earlier file, here with another date: not a repeat of that enrolment, a clash.
                _row("H3", moved, "吴敏", "head", enrolled_on="2026-04-01"),
            ]
        ),
        encoding="utf-8-sig",
    )
    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry}, "enrol", str(caseload))
    assert code == 3, output
    rejected = {r["line"]: r for r in _rejected(tmp_path / "caseload.rejected.csv")}
    assert rejected["5"]["error_code"] == "person_in_another_row"
    assert "第3行" in rejected["5"]["原因"] and "H1" in rejected["5"]["原因"]
    assert "household H1 on line 3" in rejected["5"]["reason"]
    async with httpx.AsyncClient(base_url=registry, headers=bearer("registry:read")) as http:
        other = (await http.get(f"/persons/{moved}")).json()["household_id"]
    assert rejected["6"]["error_code"] == "person_in_active_household"
    assert other in rejected["6"]["原因"] and other in rejected["6"]["reason"]


async def test_an_unreachable_registry_is_said_in_one_line(tmp_path: Path):
    caseload = tmp_path / "caseload.csv"
    caseload.write_text(_csv([_row("H1", person_id(), "张伟", "head", enrolled_on=date(2026, 3, 1).isoformat())]))
    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": "http://127.0.0.1:1"}, "enrol", str(caseload))
    assert code == 4, output
    assert "cannot reach http://127.0.0.1:1/" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) <= 2, output


def test_the_token_hint_mints_a_token_the_services_accept(monkeypatch: pytest.MonkeyPatch):
    # The hint once named civil_affairs for every command, and Civil Affairs may not hold utilities:write,
    # housing:write, education:write or a bureau's admin scope: the printed command was refused.
    monkeypatch.delenv("HARBIN_TOKEN", raising=False)
    wanted = {*SCOPES.values(), "registry:read", *(f"{name}:admin" for name in NAMES)}
    for scopes in sorted(wanted):
        hint = token_hint("registry", scopes)
        agency = re.search(r"--agency (\S+)", hint)
        assert agency is not None and agency.group(1) != agencies.LOCAL, hint
        refused = agencies.refusal(agency.group(1), scopes.split(), {}, production=True, all_scopes=ALL_SCOPES)
        assert refused is None, (scopes, hint, refused)


def test_minting_a_token_with_an_empty_subject_is_refused(capsys: pytest.CaptureFixture[str]):
    # "--subject $USER" with USER unset (a container, a CI job) once printed a token every service refuses.
    with pytest.raises(SystemExit) as refused:
        auth_main(["--agency", "civil_affairs", "--subject", "", "--scope", "registry:read"])
    assert refused.value.code == 2
    assert "--subject is empty" in capsys.readouterr().err


async def test_a_refused_token_says_the_cli_reads_harbin_token(registry, tmp_path: Path):
    caseload = tmp_path / "caseload.csv"
    caseload.write_text(_csv([_row("H1", person_id(), "张伟", "head")]))
    code, output = await _harbin_ops({"HARBIN_REGISTRY_URL": registry, "HARBIN_TOKEN": ""}, "enrol", str(caseload))
    assert code == 5, output
    assert "401" in output and "HARBIN_TOKEN, which is not set" in output and "python -m shared.auth" in output
    assert "Traceback" not in output
    code, output = await _harbin_ops(
        {"HARBIN_REGISTRY_URL": registry, "HARBIN_TOKEN": token("registry:read")}, "enrol", str(caseload)
    )
    assert code == 5 and "403" in output and "registry:write" in output, output
