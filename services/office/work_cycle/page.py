"""The work cycle's pages (no script, no external asset: they print for the minutes and open offline).

A joint meeting (Accept: text/html): its decisions, each a task with its unit, due day and status, beside the
scores of the period it reviews. The meeting's pack (联席会议材料): the period's assessment — the assessment page's
own sections — then every unit's and district's score and the findings still open, the overdue flagged."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from services.office import assessment_page
from services.office.schemas import MeetingPackOut
from services.office.work_cycle.schemas import CriterionOut, MeetingDetailOut, OpenFinding, ScoreOut

KIND_NAMES = {"half_year": "半年联席会议", "year_end": "年终联席会议", "ad_hoc": "临时联席会议"}
STATUS_NAMES = {"open": "未完成", "done": "已完成"}
CRITERION_NAMES = {
    "coverage": "覆盖率",
    "timeliness": "及时性",
    "unserved": "未落实户",
    "findings": "问题按期整改",
    "payments": "及时足额发放",
}
STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}th{background:#f0f0f0}"
    ".overdue{color:#b71c1c;font-weight:bold}"
)


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _criterion(criterion: CriterionOut | None) -> str:
    """The ratio, and what it was computed from (19/20)."""

    if criterion is None or criterion.ratio is None:
        return "—"
    counts = f" ({criterion.numerator}/{criterion.denominator})" if criterion.denominator is not None else ""
    return f"{criterion.ratio * 100:.1f}%{counts}"


def scores_table(table_id: str, kind: str, rows: Sequence[tuple[str, str, ScoreOut]]) -> str:
    """Scores, one row a unit or a division (``kind``; each row its code, its name, its score): the score, then each
    criterion with what it was computed from."""

    first = {"unit": "成员单位", "division": "区县"}[kind]

    header = "".join(f"<th>{name}</th>" for name in CRITERION_NAMES.values())
    body = "".join(
        f'<tr class="score" data-{kind}="{code}"><th>{escape(name)}</th><td class="points">{_points(score.score)}</td>'
        + "".join(
            f"<td>{_criterion(next((c for c in score.criteria if c.criterion == key), None))}</td>"
            for key in CRITERION_NAMES
        )
        + f"<td>{'是' if score.commendable else ''}</td></tr>"
        for code, name, score in rows
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>{first}</th><th>得分</th>{header}<th>可予表彰</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def render(meeting: MeetingDetailOut) -> str:
    figures = meeting.figures
    decisions = "".join(
        f'<tr class="decision{" overdue" if d.overdue else ""}" data-n="{d.n}"><td>{d.n}</td>'
        f"<td>{escape(d.description)}</td><td>{escape(d.unit_name)}</td><td>{d.due_on.isoformat()}</td>"
        f"<td>{STATUS_NAMES[d.status]}{' (逾期)' if d.overdue else ''}"
        f"{' ' + d.done_on.isoformat() if d.done_on else ''}</td></tr>"
        for d in meeting.decisions
    )
    units = "、".join(escape(u.unit_name) for u in figures.units if u.unit in meeting.units)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{KIND_NAMES[meeting.kind]} {meeting.date.isoformat()}</title><style>{STYLE}</style></head><body>"
        f"<h1>哈尔滨市社会救助成员单位{KIND_NAMES[meeting.kind]}</h1>"
        f"<p>{meeting.date.isoformat()} · 考评期间 {escape(meeting.period)} · 出席单位: {units}</p>"
        + (f"<p>{escape(meeting.summary)}</p>" if meeting.summary else "")
        + '<h2>会议决定</h2><table id="decisions"><tr><th>#</th><th>决定</th><th>责任单位</th><th>完成期限</th>'
        f"<th>状态</th></tr>{decisions}</table>"
        f"<h2>{escape(figures.period)} 考评情况 (截至 {figures.as_of.isoformat()})</h2>"
        f"<p>低保户 {figures.households} 户 {figures.persons} 人 · 低保金 ¥{figures.dibao_paid} · "
        f"未落实救助户 {figures.unserved_households} · 督导检查问题未整改 {figures.findings_open} "
        f'(<span class="overdue">逾期 {figures.findings_overdue}</span>)</p>'
        + scores_table("scores", "unit", [(u.unit, u.unit_name, u) for u in figures.units])
        + "</body></html>"
    )


def _finding_row(f: OpenFinding) -> str:
    late = f"逾期 {f.days_overdue} 天" if f.overdue else "未到期"
    return (
        f'<tr class="finding{" overdue" if f.overdue else ""}" data-inspection="{f.inspection_id}" data-n="{f.n}">'
        f"<td>{escape(f.division_name)}</td><td>{f.inspected_on.isoformat()}</td><td>{escape(f.unit_name)}</td>"
        f'<td class="text">{escape(f.description)}</td><td>{f.due_on.isoformat()}</td><td>{late}</td></tr>'
    )


def render_pack(pack: MeetingPackOut) -> str:
    result, scored = pack.assessment, pack.scores
    overdue = sum(f.overdue for f in pack.open_findings)
    findings = "".join(_finding_row(f) for f in pack.open_findings) or '<tr><td colspan="6">无</td></tr>'
    body = f"""<h1>哈尔滨市城市社会救助工作联席会议材料</h1>
{assessment_page.subtitle(result)}
<p class="sub">材料生成于 {pack.prepared_on.isoformat()}；评分截至 {scored.as_of.isoformat()}，表彰线 {escape(scored.commendation_min_score)} 分。</p>
<h2>一、本期考核</h2>
{assessment_page.sections(result)}
<h2>二、成员单位考评得分</h2>
{scores_table("unit-scores", "unit", [(u.unit, u.unit_name, u) for u in scored.units])}
<h2>三、各区县考评得分</h2>
{scores_table("division-scores", "division", [(d.division_code, d.division_name, d) for d in scored.divisions])}
<h2>四、督导检查发现、尚未整改的问题</h2>
<p>共 <b id="open-findings-count">{len(pack.open_findings)}</b> 项，其中<span class="overdue">逾期 <b id="open-findings-overdue">{overdue}</b> 项</span>。</p>
<table id="open-findings">
<thead><tr><th>区县</th><th>检查日期</th><th>责任单位</th><th>问题</th><th>整改期限</th><th>状态</th></tr></thead>
<tbody>{findings}</tbody>
</table>"""
    return assessment_page.document(f"联席会议材料 · {result.period_name}", body)
