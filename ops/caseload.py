"""A district's caseload file as the registry's bulk enrolment wants it, and the registry's answers as the
district can act on them: each rejected row with its line, its column and a reason in Chinese and English.

The file is CSV (UTF-8, UTF-8 with a BOM, or GBK/GB18030 as Excel writes it on Chinese Windows) or an Excel
workbook (.xlsx, its first sheet). Columns go by their English names or their Chinese labels; one row per
member; the rows of a household share ``household_ref`` wherever they stand in the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.logging import mask_text

MEMBER_FIELDS = [
    "resident_id",
    "name",
    "relation",
    "able_to_work",
    "employment_status",
    "unemployed_since",
    "disabled",
    "school_stage",
    "boarding",
]
HOUSEHOLD_FIELDS = ["division_code", "address", "heating", "housing_area_m2", "monthly_income", "enrolled_on"]
CSV_COLUMNS = ["household_ref", *HOUSEHOLD_FIELDS, *MEMBER_FIELDS]
REQUIRED = ["household_ref", "division_code", "resident_id", "name", "relation"]
LABELS = {
    "household_ref": "户编号",
    "division_code": "区县代码",
    "address": "住址",
    "heating": "供暖方式",
    "housing_area_m2": "住房面积",
    "monthly_income": "家庭月收入",
    "enrolled_on": "纳入低保日期",
    "resident_id": "身份证号",
    "name": "姓名",
    "relation": "与户主关系",
    "able_to_work": "有劳动能力",
    "employment_status": "就业状况",
    "unemployed_since": "失业起始日期",
    "disabled": "残疾",
    "school_stage": "就学阶段",
    "boarding": "寄宿",
}
ALIASES = {label: name for name, label in LABELS.items()} | {
    "身份证号码": "resident_id",
    "公民身份号码": "resident_id",
    "住房建筑面积": "housing_area_m2",
    "月收入": "monthly_income",
}

BOOLEAN = {"true": "true", "1": "true", "yes": "true", "y": "true", "是": "true", "有": "true"} | {
    "false": "false",
    "0": "false",
    "no": "false",
    "n": "false",
    "否": "false",
    "无": "false",
    "": "false",
}
# The Chinese a district office writes, for the values the registry knows in English.
VALUES = {
    "relation": {
        "户主": "head",
        "本人": "head",
        "配偶": "spouse",
        "妻": "spouse",
        "夫": "spouse",
        "妻子": "spouse",
        "丈夫": "spouse",
        "子女": "child",
        "子": "child",
        "女": "child",
        "儿子": "child",
        "女儿": "child",
        "父母": "parent",
        "父亲": "parent",
        "母亲": "parent",
        "其他": "other",
    },
    "heating": {"集中供热": "central", "集中": "central", "非集中供热": "non_central", "非集中": "non_central"},
    "employment_status": {
        "就业": "employed",
        "在业": "employed",
        "失业": "unemployed",
        "退休": "retired",
        "学生": "student",
        "在校": "student",
        "无": "none",
    },
    "school_stage": {
        "无": "none",
        "学前": "preschool",
        "幼儿园": "preschool",
        "小学": "primary",
        "初中": "junior",
        "高中": "senior",
        "中职": "vocational",
        "职高": "vocational",
        "中专": "vocational",
        "大学": "college",
        "高校": "college",
    },
}
FLAGS = ("able_to_work", "disabled", "boarding")
DATES = ("enrolled_on", "unemployed_since")
_SLASHED_DATE = re.compile(r"^(\d{4})\s*[/.年-]\s*(\d{1,2})\s*[/.月-]\s*(\d{1,2})\s*日?$")


class CaseloadFileError(Exception):
    """The file cannot be read as a caseload at all (not a single row can be judged)."""


# ---- reasons ----------------------------------------------------------------------------------------

# What each of the registry's codes means, for the district (Chinese) — the English detail comes with it.
REASONS_ZH = {
    "invalid_resident_id": "身份证号码无效（位数、出生日期或校验码不对）",
    "unknown_division": "不是哈尔滨市的区县代码（如道里区 230102）",
    "invalid_amount": "金额应为数字，最多两位小数，如 230.00",
    "negative_amount": "金额不能为负数",
    "invalid_area": "面积应为不小于 0 的数，最多两位小数",
    "date_in_future": "日期晚于今天",
    "date_before_plan": "日期早于 2004 年《工作方案》施行，当时尚无低保标准",
    "date_out_of_range": "日期超出 1900—2100 年",
    "invalid_date": "日期应写作 2026-05-01 或 2026/5/1",
    "invalid_boolean": "应填“是”或“否”",
    "invalid_text": "含有换行、制表符等控制字符",
    "inconsistent_member": "成员信息前后矛盾（失业起始日期只填失业人员；寄宿只填在校学生）",
    "duplicate_member": "同一身份证号在本户出现两次",
    "invalid_household_head": "每户须有且只有一名户主",
    "missing": "必填，不能为空",
    "missing_field": "必填，不能为空",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长",
    "too_long": "每户最多 20 人",
    "literal_error": "不是可填的值",
    "string_pattern_mismatch": "格式不对",
    "extra_forbidden": "多余的列",
    "income_above_standard": "家庭月收入不低于低保标准，不能纳入低保",
    "person_in_active_household": "此人已是另一低保家庭的成员",
    "idempotency_key_reused": "此户曾以不同的信息纳入；请在系统中修改该户，不要重新纳入",
    "household_ref_missing": "户编号为空，无法归户",
    "household_fields_differ": "同一户各行的户信息不一致",
    "person_in_another_row": "此人在本文件另一户中也出现",
    "resident_id_as_number": "身份证号被 Excel 存成了数字，后几位已丢失；请把该列设为“文本”后重新录入",
    "household_rejected": "同户其他行有误，整户未纳入",
}
# For a value the registry refused, which values it takes (said in the reason).
CHOICES = {
    "relation": "户主/配偶/子女/父母/其他 (head, spouse, child, parent, other)",
    "heating": "集中供热/非集中供热 (central, non_central)",
    "employment_status": "就业/失业/退休/学生/无 (employed, unemployed, retired, student, none)",
    "school_stage": "无/学前/小学/初中/高中/中职/大学 (none, preschool, primary, junior, senior, vocational, college)",
}


@dataclass
class Reason:
    """Why a row was not enrolled: where (line and column) and what (code, Chinese, English)."""

    line: int
    column: str | None
    code: str
    zh: str
    en: str

    def column_label(self) -> str:
        return f"{LABELS[self.column]}({self.column})" if self.column in LABELS else ""


# ---- the file -----------------------------------------------------------------------------------------


@dataclass
class Row:
    line: int  # the row's line in the file (CSV) or its row number in the sheet (Excel)
    values: dict[str, str]
    raw: dict[str, str]  # as written, for the file of rejected rows
    problems: list[Reason] = field(default_factory=list)


def decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, the encoding it was read with): as told, else UTF-8 (with or without a BOM), else GB18030 — a
    superset of the GBK that Excel writes on Chinese Windows."""

    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for name in candidates:
        try:
            return raw.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    raise CaseloadFileError("neither UTF-8 nor GBK/GB18030: save it as CSV UTF-8, or give --encoding")


def _cell(value: Any) -> str:
    """An Excel cell as the text the registry reads: dates ISO, yes/no as true/false, 12.0 as 12."""

    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return str(value).strip()


def _sheet(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str], list[Any]]]]:
    from openpyxl import load_workbook  # only for Excel files: the rest of the CLI starts without it

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a variety (zip, XML, key errors) for a file it cannot read
        raise CaseloadFileError(f"not a readable Excel workbook ({type(exc).__name__})") from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header: list[str] = []
    header_row = 0
    for index, cells in enumerate(rows, start=1):
        if any(c is not None and str(c).strip() for c in cells):
            header, header_row = [_cell(c) for c in cells], index
            break
    else:
        book.close()
        return [], iter(())

    def body() -> Iterator[tuple[int, list[str], list[Any]]]:
        for line, cells in enumerate(rows, start=header_row + 1):
            yield line, [_cell(c) for c in cells], list(cells)
        book.close()

    return header, body()


def _table(path: Path, encoding: str | None) -> tuple[list[str], Iterator[tuple[int, list[str], list[Any]]], str]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows = _sheet(path)
        return header, rows, "xlsx"
    text, used = decode(path.read_bytes(), encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])

    def body() -> Iterator[tuple[int, list[str], list[Any]]]:
        # The reader's own line count: a quoted address with a line break spans two lines of the file.
        start = reader.line_num + 1
        for cells in reader:
            yield start, cells, list(cells)
            start = reader.line_num + 1

    return header, body(), used


def _columns(header: list[str]) -> list[str | None]:
    names: list[str | None] = []
    for title in header:
        title = title.strip().lstrip("\ufeff")
        name = title.lower() if title.lower() in LABELS else ALIASES.get(title)
        names.append(name)
    return names


def _normalise(name: str, value: str, original: Any) -> tuple[str, Reason | None]:
    value = value.strip()
    if name == "resident_id" and isinstance(original, (int, float)) and not isinstance(original, bool):
        return value, Reason(
            0, name, "resident_id_as_number", REASONS_ZH["resident_id_as_number"], "resident ID stored as a number"
        )
    if name in FLAGS:
        return BOOLEAN.get(value.lower(), value), None
    if name in DATES and (match := _SLASHED_DATE.match(value)):
        return f"{int(match[1]):04d}-{int(match[2]):02d}-{int(match[3]):02d}", None
    if name in VALUES:
        return VALUES[name].get(value, value), None
    if name == "resident_id":
        return value.upper(), None
    if name == "monthly_income":
        return money_text(value), None
    return value, None


def money_text(value: str) -> str:
    """The API writes money one way ("300.00"); a spreadsheet writes 300 or 300.5: those are padded to the
    fen. Anything else goes as it is, for the registry to refuse with its reason."""

    if re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", value, re.ASCII):
        whole, _, fen = value.partition(".")
        return f"{whole}.{fen:0<2}"
    return value


def read_rows(path: Path, encoding: str | None = None) -> tuple[list[Row], str]:
    """Every row with a value, and how the file was read (``xlsx`` or the text encoding)."""

    header, body, read_as = _table(path, encoding)
    names = _columns(header)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        expected = ", ".join(f"{name} ({LABELS[name]})" for name in CSV_COLUMNS)
        raise CaseloadFileError(
            f"missing columns {', '.join(f'{m} ({LABELS[m]})' for m in missing)}; the columns are {expected}"
        )
    rows = []
    for line, cells, originals in body:
        if not any(cell.strip() for cell in cells):
            continue
        row = Row(line, {}, {})
        for index, name in enumerate(names):
            if name is None or index >= len(cells):
                continue
            row.raw[name] = cells[index]
            value, problem = _normalise(name, cells[index], originals[index])
            row.values[name] = value
            if problem is not None:
                problem.line = line
                row.problems.append(problem)
        rows.append(row)
    return rows, read_as


# ---- households -----------------------------------------------------------------------------------


@dataclass
class FileHousehold:
    ref: str
    rows: list[Row]
    problems: list[Reason] = field(default_factory=list)  # found here, before anything is sent

    @property
    def lines(self) -> list[int]:
        return [row.line for row in self.rows]

    def body(self) -> dict[str, Any]:
        """The household as the registry takes it: household fields from the first row that has each."""

        body: dict[str, Any] = {}
        for name in HOUSEHOLD_FIELDS:
            value = next((row.values[name] for row in self.rows if row.values.get(name)), "")
            if value:
                body[name] = value
        body["members"] = [_member(row.values) for row in self.rows]
        return body

    def idempotency_key(self) -> str:
        """The same household (the same data) always gets the same key, from any file: sent again, the registry
        answers with the household it enrolled the first time."""

        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _member(values: dict[str, str]) -> dict[str, Any]:
    member: dict[str, Any] = {}
    for name in MEMBER_FIELDS:
        value = values.get(name, "")
        if name in FLAGS:
            member[name] = {"true": True, "false": False}.get(value, value)
        elif value:
            member[name] = value
    return member


def households(rows: list[Row]) -> list[FileHousehold]:
    """Rows grouped by ``household_ref`` over the whole file, in the order of their first rows; what can be seen
    wrong without the registry is found here (a row without a ref, household fields that disagree, a person
    in two households of the file)."""

    grouped: dict[str, FileHousehold] = {}
    loose: list[FileHousehold] = []
    for row in rows:
        ref = row.values.get("household_ref", "")
        if not ref:
            reason = Reason(
                row.line,
                "household_ref",
                "household_ref_missing",
                REASONS_ZH["household_ref_missing"],
                "household_ref is empty",
            )
            loose.append(FileHousehold("", [row], [reason]))
            continue
        grouped.setdefault(ref, FileHousehold(ref, [])).rows.append(row)
    seen: dict[str, tuple[FileHousehold, int]] = {}
    for household in grouped.values():
        for row in household.rows:
            household.problems.extend(row.problems)
        for name in HOUSEHOLD_FIELDS:
            given = [(row.line, row.values[name]) for row in household.rows if row.values.get(name)]
            other = next(((line, value) for line, value in given if value != given[0][1]), None)
            if other is not None:
                household.problems.append(
                    Reason(
                        other[0],
                        name,
                        "household_fields_differ",
                        f"同一户的{LABELS[name]}与第{given[0][0]}行不同",
                        f"{name} differs from line {given[0][0]} of the same household",
                    )
                )
        for row in household.rows:
            number = row.values.get("resident_id", "")
            if not number:
                continue
            if number in seen and seen[number][0] is not household:
                first, line = seen[number]
                household.problems.append(
                    Reason(
                        row.line,
                        "resident_id",
                        "person_in_another_row",
                        f"此人也在本文件第{line}行的户（户编号 {first.ref}）中；一人只能在一户",
                        f"the same person is in household {first.ref} on line {line} of this file",
                    )
                )
            seen.setdefault(number, (household, row.line))
    return [*grouped.values(), *loose]


def registry_reasons(
    household: FileHousehold, error: dict[str, Any], enrolled: dict[str, tuple[str, int]]
) -> list[Reason]:
    """The registry's refusal of ``household`` as reasons on the file's lines and columns. ``enrolled``: the
    households this run knows by registry id (its ref and first line), to name the other one of a clash."""

    code, detail = str(error.get("code")), mask_text(str(error.get("detail") or ""))
    first = household.rows[0].line
    reasons: list[Reason] = []
    for item in error.get("errors") or ():
        loc = [str(part) for part in item.get("loc", ())]
        item_code = str(item.get("code") or item.get("type") or code)
        line, column = first, None
        if len(loc) >= 2 and loc[0] == "members" and loc[1].isdigit() and int(loc[1]) < len(household.rows):
            line = household.rows[int(loc[1])].line
            column = loc[2] if len(loc) > 2 else None
        elif loc and loc[0] in HOUSEHOLD_FIELDS:
            column = loc[0]
            line = next((row.line for row in household.rows if row.values.get(column)), first)
        zh = REASONS_ZH.get(item_code, REASONS_ZH.get(code, "内容有误"))
        if item_code == "literal_error" and column in CHOICES:
            zh = f"应填 {CHOICES[column]}"
        where = f"{LABELS[column]}：" if column in LABELS else ""
        en = f"{column}: {item.get('msg')}" if column else str(item.get("msg") or detail)
        reasons.append(Reason(line, column, item_code, where + zh, en))
    for clash in error.get("clashes") or ():
        position = int(clash.get("member", 0))
        line = household.rows[position].line if position < len(household.rows) else first
        other = clash.get("household_id")
        if other in enrolled:
            ref, other_line = enrolled[other]
            zh = f"此人已是本文件第{other_line}行的户（户编号 {ref}，家庭编号 {other}）的成员"
            en = f"already a member of household {ref} (line {other_line} of this file, id {other})"
        elif other:
            zh = f"此人已是另一低保家庭的成员（家庭编号 {other}）"
            en = f"already a member of dibao household {other}"
        else:
            zh, en = REASONS_ZH["person_in_active_household"], detail
        reasons.append(Reason(line, "resident_id", code, zh, en))
    if not reasons:
        reasons.append(Reason(first, None, code, REASONS_ZH.get(code, "未能纳入"), detail))
    return reasons


def rejected_rows(household: FileHousehold, reasons: list[Reason]) -> Iterator[list[str]]:
    """Every row of a rejected household (a household goes in whole or not at all), each with its own reasons
    or, for the rows that had none, a pointer to the lines that did."""

    by_line: dict[int, list[Reason]] = {}
    for reason in reasons:
        by_line.setdefault(reason.line, []).append(reason)
    faulty = ", ".join(str(line) for line in sorted(by_line))
    for row in household.rows:
        own = by_line.get(row.line)
        if own:
            codes = ";".join(r.code for r in own)
            columns = ";".join(r.column_label() for r in own if r.column)
            zh = "；".join(r.zh for r in own)
            en = "; ".join(r.en for r in own)
        else:
            codes, columns = "household_rejected", ""
            zh = f"{REASONS_ZH['household_rejected']}（见第{faulty}行）"
            en = f"another row of the household was refused (line {faulty})"
        yield [str(row.line), *(row.raw.get(c, "") for c in CSV_COLUMNS), codes, columns, zh, en]


REJECTED_HEADER = ["line", *CSV_COLUMNS, "error_code", "column", "原因", "reason"]
