"""Written notices (书面通知): every decision about a household reaches it in writing, in Chinese, with the reasons
and how to contest it — approval, refusal, a change of amount, an exit, an appeal's outcome.

The words are fixed when the notice is issued (stored with it); the PDF is rendered from them when read. Each
notice is announced (``NoticeIssued``) so that a postal or SMS service can deliver it.

The PDF embeds a TrueType CJK font (WenQuanYi Zen Hei, Debian's ``fonts-wqy-zenhei``, which the Dockerfile and
the set-up scripts install), so it prints the same anywhere; where that font is absent it names Adobe's
standard STSong-Light instead, which every PDF reader supplies (not embedded). Either way the text is Unicode
and can be extracted (searched, read aloud).
"""

from __future__ import annotations

import functools
import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import rules, service
from services.registry.models import Application, Household, Member, Notice
from services.registry.parameters import APPEAL_FILING_DAYS
from services.registry.schemas import ExitIn, HouseholdPatch, NoticeOut
from shared.divisions import division_name
from shared.errors import NotFound
from shared.events import NoticeIssued, NoticeKind
from shared.money import to_fen
from shared.parameters import ParameterBook
from shared.periods import city_today
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("services.registry.notices")

ISSUER = "哈尔滨市民政局"
FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
FALLBACK_FONT = "STSong-Light"


# ---- the words (pure) -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeText:
    title: str
    paragraphs: list[str]
    appeal: str  # how to contest the decision
    issuer: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def yuan(amount: Decimal) -> str:
    return f"{to_fen(amount)}元"


def issuer_of(division_code: str) -> str:
    return f"{ISSUER}（{division_name(division_code)}）"


def _may_appeal(division_code: str, filing_days: int) -> str:
    return (
        f"如对本决定不服，可以自收到本通知书之日起{filing_days}日内向{issuer_of(division_code)}提出书面申诉，"
        "也可以依法申请行政复议或者提起行政诉讼。"
    )


@dataclass(frozen=True, slots=True)
class Approval:
    applied_on: date
    visited_on: date | None
    notice_from: date | None
    notice_last_day: date | None
    objections_dismissed: bool
    members: int
    monthly_income: Decimal
    # The allowance from the day of application, and each later change already known (e.g. a new standard).
    allowance: list[tuple[date, Decimal]]
    reason: str
    on_appeal: bool = False


def approval_text(division_code: str, facts: Approval, filing_days: int) -> NoticeText:
    if facts.on_appeal:
        how = "经审核决定不予批准后，你户提出申诉，经复核，决定予以批准。"
    else:
        assert facts.visited_on and facts.notice_from and facts.notice_last_day
        heard = "公示期间收到的异议经核查不成立" if facts.objections_dismissed else "公示期间无异议"
        how = (
            f"经{day_text(facts.visited_on)}入户调查核实，并于{day_text(facts.notice_from)}至"
            f"{day_text(facts.notice_last_day)}张榜公示，{heard}，决定予以批准。"
        )
    return NoticeText(
        title="准予享受城市居民最低生活保障决定通知书",
        paragraphs=[
            f"你户于{day_text(facts.applied_on)}提出的城市居民最低生活保障申请，{how}",
            f"你户自{day_text(facts.applied_on)}起享受城市居民最低生活保障，保障人口{facts.members}人，"
            f"核定家庭月收入{yuan(facts.monthly_income)}，每月低保金{_amounts(facts.allowance)}。"
            "自申请之日起应发的低保金，在下一次发放时一并补发。",
            f"审批意见：{facts.reason}",
        ],
        appeal=_may_appeal(division_code, filing_days),
        issuer=issuer_of(division_code),
    )


def _amounts(steps: Sequence[tuple[date, Decimal]]) -> str:
    first, *later = steps
    return yuan(first[1]) + "".join(f"，自{day_text(day)}起{yuan(amount)}" for day, amount in later)


def refusal_text(division_code: str, applied_on: date, reason: str, filing_days: int) -> NoticeText:
    return NoticeText(
        title="不予批准城市居民最低生活保障决定通知书",
        paragraphs=[
            f"你户于{day_text(applied_on)}提出的城市居民最低生活保障申请，经审核，决定不予批准。",
            f"理由：{reason}",
        ],
        appeal=_may_appeal(division_code, filing_days),
        issuer=issuer_of(division_code),
    )


def amount_text(
    division_code: str, cause: str, day: date, old: Decimal, new: Decimal, issued_on: date, filing_days: int
) -> NoticeText:
    paragraphs = [f"{cause}，自{day_text(day)}起，你户每月低保金由{yuan(old)}调整为{yuan(new)}。"]
    if day < issued_on:
        paragraphs.append("调整前已发放的低保金与应发数额的差额，在以后的发放中补发或者扣回。")
    return NoticeText(
        title="城市居民最低生活保障金调整通知书",
        paragraphs=paragraphs,
        appeal=_may_appeal(division_code, filing_days),
        issuer=issuer_of(division_code),
    )


def exit_text(division_code: str, exit_on: date, reason: str, filing_days: int) -> NoticeText:
    return NoticeText(
        title="停止城市居民最低生活保障决定通知书",
        paragraphs=[f"自{day_text(exit_on)}起，你户不再享受城市居民最低生活保障。", f"理由：{reason}"],
        appeal=_may_appeal(division_code, filing_days),
        issuer=issuer_of(division_code),
    )


APPEAL_SUBJECTS = {
    "refusal": "不予批准最低生活保障的决定",
    "amount": "低保金数额",
    "exit": "停止最低生活保障的决定",
}


def appeal_outcome_text(
    division_code: str, subject: str, lodged_on: date, upheld: bool, reason: str, remedy: str | None
) -> NoticeText:
    verdict = "申诉理由成立，决定予以纠正" if upheld else "申诉理由不成立，决定维持原决定"
    paragraphs = [
        f"你户于{day_text(lodged_on)}对{APPEAL_SUBJECTS[subject]}提出的申诉，经复核，{verdict}。",
        f"理由：{reason}",
    ]
    if remedy:
        paragraphs.append(remedy)
    return NoticeText(
        title="最低生活保障申诉复核决定通知书",
        paragraphs=paragraphs,
        appeal="如对本复核决定不服，可以依法申请行政复议或者提起行政诉讼。",
        issuer=issuer_of(division_code),
    )


# ---- the PDF --------------------------------------------------------------------------------------------------


@functools.cache
def notice_font(files: tuple[Path, ...] = FONT_FILES) -> str:
    """The font the notices are set in: the first of ``files`` there is, embedded, else the reader's STSong-Light
    (see the module's docstring); registered once per process."""

    for path in files:
        if path.is_file():
            name = f"NoticeCJK-{path.stem}"
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
            return name
    log.warning("no CJK TrueType font found (%s): notices name %s, not embedded", files, FALLBACK_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def render_pdf(
    content: dict[str, Any], addressee: str, issued_on: date, notice_id: str, font: str | None = None
) -> bytes:
    """The notice as an A4 PDF: title, the addressee, the decision and its reasons, how to contest it, the issuer,
    the date and the notice's number."""

    font = font or notice_font()
    text = NoticeText(**content)
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=28, alignment=TA_CENTER, wordWrap="CJK")
    body = ParagraphStyle("body", fontName=font, fontSize=12, leading=22, firstLineIndent=24, wordWrap="CJK")
    plain = ParagraphStyle("plain", parent=body, firstLineIndent=0)
    right = ParagraphStyle("right", parent=plain, alignment=TA_RIGHT)
    small = ParagraphStyle("small", parent=plain, fontSize=9, leading=14)
    story: list[Any] = [Paragraph(escape(text.title), title), Spacer(1, 8 * mm)]
    story.append(Paragraph(escape(f"{addressee}："), plain))
    story += [Paragraph(escape(paragraph), body) for paragraph in text.paragraphs]
    story += [Paragraph(escape(text.appeal), body), Spacer(1, 16 * mm)]
    story += [Paragraph(escape(text.issuer), right), Paragraph(escape(day_text(issued_on)), right)]
    story += [Spacer(1, 12 * mm), Paragraph(escape(f"通知编号：{notice_id}"), small)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=text.title,
        author=text.issuer,
        lang="zh-CN",
    )
    document.build(story)
    return buffer.getvalue()


# ---- issuing and reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Addressee:
    name: str
    resident_id: str
    address: str


def head_of(members: Sequence[Member | dict[str, Any]], address: str) -> Addressee:
    """The head of household (户主), to whom a notice is written."""

    rows = [
        member
        if isinstance(member, dict)
        else {"relation": member.relation, "name": member.name, "resident_id": member.resident_id}
        for member in members
    ]
    head = next((row for row in rows if row["relation"] == "head"), rows[0])
    return Addressee(head["name"], head["resident_id"], address)


async def filing_days(session: AsyncSession, day: date) -> int:
    book = await ParameterBook.load(session, [APPEAL_FILING_DAYS])
    days: int = book.get(APPEAL_FILING_DAYS, day)
    return days


async def issue(
    uow: UnitOfWork,
    *,
    kind: NoticeKind,
    household_id: str,
    division_code: str,
    to: Addressee,
    text: NoticeText,
    issued_on: date,
    application_id: str | None = None,
    appeal_id: str | None = None,
) -> Notice:
    """Record the notice (its words fixed now) and announce it."""

    notice = Notice(
        id=str(uuid.uuid4()),
        kind=kind,
        household_id=household_id,
        application_id=application_id,
        appeal_id=appeal_id,
        division_code=division_code,
        issued_on=issued_on,
        addressee=to.name,
        address=to.address,
        content=text.as_json(),
        created_at=datetime.now(UTC),  # the order notices of one transaction were issued in
    )
    uow.session.add(notice)
    await uow.session.flush()
    await service.outbox.stage(
        uow,
        NoticeIssued(
            household_id=household_id,
            notice_id=notice.id,
            kind=kind,
            division_code=division_code,
            issued_on=issued_on,
            addressee=to.name,
            resident_id=to.resident_id,
            address=to.address,
            title=text.title,
        ),
    )
    return notice


def to_out(notice: Notice) -> NoticeOut:
    return NoticeOut(
        id=notice.id,
        kind=notice.kind,
        household_id=notice.household_id,
        application_id=notice.application_id,
        appeal_id=notice.appeal_id,
        issued_on=notice.issued_on,
        addressee=notice.addressee,
        title=str(notice.content.get("title", "")),
        url=f"/notices/{notice.id}",
    )


async def notices_of(session: AsyncSession, household_id: str) -> list[Notice]:
    """A household's notices, oldest first; the id may be a refused application's (the household it would have been)."""

    if await session.get(Household, household_id) is None and await session.get(Application, household_id) is None:
        raise NotFound("household_not_found", f"no household or application with id {household_id}")
    return list(
        (
            await session.scalars(
                select(Notice).where(Notice.household_id == household_id).order_by(Notice.created_at, Notice.id)
            )
        ).all()
    )


async def get_notice(session: AsyncSession, notice_id: str) -> Notice:
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("notice_not_found", f"no notice with id {notice_id}")
    return notice


# ---- the register's own changes, in writing ------------------------------------------------------------------


async def change_with_notice(
    uow: UnitOfWork,
    household_id: str,
    patch: HouseholdPatch,
    cause: str = "因你户家庭情况发生变化",
    today: date | None = None,
) -> tuple[Household, list[Notice]]:
    """A change through the register's one change path (service.change), and the notices it calls for: a change
    of the amount paid, and an exit when the change lifted income to the standard."""

    today = today or city_today()
    locked = await service.lock_household(uow.session, household_id)
    before = (service.schedule_of(locked), locked.exited_on) if locked is not None else ([], None)
    household = await service.change(uow, household_id, patch, today)
    issued = []
    to = head_of(household.members, household.address)
    days = await filing_days(uow.session, today)
    moved = rules.first_change(before[0], service.schedule_of(household))
    if moved is not None:
        day, old, new = moved
        text = amount_text(household.division_code, cause, day, old, new, today, days)
        issued.append(
            await issue(
                uow,
                kind="amount_changed",
                household_id=household.id,
                division_code=household.division_code,
                to=to,
                text=text,
                issued_on=today,
            )
        )
    if household.exited_on is not None and household.exited_on != before[1]:
        text = exit_text(household.division_code, household.exited_on, household.exit_reason or "", days)
        issued.append(
            await issue(
                uow,
                kind="exit",
                household_id=household.id,
                division_code=household.division_code,
                to=to,
                text=text,
                issued_on=today,
            )
        )
    return household, issued


async def exit_with_notice(
    uow: UnitOfWork, household_id: str, body: ExitIn, today: date | None = None
) -> tuple[Household, Notice]:
    """An exit through the register's exit path (service.exit_household), in writing."""

    today = today or city_today()
    household = await service.exit_household(uow, household_id, body, today)
    text = exit_text(household.division_code, body.on, body.reason, await filing_days(uow.session, today))
    notice = await issue(
        uow,
        kind="exit",
        household_id=household.id,
        division_code=household.division_code,
        to=head_of(household.members, household.address),
        text=text,
        issued_on=today,
    )
    return household, notice
