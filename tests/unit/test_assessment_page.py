"""The assessment page's pure parts: Chinese period names, masked heads, streets, durations, contrast, and what
a page built from a known assessment shows (the browser test in tests/e2e/test_office.py renders a real one)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from urllib.parse import unquote

from services.office.assessment import mask_name, period_name, street_of
from services.office.assessment_page import HEAT, NO_DATA, duration, heat, render
from services.office.schemas import (
    AssessmentOut,
    BureauAssessment,
    DivisionAssessment,
    MissingProgramme,
    MutualAidSummary,
    ProgrammeMoney,
    UnservedHousehold,
)
from services.office.work_cycle.schemas import OverdueFinding, WorkCycleAssessment
from shared.periods import parse_period
from shared.services import ASSESSED_BUREAUS, BUREAU_NAMES
from tests.contrast import contrast_ratio


def test_periods_read_as_the_joint_meeting_says_them():
    assert [period_name(parse_period(p)) for p in ("2026-H2", "2026-H1", "2026", "2026-05")] == [
        "2026年下半年",
        "2026年上半年",
        "2026年",
        "2026年5月",
    ]


def test_the_head_is_masked_and_the_street_has_no_house_number():
    assert (mask_name("张伟"), mask_name("欧阳娜娜"), mask_name("")) == ("张*", "欧***", "")
    assert street_of("道里区中央大街123号", "道里区") == "中央大街"
    assert street_of("哈尔滨市道里区测试街1号", "道里区") == "测试街"
    assert street_of("宾县宾州镇", "宾县") == "宾州镇"
    assert street_of("哈尔滨市道里区测试街1号", "宾县") == "测试街"  # the address names another district


def test_durations_read_in_the_unit_that_suits_them():
    assert [duration(h) for h in (None, 3 / 3600, 0.5, 5.25, 72.0)] == ["—", "3 秒", "30 分钟", "5.2 小时", "3.0 天"]


def test_every_coverage_colour_keeps_a_contrast_of_at_least_4_5():
    for _, background, text in HEAT:
        assert contrast_ratio(background, text) >= 4.5, background
    assert contrast_ratio(*NO_DATA) >= 4.5
    assert heat(1.0) == HEAT[0][1:] and heat(0.0) == HEAT[3][1:] and heat(None) == NO_DATA


def _bureau(bureau: str, amount: str = "0.00", coverage: float | None = 1.0) -> BureauAssessment:
    return BureauAssessment(
        bureau=bureau,
        bureau_name=BUREAU_NAMES[bureau],
        households_eligible=20,
        households_granted=19,
        persons_eligible=30,
        persons_granted=29,
        coverage=coverage,
        timeliness_median_hours=0.001,
        timeliness_p90_hours=30.0,
        granted_within_day=0.9,
        timeliness_median_days=0.0,
        timeliness_p90_days=1.25,
        households_paid=10,
        amount_paid=Decimal(amount),
    )


def _assessment(complete: bool) -> AssessmentOut:
    bureaus = [_bureau(b, "20000000000.00" if b == "education" else "1000.00") for b in ASSESSED_BUREAUS]
    return AssessmentOut(
        period="2026-H2",
        period_name="2026年下半年",
        period_complete=complete,
        as_of=date(2026, 12, 2),
        unserved_after_days=30,
        households=20,
        persons=30,
        dibao_paid=Decimal("6800.00"),
        bureaus=bureaus,
        programmes=[
            ProgrammeMoney(
                bureau="education",
                bureau_name=BUREAU_NAMES["education"],
                programme="boarding_subsidy",
                programme_name="寄宿生生活补助",
                households_paid=10,
                payments=10,
                amount_paid=Decimal("20000000000.00"),
            ),
            ProgrammeMoney(
                bureau="housing",
                bureau_name=BUREAU_NAMES["housing"],
                programme="rent_subsidy",
                programme_name="廉租住房租金补贴",
                households_paid=10,
                payments=60,
                amount_paid=Decimal("1000.00"),
            ),
        ],
        divisions=[
            DivisionAssessment(
                division_code="230102",
                division_name="道里区",
                households=20,
                persons=30,
                dibao_paid=Decimal("6800.00"),
                bureaus=bureaus,
                mutual_aid=MutualAidSummary(donations=0, donation_amount=Decimal("0.00"), active_pairings=0),
            )
        ],
        work_cycle=WorkCycleAssessment(
            findings_due=0,
            findings_resolved_on_time=0,
            findings_open=0,
            findings_overdue=0,
            overdue_findings=[],
            partner_activities=[],
            disabled_members=0,
            disabled_members_served=0,
            divisions=[],
        ),
        unserved=[
            UnservedHousehold(
                household_id="0b5e7c1e-8d2f-4a57-9a0e-3f3c2d1b0a99",
                division_code="230102",
                division_name="道里区",
                street="中央大街",
                head_name="张*",
                enrolled_on=date(2026, 9, 1),
                days_waiting=92,
                missing=[MissingProgramme(bureau="legal", programme="legal_aid", resident_id="230102198001010011")],
            )
        ],
    )


def test_the_page_shows_money_per_programme_so_an_anomaly_stands_out():
    page = render(_assessment(complete=True))
    education = re.search(r'<tr data-bureau="education" data-programme="boarding_subsidy">(.*?)</tr>', page)
    housing = re.search(r'<tr data-bureau="housing" data-programme="rent_subsidy">(.*?)</tr>', page)
    assert education and housing
    assert "¥20,000,000,000.00" in education[1] and 'style="width:100.0%"' in education[1]
    assert "¥2,000,000,000.00" in education[1]  # per household paid
    assert "¥1,000.00" in housing[1] and 'style="width:0.0%"' in housing[1]
    assert 'id="bureaus-paid">¥20,000,001,000.00<' in page


def test_the_page_writes_counts_in_the_cells_and_warns_while_the_period_runs():
    running = render(_assessment(complete=False))
    assert 'id="period-running"' in running and "2026年下半年尚未结束" in running
    assert "<title>哈尔滨市城市社会救助工作考核 · 2026年下半年</title>" in running
    assert 'id="period-running"' not in render(_assessment(complete=True))
    cells = re.findall(
        r'<td class="cell" data-bureau="(\w+)" style="([^"]+)">([^<]+)<span class="count">([^<]+)<', running
    )
    assert len(cells) == len(ASSESSED_BUREAUS)
    assert {(text, count) for _, _, text, count in cells} == {("100.0%", "19/20")}
    assert "中位数 4 秒 · 90% 30.0 小时" in running


def test_the_unserved_list_names_head_street_and_missing_bureau_with_a_csv_of_masked_ids():
    page = render(_assessment(complete=True))
    row = re.search(r'<tr data-household="0b5e7c1e-8d2f-4a57-9a0e-3f3c2d1b0a99">(.*?)</tr>', page)
    assert row and [cell for cell in re.findall(r"<td[^>]*>([^<]*)</td>", row[1])] == [
        "道里区",
        "中央大街",
        "张*",
        "2026-09-01",
        "92",
        "法律救助：免费法律援助",
        "0b5e7c1e-8d2f-4a57-9a0e-3f3c2d1b0a99",
    ]
    link = re.search(r'<a id="unserved-csv" href="data:text/csv;charset=utf-8,([^"]+)" download="([^"]+)"', page)
    assert link and link[2] == "assessment-2026-H2-unserved.csv"
    rows = list(csv.DictReader(io.StringIO(unquote(link[1]).lstrip("\ufeff"))))
    assert [(r["head_name"], r["street"], r["bureau_name"], r["resident_id"]) for r in rows] == [
        ("张*", "中央大街", "法律救助", "230102********0011")
    ]


def test_the_page_flags_the_findings_open_past_their_due_day():
    result = _assessment(complete=True)
    flagged = result.model_copy(
        update={
            "work_cycle": result.work_cycle.model_copy(
                update={
                    "findings_open": 2,
                    "findings_overdue": 1,
                    "overdue_findings": [
                        OverdueFinding(
                            inspection_id="7",
                            n=2,
                            division_code="230102",
                            unit="utilities",
                            description="3户非集中供暖低保户未发采暖补贴",
                            due_on=date(2026, 10, 15),
                            days_overdue=48,
                        )
                    ],
                }
            )
        }
    )
    assert '<tr><td colspan="5">无逾期未整改的问题</td></tr>' in render(result)
    page = render(flagged)
    row = re.search(r'<tr class="overdue" data-inspection="7" data-n="2">(.*?)</tr>', page)
    assert row and re.findall(r"<td[^>]*>([^<]*)</td>", row[1]) == [
        "道里区",
        "水电暖救助",
        "3户非集中供暖低保户未发采暖补贴",
        "2026-10-15",
        "48",
    ]
    assert '<b id="findings-overdue">1</b>' in page
