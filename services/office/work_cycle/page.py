"""A joint meeting as a page (Accept: text/html): its decisions, each a task with its unit, due day and
status, beside the scores of the period it reviews. No script, no external asset: it prints for the minutes."""

from __future__ import annotations

from html import escape

from services.office.work_cycle.schemas import MeetingDetailOut

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


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def render(meeting: MeetingDetailOut) -> str:
    figures = meeting.figures
    decisions = "".join(
        f'<tr class="decision{" overdue" if d.overdue else ""}" data-n="{d.n}"><td>{d.n}</td>'
        f"<td>{escape(d.description)}</td><td>{escape(d.unit_name)}</td><td>{d.due_on.isoformat()}</td>"
        f"<td>{STATUS_NAMES[d.status]}{' (逾期)' if d.overdue else ''}"
        f"{' ' + d.done_on.isoformat() if d.done_on else ''}</td></tr>"
        for d in meeting.decisions
    )
    header = "".join(f"<th>{escape(name)}</th>" for name in CRITERION_NAMES.values())
    scores = "".join(
        f'<tr class="score" data-unit="{u.unit}"><td>{escape(u.unit_name)}</td><td>{_points(u.score)}</td>'
        + "".join(f"<td>{_ratio(c.ratio)}</td>" for c in u.criteria)
        + "</tr>"
        for u in figures.units
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
        f'<table id="scores"><tr><th>成员单位</th><th>得分</th>{header}</tr>{scores}</table>'
        "</body></html>"
    )
