"""The leading-group office, its own service, with the registry and the bureaus on the real broker: one-stop
view, assessment, page, CLI."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ops.cli import CSV_COLUMNS
from services.office.assessment_page import duration
from shared.periods import city_today
from tests.contrast import contrast_ratio
from tests.support import (
    enrol,
    eventually,
    household_body,
    member,
    serving,
    system,
    token,
)

pytestmark = pytest.mark.integration

BUREAUS = ("medical", "education", "housing", "employment", "utilities", "legal")


def every_bureau_household() -> dict:
    """A household the plan gives something from every bureau."""

    return household_body(
        heating="non_central",
        area="12.00",
        income="60.00",
        enrolled_on=date(2026, 1, 6),
        members=[
            member(
                "head",
                born=date(1978, 8, 8),
                able_to_work=True,
                employment_status="unemployed",
                unemployed_since="2024-06-01",
            ),
            member("child", born=date(2015, 9, 9), school_stage="primary", boarding=True),
        ],
    )


async def test_one_stop_view_lists_every_programme_every_bureau_granted(kafka, postgres):
    async with system("registry", *BUREAUS, "office") as s:
        registry, office = s["registry"], s["office"]
        household = await enrol(registry, every_bureau_household())

        async def all_bureaus_served() -> dict:
            response = await office.get(f"/households/{household['id']}/assistance")  # 404 until the office hears
            view = response.json() if response.status_code == 200 else {"programmes": []}
            return view if {p["bureau"] for p in view["programmes"]} == set(BUREAUS) else {}

        view = await eventually(all_bureaus_served, timeout=60)
        programmes = {(p["bureau"], p["programme"], p["resident_id"]) for p in view["programmes"]}
        head, child = (m["resident_id"] for m in household["members"])
        for expected in [
            ("medical", "medical_assistance", head),
            ("medical", "medical_assistance", child),
            ("legal", "legal_aid", head),
            ("education", "fee_waiver", child),
            ("education", "boarding_subsidy", child),
            ("housing", "rent_subsidy", None),
            ("employment", "reemployment_certificate", head),
            ("utilities", "water_discount", None),
            ("utilities", "heating_supplement", None),
        ]:
            assert expected in programmes
        assert all(p["programme_name"] and p["status"] == "active" for p in view["programmes"])

        # Money flows in too: a heating supplement, a month of dibao, a donation.
        await s["utilities"].post("/heating/supplement-runs", json={"period": "2026-02"})
        await registry.post("/payment-runs", json={"period": "2026-02"})
        donation = await office.post(
            "/mutual-aid/donations",
            json={
                "division_code": "230102",
                "donor_name": "哈尔滨某商会",
                "donor_kind": "unit",
                "amount": "500.00",
                "given_on": "2026-02-01",
                "household_id": household["id"],
                "purpose": "春节慰问",
            },
        )
        assert donation.status_code == 201, donation.text
        pairing = await office.post(
            "/mutual-aid/pairings",
            json={
                "household_id": household["id"],
                "donor_name": "道里区某机关",
                "donor_kind": "unit",
                "started_on": "2026-02-01",
            },
        )
        assert pairing.status_code == 201

        async def supplement_shown() -> dict:
            view = (await office.get(f"/households/{household['id']}/assistance")).json()
            heating = next(p for p in view["programmes"] if p["programme"] == "heating_supplement")
            return view if heating["payments"] == 2 and view["dibao"]["payments"] == 2 else {}

        view = await eventually(supplement_shown)
        heating = next(p for p in view["programmes"] if p["programme"] == "heating_supplement")
        # The runs for February settle January too. 2 × 200 − 60 = 340.00 dibao a month; both months are all in
        # the heating season: 20% = 68.00 a month.
        assert (heating["amount_paid"], view["dibao"]["amount_paid"]) == ("136.00", "680.00")
        assert [d["donor_name"] for d in view["donations"]] == ["哈尔滨某商会"]
        assert [p["donor_name"] for p in view["pairings"]] == ["道里区某机关"]
        assert view["amount_paid"] == "1316.00"


async def test_assessment_finds_the_households_a_stopped_bureau_has_not_served(kafka, postgres, tmp_path):
    running_bureaus = [b for b in BUREAUS if b != "legal"]  # the Justice Bureau's system is down
    async with system("registry", *running_bureaus, "office") as s:
        registry, office = s["registry"], s["office"]
        first = await enrol(registry, household_body(heating="central", enrolled_on=date(2026, 2, 1)))
        second = await enrol(
            registry,
            household_body(
                division="230125",
                heating="central",
                enrolled_on=date(2026, 2, 1),
                members=[member("head"), member("spouse", male=False)],
            ),
        )
        assert (
            await office.post(
                "/parameters/unserved_after_days",
                json={
                    "value": "0",
                    "effective_from": "2026-01-01",
                    "retroactive": True,
                    "reason": "the assessment lists every household not yet served",
                },
            )
        ).status_code == 201

        async def others_served() -> dict:
            result = (await office.get("/reports/assessment", params={"period": "2026"})).json()
            medical = next(b for b in result["bureaus"] if b["bureau"] == "medical")
            utilities = next(b for b in result["bureaus"] if b["bureau"] == "utilities")
            return result if medical["households_granted"] == 2 and utilities["households_granted"] == 2 else {}

        result = await eventually(others_served, timeout=60)
        by_bureau = {b["bureau"]: b for b in result["bureaus"]}
        assert (
            by_bureau["legal"]["households_eligible"],
            by_bureau["legal"]["households_granted"],
            by_bureau["legal"]["coverage"],
        ) == (2, 0, 0.0)
        assert (by_bureau["legal"]["persons_eligible"], by_bureau["legal"]["persons_granted"]) == (3, 0)
        assert by_bureau["medical"]["coverage"] == 1.0 and by_bureau["medical"]["persons_granted"] == 3
        assert by_bureau["housing"]["households_eligible"] == 0 and by_bureau["housing"]["coverage"] is None
        # Measured from when the registry recorded the enrolment (its event), not from the enrolment date, in hours.
        assert 0 <= by_bureau["medical"]["timeliness_median_hours"] < 0.25
        assert by_bureau["medical"]["granted_within_day"] == 1.0 and by_bureau["legal"]["granted_within_day"] is None
        unserved = {u["household_id"]: u for u in result["unserved"]}
        assert set(unserved) == {first["id"], second["id"]}
        assert {(m["bureau"], m["programme"]) for m in unserved[second["id"]]["missing"]} == {("legal", "legal_aid")}
        assert len(unserved[second["id"]]["missing"]) == 2
        county = next(d for d in result["divisions"] if d["division_code"] == "230125")
        assert (county["division_name"], county["households"], county["persons"]) == ("宾县", 1, 2)
        assert {(u["division_name"], u["street"], u["head_name"]) for u in result["unserved"]} == {
            ("道里区", "测试街", "测***"),
            ("宾县", "测试街", "测***"),
        }

        as_csv = await office.get("/reports/assessment", params={"period": "2026"}, headers={"Accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(as_csv.text.splitlines()))
        legal_rows = [r for r in rows if r["bureau"] == "legal"]
        assert {(r["division_code"], r["households_eligible"], r["households_granted"]) for r in legal_rows} == {
            ("230102", "1", "0"),
            ("230125", "1", "0"),
        }
        unserved_csv = await office.get(
            "/reports/assessment", params={"period": "2026", "format": "csv", "part": "unserved"}
        )
        assert len(list(csv.DictReader(unserved_csv.text.splitlines()))) == 3

        link = await office.post("/reports/assessment/links", json={"period": "2026", "ttl_minutes": 10})
        assert link.status_code == 201, link.text
        await _the_page_renders_in_chromium(office.app, link.json()["url"], result, tmp_path)
        await _the_cli_asks_the_office(office.app, tmp_path)


async def _the_cli_asks_the_office(app, tmp_path: Path) -> None:
    """``harbin-ops assessment`` reads the assessment from the office (no registry address given)."""

    async with serving(app) as base:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ops",
            "assessment",
            "2026",
            "--csv",
            str(tmp_path / "coverage.csv"),
            env={
                **os.environ,
                "HARBIN_OFFICE_URL": base,
                "HARBIN_REGISTRY_URL": "http://127.0.0.1:1",
                "HARBIN_TOKEN": token("office:read"),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "assessment 2026" in out.decode() and "unserved households" in out.decode()
    legal = [r for r in csv.DictReader((tmp_path / "coverage.csv").open(encoding="utf-8")) if r["bureau"] == "legal"]
    assert {r["households_granted"] for r in legal} == {"0"}


async def _the_page_renders_in_chromium(app, link: str, result: dict, tmp_path: Path) -> None:
    """Open the assessment page in headless Chromium, as a member of the joint meeting would: every figure it
    shows is the JSON's, written out (not on hover), every coloured cell readable (4.5:1), and a screenshot kept
    in .run/artefacts/ (or $TEST_ARTEFACTS) for CI to keep."""

    async with serving(app) as base:
        dom = await _chromium(base + link, tmp_path / "assessment.png")
    assert f"<title>哈尔滨市城市社会救助工作考核 · {result['period_name']}</title>" in dom
    assert result["period_name"] == "2026年"
    # The year is still running (the test runs in it): the page says so.
    assert ('id="period-running"' in dom) is (not result["period_complete"])
    for card, value in (("households", result["households"]), ("persons", result["persons"])):
        assert f'<b id="{card}">{value}</b>' in dom
    assert f'<b id="unserved-count">{len(result["unserved"])}</b>' in dom
    assert 'data-bureau="legal" data-coverage="0.0"' in dom and 'data-bureau="medical" data-coverage="1.0"' in dom

    # Each division's cells: the coverage and the counts behind it, written in the cell, readable on its colour.
    for division in result["divisions"]:
        row = re.search(rf'<tr data-division="{division["division_code"]}">(.*?)</tr>', dom)
        assert row, division["division_code"]
        cells = re.findall(
            r'<td class="cell" data-bureau="(\w+)" style="background:\s*(#[0-9a-f]{6});\s*color:\s*(#[0-9a-f]{6});?">'
            r'([^<]+)<span class="count">([^<]+)</span>',
            row[1],
        )
        shown = {bureau: (text, count) for bureau, _, _, text, count in cells}
        for b in division["bureaus"]:
            coverage = "—" if b["coverage"] is None else f"{b['coverage'] * 100:.1f}%"
            assert shown[b["bureau"]] == (coverage, f"{b['households_granted']}/{b['households_eligible']}")
        for _, background, text, _, _ in cells:
            assert contrast_ratio(background, text) >= 4.5, (background, text)

    # Money per programme, as the JSON has it; timeliness in hours, per bureau.
    for programme in result["programmes"]:
        row = re.search(rf'data-programme="{programme["programme"]}">(.*?)</tr>', dom)
        assert row and f"¥{Decimal(programme['amount_paid']):,.2f}" in row[1]
    medical = next(b for b in result["bureaus"] if b["bureau"] == "medical")
    row = re.search(r'<tr data-bureau="medical"><th>[^<]+</th><td>([^<]+)</td>', dom)
    assert row and row[1] == duration(medical["timeliness_median_hours"])

    # The unserved: district, street and masked head, as the JSON says; the CSV travels in the page.
    for household in result["unserved"]:
        row = re.search(rf'<tr data-household="{household["household_id"]}">(.*?)</tr>', dom)
        assert row
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row[1])
        assert cells[:5] == [
            household["division_name"],
            household["street"],
            household["head_name"],
            household["enrolled_on"],
            str(household["days_waiting"]),
        ]
        assert cells[-1] == household["household_id"]
    assert "测试街" in dom and "宾县" in dom and "免费法律援助" in dom
    assert re.search(r'<a id="unserved-csv" href="data:text/csv;charset=utf-8,[^"]+" download=', dom)

    _keep(tmp_path / "assessment.png")


async def _chromium(page: str, screenshot: Path) -> str:
    """The page's DOM after headless Chromium has loaded it, and a screenshot of it."""

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Debian's chromium is needed for this test (scripts/test.sh installs it)"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={screenshot.parent / 'chromium'}",
        "--window-size=1280,2600",
    ]
    dump = await asyncio.create_subprocess_exec(
        browser, *flags, "--dump-dom", page, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    dom = (await asyncio.wait_for(dump.communicate(), 90))[0].decode()
    shot = await asyncio.create_subprocess_exec(
        browser,
        *flags,
        f"--screenshot={screenshot}",
        page,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.wait_for(shot.wait(), 90)
    return dom


def _keep(screenshot: Path) -> None:
    """A screenshot that shows something, kept in .run/artefacts/ (or $TEST_ARTEFACTS) for CI to keep."""

    assert screenshot.stat().st_size > 10_000
    artefacts = Path(os.environ.get("TEST_ARTEFACTS", Path(__file__).parents[2] / ".run" / "artefacts"))
    artefacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, artefacts / screenshot.name)


async def test_the_meeting_pack_is_one_page_from_the_cli_that_opens_offline_with_the_overdue_flagged(
    kafka, postgres, tmp_path
):
    async with system("registry", "office") as s:
        registry, office = s["registry"], s["office"]
        await enrol(registry, household_body(heating="central", enrolled_on=date(2026, 2, 1)))

        async def heard() -> bool:
            result = (await office.get("/reports/assessment", params={"period": "2026"})).json()
            return result["households"] == 1

        await eventually(heard, timeout=60)
        later = city_today() + timedelta(days=60)
        inspection = await office.post(
            "/inspections",
            json={
                "division_code": "230102",
                "date": "2026-03-02",
                "units": ["civil_affairs", "utilities"],
                "findings": [
                    {"description": "供暖补贴未发放到户", "unit": "utilities", "due_on": "2026-04-01"},
                    {"description": "法律援助台账不全", "unit": "legal", "due_on": later.isoformat()},
                ],
            },
        )
        assert inspection.status_code == 201, inspection.text
        pack = (await office.get("/meetings/pack", params={"period": "2026"})).json()
        assert [(f["description"], f["overdue"]) for f in pack["open_findings"]] == [
            ("供暖补贴未发放到户", True),
            ("法律援助台账不全", False),
        ]
        assert pack["assessment"]["households"] == 1 and pack["assessment"]["work_cycle"]["findings_overdue"] == 1
        target = tmp_path / "pack" / "meeting-2026.html"
        target.parent.mkdir()
        async with serving(office.app) as base:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ops",
                "meeting",
                "2026",
                "--out",
                str(target),
                env={**os.environ, "HARBIN_OFFICE_URL": base, "HARBIN_TOKEN": token("office:read")},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        assert f"meeting pack 2026: {target}" in out.decode()

    # Self-contained: no script, no stylesheet or font to fetch; the only link is the CSV it carries inside.
    html = target.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert all(ref.startswith("data:") for ref in re.findall(r'(?:src|href)="([^"]*)"', html))
    # Opened from the file, the services gone: every figure is in the page.
    dom = await _chromium(target.as_uri(), tmp_path / "meeting-pack.png")
    assert "<title>联席会议材料 · 2026年</title>" in dom
    assert f'<b id="households">{pack["assessment"]["households"]}</b>' in dom
    for unit in pack["scores"]["units"]:
        row = re.search(
            rf'<tr class="score" data-unit="{unit["unit"]}"><th>([^<]+)</th><td class="points">([^<]+)<', dom
        )
        assert row and row[1] == unit["unit_name"]
        assert row[2] == ("—" if unit["score"] is None else f"{unit['score']:.2f}")
    assert re.search(r'<tr class="score" data-division="230102">', dom)
    flagged = re.findall(
        r'<tr class="finding( overdue)?" data-inspection="\d+" data-n="(\d)">.*?<td>([^<]+)</td></tr>', dom
    )
    assert flagged == [(" overdue", "1", f"逾期 {(city_today() - date(2026, 4, 1)).days} 天"), ("", "2", "未到期")]
    assert '<b id="findings-overdue">1</b>' in dom and re.search(
        r'<tr class="overdue" data-inspection="\d+" data-n="1">', dom
    )
    _keep(tmp_path / "meeting-pack.png")


async def test_cli_enrols_a_csv_and_reports_the_bad_row(kafka, postgres, tmp_path):
    async with system("registry") as s:
        good, other, bad = member("head"), member("head"), member("head")
        bad["resident_id"] = bad["resident_id"][:17] + ("1" if bad["resident_id"][17] != "1" else "2")
        child = member("child", born=date(2016, 1, 1), school_stage="primary")
        rows = [("H1", good), ("H1", child), ("H2", bad), ("H3", other)]
        caseload = tmp_path / "caseload.csv"
        with caseload.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for ref, m in rows:
                writer.writerow(
                    [
                        ref,
                        "230102",
                        "道里区某街1号",
                        "central",
                        "30.00",
                        "100.00",
                        "2026-01-01",
                        m["resident_id"],
                        m["name"],
                        m["relation"],
                        "false",
                        "none",
                        "",
                        "false",
                        m.get("school_stage", "none"),
                        "false",
                    ]
                )
        async with serving(s["registry"].app) as base:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ops",
                "enrol",
                str(caseload),
                "--batch-size",
                "2",
                env={**os.environ, "HARBIN_REGISTRY_URL": base, "HARBIN_TOKEN": token("registry:write")},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 3, err.decode()
        assert "enrolled 2 households; already enrolled 0; rejected 1" in out.decode()
        rejected = list(csv.DictReader((tmp_path / "caseload.rejected.csv").open(encoding="utf-8-sig")))
        assert [(r["household_ref"], r["error_code"]) for r in rejected] == [("H2", "invalid_resident_id")]
        assert bad["resident_id"] not in rejected[0]["reason"] + rejected[0]["原因"]  # the ID stays in its column only
        listed = (await s["registry"].get("/households")).json()
        assert listed["total"] == 2
