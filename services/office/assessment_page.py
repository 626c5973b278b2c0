"""The assessment as a page for the joint meeting: readable in Chinese, charts drawn as inline SVG.

No script and no external asset: the page renders the same on a projector, in a browser with no
network, and when printed for the minutes.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from services.office.schemas import AssessmentOut, BureauAssessment
from shared.programmes import programme_name
from shared.services import BUREAU_NAMES

BAR_WIDTH = 420


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} 天"


def _heat(value: float | None) -> str:
    if value is None:
        return "#eeeeee"
    if value >= 0.95:
        return "#2e7d32"
    if value >= 0.8:
        return "#9ccc65"
    if value >= 0.5:
        return "#ffca28"
    return "#e53935"


def _coverage_chart(bureaus: list[BureauAssessment]) -> str:
    row, label_width = 34, 150
    height = row * len(bureaus) + 10
    parts = [
        f'<svg id="coverage-by-bureau" role="img" aria-label="各救助项目覆盖率" width="{label_width + BAR_WIDTH + 90}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, bureau in enumerate(bureaus):
        y = 5 + index * row
        width = round((bureau.coverage or 0) * BAR_WIDTH)
        parts.append(f'<text x="0" y="{y + 20}" font-size="14">{escape(bureau.bureau_name)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{BAR_WIDTH}" height="22" fill="#f0f0f0"/>')
        parts.append(
            f'<rect class="bar" data-bureau="{bureau.bureau}" data-coverage="{bureau.coverage}" '
            f'x="{label_width}" y="{y + 4}" width="{width}" height="22" fill="{_heat(bureau.coverage)}"/>'
        )
        parts.append(
            f'<text x="{label_width + BAR_WIDTH + 8}" y="{y + 20}" font-size="14">{_percent(bureau.coverage)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _timeliness_chart(bureaus: list[BureauAssessment]) -> str:
    row, label_width = 40, 150
    longest = max([b.timeliness_p90_days or 0 for b in bureaus] + [1.0])
    parts = [
        f'<svg id="timeliness" role="img" aria-label="从纳入低保到落实救助的天数" width="{label_width + BAR_WIDTH + 160}" '
        f'height="{row * len(bureaus) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, bureau in enumerate(bureaus):
        y = 5 + index * row
        median = round((bureau.timeliness_median_days or 0) / longest * BAR_WIDTH)
        p90 = round((bureau.timeliness_p90_days or 0) / longest * BAR_WIDTH)
        parts.append(f'<text x="0" y="{y + 22}" font-size="14">{escape(bureau.bureau_name)}</text>')
        parts.append(f'<rect class="p90" x="{label_width}" y="{y + 4}" width="{p90}" height="28" fill="#90caf9"/>')
        parts.append(
            f'<rect class="median" x="{label_width}" y="{y + 11}" width="{median}" height="14" fill="#1565c0"/>'
        )
        parts.append(
            f'<text x="{label_width + BAR_WIDTH + 8}" y="{y + 22}" font-size="13">'
            f"中位数 {_days(bureau.timeliness_median_days)} · 90% {_days(bureau.timeliness_p90_days)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render(result: AssessmentOut) -> str:
    bureaus = result.bureaus
    head_cells = "".join(f"<th>{escape(BUREAU_NAMES[b.bureau])}</th>" for b in bureaus)
    division_rows = []
    for division in result.divisions:
        cells = "".join(
            f'<td class="cell" data-bureau="{b.bureau}" style="background:{_heat(b.coverage)}" '
            f'title="{b.households_granted}/{b.households_eligible}">{_percent(b.coverage)}</td>'
            for b in division.bureaus
        )
        division_rows.append(
            f'<tr data-division="{division.division_code}"><th>{escape(division.division_name)}</th>'
            f"<td>{division.households}</td><td>{division.persons}</td>{cells}"
            f"<td>¥{division.dibao_paid:,.2f}</td></tr>"
        )
    unserved_rows = []
    for household in result.unserved[:500]:
        counts = Counter((m.bureau, m.programme) for m in household.missing)
        missing = "；".join(
            f"{BUREAU_NAMES.get(bureau, bureau)}: {programme_name(programme)}" + (f" ({count}人)" if count > 1 else "")
            for (bureau, programme), count in counts.items()
        )
        unserved_rows.append(
            f"<tr><td><code>{escape(household.household_id)}</code></td>"
            f"<td>{escape(_division(result, household.division_code))}</td>"
            f"<td>{household.enrolled_on.isoformat()}</td><td>{household.days_waiting}</td>"
            f"<td>{escape(missing)}</td></tr>"
        )
    aid_rows = "".join(
        f"<tr><th>{escape(d.division_name)}</th><td>{d.mutual_aid.donations}</td>"
        f"<td>¥{d.mutual_aid.donation_amount:,.2f}</td><td>{d.mutual_aid.active_pairings}</td></tr>"
        for d in result.divisions
    )
    more = f"<p>另有 {len(result.unserved) - 500} 户未列出，请下载 CSV。</p>" if len(result.unserved) > 500 else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>哈尔滨市城市社会救助工作考核 · {escape(result.period)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif; margin: 2rem; color: #222; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
.sub {{ color: #666; margin-top: 0; }}
.cards {{ display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0 2rem; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1.2rem; min-width: 10rem; }}
.card b {{ display: block; font-size: 1.5rem; }}
table {{ border-collapse: collapse; margin: .5rem 0 2rem; }}
th, td {{ border: 1px solid #ddd; padding: .35rem .6rem; text-align: center; }}
td.cell {{ color: #111; font-weight: 600; }}
h2 {{ font-size: 1.2rem; border-left: 4px solid #c62828; padding-left: .5rem; }}
.legend span {{ display: inline-block; padding: 0 .5rem; margin-right: .4rem; }}
</style>
</head>
<body>
<h1>哈尔滨市城市社会救助工作考核</h1>
<p class="sub">考核期 {escape(result.period)} · 数据截至 {result.as_of.isoformat()} · 依据《哈尔滨市城市社会救助工作方案》(哈政办综〔2004〕25号)</p>
<div class="cards">
  <div class="card">低保家庭<b id="households">{result.households}</b>户</div>
  <div class="card">低保人员<b id="persons">{result.persons}</b>人</div>
  <div class="card">低保金发放<b id="dibao-paid">¥{result.dibao_paid:,.2f}</b></div>
  <div class="card">未落实救助<b id="unserved-count">{len(result.unserved)}</b>户 (纳入低保超过 {result.unserved_after_days} 天)</div>
</div>
<h2>各救助项目覆盖率（应保尽保）</h2>
{_coverage_chart(bureaus)}
<h2>各区县、各部门覆盖率</h2>
<p class="legend"><span style="background:#2e7d32;color:#fff">≥95%</span><span style="background:#9ccc65">≥80%</span>
<span style="background:#ffca28">≥50%</span><span style="background:#e53935;color:#fff">&lt;50%</span></p>
<table id="coverage-by-division">
<thead><tr><th>区县</th><th>户数</th><th>人数</th>{head_cells}<th>低保金</th></tr></thead>
<tbody>{"".join(division_rows)}</tbody>
</table>
<h2>救助及时性：从纳入低保到落实救助</h2>
{_timeliness_chart(bureaus)}
<h2>未落实救助的家庭</h2>
<table id="unserved">
<thead><tr><th>家庭编号</th><th>区县</th><th>纳入低保</th><th>已等待(天)</th><th>尚未落实</th></tr></thead>
<tbody>{"".join(unserved_rows) or '<tr><td colspan="5">无</td></tr>'}</tbody>
</table>
{more}
<h2>社会互助（捐赠与一帮一结对子）</h2>
<table id="mutual-aid"><thead><tr><th>区县</th><th>捐赠笔数</th><th>捐赠金额</th><th>结对帮扶(户)</th></tr></thead>
<tbody>{aid_rows}</tbody></table>
</body>
</html>"""


def _division(result: AssessmentOut, code: str) -> str:
    return next((d.division_name for d in result.divisions if d.division_code == code), code)
