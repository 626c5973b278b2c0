"""Resident identity numbers (居民身份证号码), GB 11643-1999.

18 characters: a 6-digit region code, an 8-digit birth date, a 3-digit sequence (odd = male) and
an ISO 7064 MOD 11-2 check character (0–9 or X). Legacy 15-digit numbers (6 + YYMMDD + 3, all
born in the 1900s) are converted to 18 by inserting the century and computing the check.

Input is normalised first (Unicode NFKC, surrounding spaces dropped, ``x`` upper-cased) and must then
be ASCII digits: full-width ``２３０１…`` becomes ``2301…`` and is the same person as the ASCII form;
any other digit (Arabic-Indic, Devanagari…) is refused. A regex digit class would match those, so
the patterns say ``[0-9]``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from shared.periods import city_today

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EIGHTEEN = re.compile(r"[1-9][0-9]{16}[0-9X]", re.ASCII)
_FIFTEEN = re.compile(r"[1-9][0-9]{14}", re.ASCII)

Sex = Literal["male", "female"]


class InvalidResidentId(ValueError):
    """Why a resident ID was refused; ``reason`` is one of format, checksum, birth_date."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str
    region_code: str
    birth_date: date
    sex: Sex

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade_fifteen(number: str) -> str:
    """Convert a legacy 15-digit number to its 18-digit form."""

    first17 = number[:6] + "19" + number[6:]
    return first17 + check_character(first17)


def normalise(raw: str) -> str:
    """The form a resident ID is compared and stored in: NFKC, no surrounding spaces, upper-case X."""

    return unicodedata.normalize("NFKC", raw or "").strip().upper()


def parse_resident_id(raw: str, today: date | None = None) -> ResidentId:
    return _parse(raw, today or city_today())


# A bulk enrolment validates each member's number in several places (the body, the head's age, the row);
# the answer is a frozen value of the text and the day, so it is worked out once (a few MB at most).
@lru_cache(maxsize=8192)
def _parse(raw: str, today: date) -> ResidentId:
    number = normalise(raw)
    if _FIFTEEN.fullmatch(number):
        number = upgrade_fifteen(number)
    elif not _EIGHTEEN.fullmatch(number):
        raise InvalidResidentId(
            "format", "a resident ID has 18 characters: 17 digits then a digit or X (or a legacy 15 digits)"
        )
    if check_character(number[:17]) != number[17]:
        raise InvalidResidentId(
            "checksum", "the check character (GB 11643 MOD 11-2) does not match the first 17 digits"
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidResidentId("birth_date", f"{number[6:14]} is not a real calendar date") from None
    if born.year < 1880 or born > today:
        raise InvalidResidentId("birth_date", f"birth date {born.isoformat()} is out of range")
    sex: Sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, region_code=number[:6], birth_date=born, sex=sex)


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def mask_resident_id(number: str) -> str:
    """Region code and the last four kept (前六后四), the rest hidden, for logs and messages."""

    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def make_resident_id(region_code: str, born: date, sequence: int) -> str:
    """Build a valid 18-digit number (tests, the synthetic caseload); ``sequence`` odd for men."""

    first17 = f"{region_code}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
