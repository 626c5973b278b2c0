"""The assessment as a page for the joint meeting: readable in Chinese, charts drawn as inline SVG.

No script and no external asset (the unserved list's CSV travels inside the page as a data: link): the page
renders the same on a projector, in a browser with no network, and when printed for the minutes. Every
figure is written out (nothing only on hover), and every coloured cell keeps a contrast of at least 4.5:1.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from html import escape
from urllib.parse import quote

from services.office.assessment import unserved_csv
from services.office.schemas import AssessmentOut, BureauAssessment, ProcedureCounts
from services.office.work_cycle.units import unit_name
from shared.divisions import division_name
from shared.periods import parse_period
from shared.programmes import programme_name
from shared.services import BUREAU_NAMES

BAR_WIDTH = 420
UNSERVED_SHOWN = 500

# Coverage colours, each with the text colour that keeps WCAG's 4.5:1 on it (tests/e2e/test_office.py checks).
HEAT = (
    (0.95, "#1b5e20", "#ffffff"),  # ≥ 95 %: dark green, white text (7.9:1)
    (0.8, "#c5e1a5", "#111111"),  # ≥ 80 %: light green (13:1)
    (0.5, "#ffe082", "#111111"),  # ≥ 50 %: amber (15:1)
    (0.0, "#b71c1c", "#ffffff"),  # < 50 %: dark red (6.6:1)
)
NO_DATA = ("#eeeeee", "#333333")  # no household eligible (11:1)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _money(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def duration(hours: float | None) -> str:
    """A span of time in the unit that reads best: seconds, minutes, hours or days."""

    if hours is None:
        return "—"
    seconds = hours * 3600
    if seconds < 60:
        return f"{seconds:.0f} 秒"
    if hours < 1:
        return f"{seconds / 60:.0f} 分钟"
    if hours < 48:
        return f"{hours:.1f} 小时"
    return f"{hours / 24:.1f} 天"


def heat(value: float | None) -> tuple[str, str]:
    """(background, text colour) for a coverage."""

    if value is None:
        return NO_DATA
    return next((background, text) for floor, background, text in HEAT if value >= floor)


def _coverage_chart(bureaus: list[BureauAssessment]) -> str:
    row, label_width = 34, 150
    height = row * len(bureaus) + 10
    parts = [
        f'<svg id="coverage-by-bureau" role="img" aria-label="各救助项目覆盖率" width="{label_width + BAR_WIDTH + 190}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, bureau in enumerate(bureaus):
        y = 5 + index * row
        width = round((bureau.coverage or 0) * BAR_WIDTH)
        parts.append(f'<text x="0" y="{y + 20}" font-size="14" fill="#111">{escape(bureau.bureau_name)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{BAR_WIDTH}" height="22" fill="#e0e0e0"/>')
        parts.append(
            f'<rect class="bar" data-bureau="{bureau.bureau}" data-coverage="{bureau.coverage}" '
            f'x="{label_width}" y="{y + 4}" width="{width}" height="22" fill="{heat(bureau.coverage)[0]}"/>'
        )
        parts.append(
            f'<text class="value" x="{label_width + BAR_WIDTH + 8}" y="{y + 20}" font-size="14" fill="#111">'
            f"{_percent(bureau.coverage)}（{bureau.households_granted}/{bureau.households_eligible} 户）</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# The timeliness scale is logarithmic: grants come seconds after an enrolment when every system runs, and
# days or weeks after it when one does not; a linear scale shows one of the two as nothing.
TICKS = ((1 / 3600, "1秒"), (1 / 60, "1分钟"), (1.0, "1小时"), (24.0, "1天"), (168.0, "1周"), (720.0, "30天"))


def _scale(longest: float) -> tuple[float, list[tuple[float, str]]]:
    """(the scale's end in hours, the ticks on it): at least a day, else the first tick past the longest."""

    end = next((hours for hours, _ in TICKS if hours >= max(longest, 24.0)), max(longest, 720.0))
    return end, [(hours, label) for hours, label in TICKS if hours <= end]


def _x(hours: float, end: float) -> int:
    """Where ``hours`` falls on the scale; at least 2 px, so a grant within the first second still shows."""

    low = math.log10(TICKS[0][0])
    value = math.log10(max(hours, TICKS[0][0]))
    return max(2, round((value - low) / (math.log10(end) - low) * BAR_WIDTH))


def _timeliness_chart(bureaus: list[BureauAssessment]) -> str:
    row, label_width, top = 40, 150, 22
    end, ticks = _scale(max([b.timeliness_p90_hours or 0 for b in bureaus] + [0.0]))
    height = top + row * len(bureaus) + 10
    parts = [
        f'<svg id="timeliness" role="img" aria-label="从纳入低保到落实救助的时间（对数刻度）" '
        f'width="{label_width + BAR_WIDTH + 260}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for hours, label in ticks:
        x = label_width + _x(hours, end)
        parts.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{height - 6}" stroke="#9e9e9e" stroke-width="1"/>')
        parts.append(f'<text x="{x}" y="{top - 8}" font-size="12" text-anchor="middle" fill="#333">{label}</text>')
    for index, bureau in enumerate(bureaus):
        y = top + index * row
        parts.append(f'<text x="0" y="{y + 22}" font-size="14" fill="#111">{escape(bureau.bureau_name)}</text>')
        if bureau.timeliness_median_hours is not None and bureau.timeliness_p90_hours is not None:
            parts.append(
                f'<rect class="p90" x="{label_width}" y="{y + 4}" width="{_x(bureau.timeliness_p90_hours, end)}" '
                f'height="28" fill="#90caf9"/>'
            )
            parts.append(
                f'<rect class="median" x="{label_width}" y="{y + 11}" '
                f'width="{_x(bureau.timeliness_median_hours, end)}" height="14" fill="#0d47a1"/>'
            )
        parts.append(
            f'<text class="value" x="{label_width + BAR_WIDTH + 8}" y="{y + 22}" font-size="13" fill="#111">'
            f"中位数 {duration(bureau.timeliness_median_hours)} · 90% {duration(bureau.timeliness_p90_hours)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _division_rows(result: AssessmentOut) -> str:
    rows = []
    for division in result.divisions:
        cells = []
        for b in division.bureaus:
            background, text = heat(b.coverage)
            cells.append(
                f'<td class="cell" data-bureau="{b.bureau}" style="background:{background};color:{text}">'
                f'{_percent(b.coverage)}<span class="count">{b.households_granted}/{b.households_eligible}</span></td>'
            )
        rows.append(
            f'<tr data-division="{division.division_code}"><th>{escape(division.division_name)}</th>'
            f"<td>{division.households}</td><td>{division.persons}</td>{''.join(cells)}"
            f'<td class="money">{_money(division.dibao_paid)}</td></tr>'
        )
    return "".join(rows)


def _money_rows(result: AssessmentOut) -> str:
    largest = max([p.amount_paid for p in result.programmes] + [Decimal("0.01")])
    rows = []
    for p in result.programmes:
        average = p.amount_paid / p.households_paid if p.households_paid else Decimal(0)
        share = float(p.amount_paid / largest) * 100
        rows.append(
            f'<tr data-bureau="{p.bureau}" data-programme="{escape(p.programme)}">'
            f"<th>{escape(p.bureau_name)}</th><td>{escape(p.programme_name)}</td>"
            f"<td>{p.households_paid}</td><td>{p.payments}</td>"
            f'<td class="money amount">{_money(p.amount_paid)}</td><td class="money">{_money(average)}</td>'
            f'<td class="share"><div class="bar" style="width:{share:.1f}%"></div></td></tr>'
        )
    total = sum((p.amount_paid for p in result.programmes), Decimal(0))
    rows.append(
        f'<tr class="total"><th colspan="4">合计</th><td class="money" id="bureaus-paid">{_money(total)}</td>'
        f"<td></td><td></td></tr>"
    )
    return "".join(rows) if result.programmes else '<tr><td colspan="7">本期各部门尚无支付记录</td></tr>'


def _timeliness_rows(bureaus: list[BureauAssessment]) -> str:
    return "".join(
        f'<tr data-bureau="{b.bureau}"><th>{escape(b.bureau_name)}</th>'
        f"<td>{duration(b.timeliness_median_hours)}</td><td>{duration(b.timeliness_p90_hours)}</td>"
        f"<td>{_percent(b.granted_within_day)}</td></tr>"
        for b in bureaus
    )


def _unserved_rows(result: AssessmentOut) -> str:
    rows = []
    for household in result.unserved[:UNSERVED_SHOWN]:
        counts = Counter((m.bureau, m.programme) for m in household.missing)
        missing = "；".join(
            f"{BUREAU_NAMES.get(bureau, bureau)}：{programme_name(programme)}" + (f"（{count}人）" if count > 1 else "")
            for (bureau, programme), count in counts.items()
        )
        rows.append(
            f'<tr data-household="{escape(household.household_id)}"><td>{escape(household.division_name)}</td>'
            f"<td>{escape(household.street)}</td><td>{escape(household.head_name)}</td>"
            f"<td>{household.enrolled_on.isoformat()}</td><td>{household.days_waiting}</td>"
            f'<td class="missing">{escape(missing)}</td><td class="id">{escape(household.household_id)}</td></tr>'
        )
    return "".join(rows) or '<tr><td colspan="7">无</td></tr>'


def _running_banner(result: AssessmentOut) -> str:
    if result.period_complete:
        return ""
    period = parse_period(result.period)
    return (
        f'<p class="banner" id="period-running" role="status">{escape(result.period_name)}尚未结束'
        f"（考核期至 {period.end.isoformat()}）：以下数字截至 {result.as_of.isoformat()}，还会变化，"
        f"不能作为本期的考核结论。</p>"
    )


STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif;
       margin: 2rem; color: #111; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
.sub { color: #444; margin-top: 0; }
.banner { background: #fff3cd; color: #5c3c00; border: 2px solid #b58100; padding: .6rem 1rem; font-weight: 600; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0 2rem; }
.card { border: 1px solid #bbb; border-radius: 6px; padding: .8rem 1.2rem; min-width: 10rem; }
.card b { display: block; font-size: 1.5rem; }
table { border-collapse: collapse; margin: .5rem 0 2rem; }
th, td { border: 1px solid #bbb; padding: .35rem .6rem; text-align: center; }
td.cell { font-weight: 600; min-width: 5.5rem; }
td.cell .count { display: block; font-size: .8rem; font-weight: 400; }
td.money { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.share { width: 12rem; text-align: left; }
td.share .bar { background: #0d47a1; height: .9rem; min-width: 1px; }
tr.total th, tr.total td { font-weight: 700; }
td.id { font-family: monospace; font-size: .8rem; white-space: nowrap; color: #333; }
td.missing, td.text { text-align: left; }
.overdue, tr.overdue td { color: #b71c1c; font-weight: 600; }
h2 { font-size: 1.2rem; border-left: 4px solid #b71c1c; padding-left: .5rem; }
.legend span { display: inline-block; padding: 0 .5rem; margin-right: .4rem; }
.note { color: #444; font-size: .9rem; }
a { color: #0d47a1; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print {
  body { margin: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  tr, .card, svg { break-inside: avoid; }
  .download { display: none; }
  @page { size: A4 landscape; margin: 12mm; }
}
"""


def _findings_section(result: AssessmentOut) -> str:
    """督导检查: the findings due in the period and how they were resolved, and those open past their due day."""

    cycle = result.work_cycle
    rows = "".join(
        f'<tr class="overdue" data-inspection="{f.inspection_id}" data-n="{f.n}"><td>{escape(division_name(f.division_code))}</td>'
        f'<td>{escape(unit_name(f.unit))}</td><td class="text">{escape(f.description)}</td>'
        f"<td>{f.due_on.isoformat()}</td><td>{f.days_overdue}</td></tr>"
        for f in cycle.overdue_findings
    )
    return f"""<h2>督导检查发现问题的整改</h2>
<p id="findings-summary">本期到期 <b>{cycle.findings_due}</b> 项，按期整改 <b>{cycle.findings_resolved_on_time}</b> 项；
目前未整改 <b>{cycle.findings_open}</b> 项，其中<span class="overdue">逾期 <b id="findings-overdue">{cycle.findings_overdue}</b> 项</span>。</p>
<table id="overdue-findings">
<thead><tr><th>区县</th><th>责任单位</th><th>问题</th><th>整改期限</th><th>已逾期(天)</th></tr></thead>
<tbody>{rows or '<tr><td colspan="5">无逾期未整改的问题</td></tr>'}</tbody>
</table>"""


def _procedure_cells(counts: ProcedureCounts) -> str:
    late = [counts.applications_overdue, counts.reviews_overdue, counts.appeals_overdue]
    cells = [
        counts.applications_submitted,
        counts.applications_approved,
        counts.applications_refused,
        counts.applications_pending,
        late[0],
        counts.reviews_due,
        late[1],
        counts.appeals_lodged,
        counts.appeals_open,
        f"{counts.appeals_decided}（{counts.appeals_upheld}）",
        late[2],
    ]
    overdue_at = {4: late[0], 6: late[1], 10: late[2]}
    return "".join(
        f'<td class="overdue">{value}</td>' if overdue_at.get(index) else f"<td>{value}</td>"
        for index, value in enumerate(cells)
    )


def _procedure_section(result: AssessmentOut) -> str:
    """申请、复核、申诉: the dibao procedure per district, as the registry announced it."""

    rows = "".join(
        f'<tr data-division="{d.division_code}"><th>{escape(d.division_name)}</th>{_procedure_cells(d.procedure)}</tr>'
        for d in result.divisions
    )
    return f"""<h2>低保申请、定期复核与申诉</h2>
<p class="note">申请：本期受理、批准、不予批准，期末待决定，现超过办理时限；复核：期末前到期未复核的在保户，其中现已逾期；
申诉：本期提出，期末未决，本期决定（其中申诉成立），现超过决定期限。</p>
<table id="procedure">
<thead><tr><th rowspan="2">区县</th><th colspan="5">低保申请</th><th colspan="2">定期复核</th><th colspan="4">申诉</th></tr>
<tr><th>受理</th><th>批准</th><th>不予批准</th><th>待决定</th><th>超期</th><th>到期</th><th>逾期</th>
<th>提出</th><th>未决</th><th>决定（成立）</th><th>超期</th></tr></thead>
<tbody>{rows}<tr class="total" data-division="city"><th>合计</th>{_procedure_cells(result.procedure)}</tr></tbody>
</table>"""


def document(title: str, body: str) -> str:
    """A whole page: the one style, no script, no external asset."""

    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
{body}
</body>
</html>"""


def subtitle(result: AssessmentOut) -> str:
    period = parse_period(result.period)
    return (
        f'<p class="sub">考核期 <span id="period">{escape(result.period_name)}</span>'
        f"（{period.start.isoformat()} 至 {period.end.isoformat()}）· 数据截至 {result.as_of.isoformat()}"
        " · 依据《哈尔滨市城市社会救助工作方案》(哈政办综〔2004〕25号)</p>"
    )


def render(result: AssessmentOut) -> str:
    body = f"<h1>哈尔滨市城市社会救助工作考核</h1>\n{subtitle(result)}\n{sections(result)}"
    return document(f"哈尔滨市城市社会救助工作考核 · {result.period_name}", body)


def sections(result: AssessmentOut) -> str:
    """The assessment's figures, under the page's title: the meeting's pack shows them under its own."""

    bureaus = result.bureaus
    head_cells = "".join(f"<th>{escape(BUREAU_NAMES[b.bureau])}</th>" for b in bureaus)
    legend = "".join(
        f'<span style="background:{background};color:{text}">{label}</span>'
        for (background, text), label in (
            (HEAT[0][1:], "≥95%"),
            (HEAT[1][1:], "≥80%"),
            (HEAT[2][1:], "≥50%"),
            (HEAT[3][1:], "&lt;50%"),
            (NO_DATA, "无应保对象"),
        )
    )
    aid_rows = "".join(
        f"<tr><th>{escape(d.division_name)}</th><td>{d.mutual_aid.donations}</td>"
        f'<td class="money">{_money(d.mutual_aid.donation_amount)}</td><td>{d.mutual_aid.active_pairings}</td></tr>'
        for d in result.divisions
    )
    csv_name = f"assessment-{result.period}-unserved.csv"
    csv_link = "data:text/csv;charset=utf-8," + quote("\ufeff" + unserved_csv(result, mask_ids=True))
    more = (
        f"<p>另有 {len(result.unserved) - UNSERVED_SHOWN} 户未列出，见 CSV。</p>"
        if len(result.unserved) > UNSERVED_SHOWN
        else ""
    )
    return f"""{_running_banner(result)}
<div class="cards">
  <div class="card">低保家庭<b id="households">{result.households}</b>户</div>
  <div class="card">低保人员<b id="persons">{result.persons}</b>人</div>
  <div class="card">低保金发放<b id="dibao-paid">{_money(result.dibao_paid)}</b></div>
  <div class="card">各部门救助资金<b id="bureaus-paid-card">{_money(sum((p.amount_paid for p in result.programmes), Decimal(0)))}</b></div>
  <div class="card">未落实救助<b id="unserved-count">{len(result.unserved)}</b>户 (纳入低保超过 {result.unserved_after_days} 天)</div>
</div>
<h2>各部门覆盖率（应保尽保）</h2>
{_coverage_chart(bureaus)}
<h2>各区县、各部门覆盖率</h2>
<p class="legend">{legend}</p>
<p class="note">每格：覆盖率，下为已落实户数/应保户数。</p>
<table id="coverage-by-division">
<thead><tr><th>区县</th><th>户数</th><th>人数</th>{head_cells}<th>低保金</th></tr></thead>
<tbody>{_division_rows(result)}</tbody>
</table>
<h2>各部门、各项目救助资金（元，按支付日期计入本期）</h2>
<table id="money">
<thead><tr><th>部门</th><th>项目</th><th>户数</th><th>笔数</th><th>金额</th><th>户均</th><th>占比最大项目的比例</th></tr></thead>
<tbody>{_money_rows(result)}</tbody>
</table>
<h2>救助及时性：从纳入低保（民政局登记）到各部门落实救助</h2>
{_timeliness_chart(bureaus)}
<table id="timeliness-table">
<thead><tr><th>部门</th><th>中位数</th><th>90%在此之内</th><th>24小时内落实</th></tr></thead>
<tbody>{_timeliness_rows(bureaus)}</tbody>
</table>
<h2>未落实救助的家庭</h2>
<p class="download"><a id="unserved-csv" href="{csv_link}" download="{csv_name}">下载全部 {len(result.unserved)} 户的清单（CSV）</a></p>
<table id="unserved">
<thead><tr><th>区县</th><th>街路</th><th>户主</th><th>纳入低保</th><th>已等待(天)</th><th>尚未落实</th><th>家庭编号</th></tr></thead>
<tbody>{_unserved_rows(result)}</tbody>
</table>
{more}
<h2>社会互助（捐赠与一帮一结对子）</h2>
<table id="mutual-aid"><thead><tr><th>区县</th><th>捐赠笔数</th><th>捐赠金额</th><th>结对帮扶(户)</th></tr></thead>
<tbody>{aid_rows}</tbody></table>
{_procedure_section(result)}
{_findings_section(result)}"""
