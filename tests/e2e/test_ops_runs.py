"""Runs an operator can trust: a dry run in every paying service writes nothing and answers what the run then
pays, to whom, and who it leaves out and why; `harbin-ops pay` shows it as tables, asks before paying, and
refuses to pay unasked without a terminal."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date
from typing import Any

import pytest

from tests.support import AppClient, all_found, eventually, household_body, member, serving, system, token

pytestmark = pytest.mark.integration

SUMMARY = ("households_paid", "total_amount", "by_division", "left_out", "left_out_count")


def summary(result: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(result.get(key) for key in SUMMARY)


async def dry_then_real(service: AppClient, path: str, body: dict[str, str]) -> dict[str, Any]:
    """The dry run's answer equals the real run's (so it wrote nothing the run then skipped), and a dry run
    after the real one finds nothing left to pay."""

    dry = await service.post(path, json={**body, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["payees"], dry.json()
    again = await service.post(path, json={**body, "dry_run": True})
    assert summary(again.json()) == summary(dry.json())  # the first dry run left nothing behind
    real = await service.post(path, json=body)
    assert real.status_code == 200, real.text
    assert real.json()["dry_run"] is False and real.json()["payees"] is None
    assert summary(real.json()) == summary(dry.json())
    paid = sum(float(p["amount"]) for p in dry.json()["payees"])
    assert paid == sum(float(d["amount"]) for d in real.json()["by_division"]) > 0
    after = (await service.post(path, json={**body, "dry_run": True})).json()
    assert (after["households_paid"] if "households_paid" in after else after["grants_made"]) == 0
    return dict(real.json())


async def harbin_ops(env: dict[str, str], *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops", *arguments,
        env={**os.environ, "NO_COLOR": "1", "HARBIN_TOKEN": token("registry:write", "registry:read"), **env},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_dry_runs_write_nothing_and_say_what_the_runs_pay_and_whom_they_leave_out(kafka, postgres):
    async with system("registry", "utilities", "housing", "education") as s:
        registry = s["registry"]
        child = member("child", born=date(2015, 9, 9), school_stage="primary", boarding=True)
        family = (
            await registry.post(
                "/households",
                json=household_body(
                    heating="non_central",
                    area="12.00",
                    income="60.00",
                    enrolled_on=date(2026, 1, 6),
                    members=[member("head", born=date(1978, 8, 8)), child],
                ),
            )
        ).json()
        owing = await registry.post("/households", json=household_body(income="0.00", enrolled_on=date(2026, 1, 6)))
        owing_id = owing.json()["id"]
        await eventually(
            lambda: all_found(s["utilities"], f"/households/{family['id']}"),
            timeout=60,
        )
        await eventually(lambda: all_found(s["housing"], f"/households/{family['id']}"), timeout=60)
        await eventually(lambda: all_found(s["education"], f"/pupils/{child['resident_id']}"), timeout=60)

        # The second household is paid 200 a month through February, then found to have had 150 of income all
        # along: it owes 2 × 150, and March's 50 goes against that — it is left out, and the run says why.
        assert (await registry.post("/payment-runs", json={"period": "2026-02"})).status_code == 200
        patched = await registry.patch(
            f"/households/{owing_id}", json={"monthly_income": "150.00", "effective_on": "2026-01-06"}
        )
        assert patched.status_code == 200, patched.text
        lines_before = (await registry.get(f"/households/{family['id']}/payments")).json()
        paid = await dry_then_real(registry, "/payment-runs", {"period": "2026-03"})
        assert [(x["household_id"], x["reason"], x["due"], x["withheld"]) for x in paid["left_out"]] == [
            (owing_id, "withheld", "50.00", "50.00")
        ]
        assert paid["by_division"] == [
            {"division_code": "230102", "division_name": "道里区", "households": 1, "amount": "340.00"}
        ]
        assert len((await registry.get(f"/households/{family['id']}/payments")).json()) == len(lines_before) + 1

        await dry_then_real(s["utilities"], "/heating/supplement-runs", {"period": "2026-03"})
        await dry_then_real(s["housing"], "/subsidy-runs", {"period": "2026-03"})
        await dry_then_real(s["education"], "/term-runs", {"term": "2026-spring"})

        async with serving(registry.app) as base:
            env = {"HARBIN_REGISTRY_URL": base}
            code, output = await harbin_ops(env, "pay", "2026-04", "--dry-run")
            assert code == 0, output
            assert "DRY RUN: nothing was paid or written" in output and "left out 未发放: 1 households" in output
            assert owing_id in output and "all that was due went against what the household owes" in output
            assert "道里区" in output and "¥340.00" in output
            assert "not checked whether registry has caught up" in output  # the token has no ops:metrics

            # Asked without a terminal, it does not pay: it says to add --yes.
            code, output = await harbin_ops(env, "pay", "2026-04")
            assert code == 2 and "add --yes" in output, output
            april = [
                p
                for p in (await registry.get(f"/households/{family['id']}/payments")).json()
                if p["period"] == "2026-04"
            ]
            assert april == []

            code, output = await harbin_ops(env, "pay", "2026-04", "--yes")
            assert code == 0, output
            assert "DRY RUN" not in output and "transferred 实发金额" in output and "left out 未发放: 1" in output
            april = [
                p
                for p in (await registry.get(f"/households/{family['id']}/payments")).json()
                if p["period"] == "2026-04"
            ]
            assert [p["amount"] for p in april] == ["340.00"]


async def test_a_run_against_an_unreachable_service_is_one_line_and_exit_4():
    code, output = await harbin_ops({"HARBIN_UTILITIES_URL": "http://127.0.0.1:1"}, "supplement", "2026-03", "--yes")
    assert code == 4, output
    assert "cannot reach http://127.0.0.1:1/" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) <= 2, output
