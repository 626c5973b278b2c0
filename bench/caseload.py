"""A synthetic Harbin dibao caseload, reproducible from a seed.

Households spread over Harbin's 18 divisions (more in the big urban districts), 1–6 members with
realistic ages and relations, pupils (some boarding), disabled members, the unemployed and for how
long, heating types, floor areas (some in housing difficulty) and incomes below the standard. Every
resident ID is valid (GB 11643) and unique within the caseload.

    python -m bench.caseload 100000 --seed 2004 --json caseload.json --csv caseload.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ops.cli import CSV_COLUMNS
from shared.divisions import DIVISIONS
from shared.periods import city_today
from shared.resident_id import make_resident_id

# Relative caseload by division: the big urban districts carry most of it.
DIVISION_WEIGHTS = {
    "230102": 10,
    "230103": 11,
    "230104": 12,
    "230108": 3,
    "230109": 3,
    "230110": 9,
    "230111": 6,
    "230112": 5,
    "230113": 6,
    "230183": 4,
    "230184": 4,
    "230123": 3,
    "230124": 2,
    "230125": 4,
    "230126": 4,
    "230127": 2,
    "230128": 2,
    "230129": 2,
}
SIZE_WEIGHTS = {1: 26, 2: 30, 3: 28, 4: 11, 5: 4, 6: 1}
STREETS = ["中央大街", "红军街", "学府路", "和平路", "三大动力路", "友谊路", "通江街", "松花江街", "长江路", "哈平路"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉梅志强春梅海燕"
# The columns harbin-ops enrol reads (one row per member): the CSV this writes is the CLI's.


class Caseload:
    def __init__(self, seed: int, today: date) -> None:
        self.random = random.Random(seed)
        self.today = today
        self.used: set[str] = set()

    def _pick(self, weights: dict[Any, int]) -> Any:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def _resident_id(self, region: str, born: date, male: bool) -> str:
        sequence = self.random.randrange(0, 500) * 2 + (1 if male else 0)
        for _ in range(1000):
            number = make_resident_id(region, born, sequence % 1000)
            if number not in self.used:
                self.used.add(number)
                return number
            sequence += 2
        raise RuntimeError("ran out of sequence numbers for one birth date")

    def _birth(self, age: int) -> date:
        return self.today - timedelta(days=age * 365 + self.random.randrange(0, 365))

    def _name(self) -> str:
        return self.random.choice(SURNAMES) + "".join(self.random.choices(GIVEN, k=self.random.choice((1, 2))))

    def _adult(self, relation: str, male: bool, region: str, age: int | None = None) -> dict[str, Any]:
        age = age if age is not None else self.random.randint(22, 78)
        born = self._birth(age)
        working = age < (60 if male else 55)
        able = working and self.random.random() < 0.62
        disabled = self.random.random() < 0.11
        member: dict[str, Any] = {
            "resident_id": self._resident_id(region, born, male),
            "name": self._name(),
            "relation": relation,
            "able_to_work": able and not disabled,
            "disabled": disabled,
        }
        if not working:
            member["employment_status"] = "retired"
        elif able and not disabled and self.random.random() < 0.7:
            member["employment_status"] = "unemployed"
            member["unemployed_since"] = (self.today - timedelta(days=self.random.randint(30, 2200))).isoformat()
        else:
            member["employment_status"] = self.random.choice(["employed", "none"])
        return member

    def _child(self, relation: str, region: str) -> dict[str, Any]:
        age = self.random.randint(1, 22)
        male = self.random.random() < 0.5
        born = self._birth(age)
        stage = (
            "preschool"
            if age < 7
            else "primary"
            if age < 13
            else "junior"
            if age < 16
            else "senior"
            if age < 19
            else self.random.choice(["college", "vocational", "none"])
        )
        member: dict[str, Any] = {
            "resident_id": self._resident_id(region, born, male),
            "name": self._name(),
            "relation": relation,
            "employment_status": "student" if stage != "none" else "none",
            "school_stage": stage,
            "disabled": self.random.random() < 0.03,
        }
        if stage in ("primary", "junior", "senior", "vocational", "college") and self.random.random() < 0.15:
            member["boarding"] = True
        return member

    def household(self, index: int) -> dict[str, Any]:
        division = self._pick(DIVISION_WEIGHTS)
        urban = DIVISIONS[division].is_urban_district
        size = self._pick(SIZE_WEIGHTS)
        if size == 1 and self.random.random() < 0.02:
            members = [self._child("head", division)]  # a young person on their own
            members[0]["relation"] = "head"
        else:
            head_male = self.random.random() < 0.55
            members = [self._adult("head", head_male, division)]
            if size >= 2 and self.random.random() < 0.7:
                members.append(
                    self._adult(
                        "spouse", not head_male, division, age=max(22, min(80, self.random.randint(-5, 5) + 45))
                    )
                )
            while len(members) < size:
                if self.random.random() < 0.8:
                    members.append(self._child("child", division))
                else:
                    members.append(
                        self._adult("parent", self.random.random() < 0.4, division, age=self.random.randint(62, 90))
                    )
        standard = 200 if urban else 150
        income = max(0, int(self.random.uniform(0, standard * len(members) * 0.9)))
        per_person = self.random.choice([4, 6, 7.5, 9, 11, 14, 18, 25])
        return {
            "division_code": division,
            "address": f"{DIVISIONS[division].name}{self.random.choice(STREETS)}{index % 500 + 1}号",
            "heating": "central" if self.random.random() < (0.7 if urban else 0.35) else "non_central",
            "housing_area_m2": f"{per_person * len(members):.2f}",
            "monthly_income": f"{income}.00",
            "enrolled_on": (self.today - timedelta(days=self.random.randint(0, 900))).isoformat(),
            "members": members,
        }


def generate(count: int, seed: int = 2004, today: date | None = None) -> list[dict[str, Any]]:
    caseload = Caseload(seed, today or city_today())
    return [caseload.household(i) for i in range(count)]


def write_csv(households: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index, household in enumerate(households):
            for member in household["members"]:
                writer.writerow(
                    [
                        f"H{index:07d}",
                        *(household[c] for c in CSV_COLUMNS[1:7]),
                        *(_csv_value(member.get(c)) for c in CSV_COLUMNS[7:]),
                    ]
                )


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate a synthetic dibao caseload")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=2004)
    parser.add_argument("--json", type=Path, help="write the bulk-enrolment JSON here")
    parser.add_argument("--csv", type=Path, help="write the CLI's CSV here")
    args = parser.parse_args()
    households = generate(args.count, args.seed)
    if args.json:
        args.json.write_text(json.dumps({"households": households}, ensure_ascii=False))
    if args.csv:
        write_csv(households, args.csv)
    members = sum(len(h["members"]) for h in households)
    print(f"{len(households)} households, {members} members")


if __name__ == "__main__":
    main()
