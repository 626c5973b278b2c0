"""Harbin's county-level divisions (GB/T 2260), the first six digits of a resident ID issued there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DivisionKind = Literal["district", "county_city", "county"]


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    kind: DivisionKind

    @property
    def is_urban_district(self) -> bool:
        return self.kind == "district"


DIVISIONS: dict[str, Division] = {
    d.code: d
    for d in (
        Division("230102", "道里区", "district"),
        Division("230103", "南岗区", "district"),
        Division("230104", "道外区", "district"),
        Division("230108", "平房区", "district"),
        Division("230109", "松北区", "district"),
        Division("230110", "香坊区", "district"),
        Division("230111", "呼兰区", "district"),
        Division("230112", "阿城区", "district"),
        Division("230113", "双城区", "district"),
        Division("230183", "尚志市", "county_city"),
        Division("230184", "五常市", "county_city"),
        Division("230123", "依兰县", "county"),
        Division("230124", "方正县", "county"),
        Division("230125", "宾县", "county"),
        Division("230126", "巴彦县", "county"),
        Division("230127", "木兰县", "county"),
        Division("230128", "通河县", "county"),
        Division("230129", "延寿县", "county"),
    )
}


def is_harbin_division(code: str) -> bool:
    return code in DIVISIONS


def division_name(code: str) -> str:
    division = DIVISIONS.get(code)
    return division.name if division else code
