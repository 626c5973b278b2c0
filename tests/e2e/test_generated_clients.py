"""The contract as an agency uses it: a client generated with openapi-python-client from every service's
/openapi.json, without a warning, and a whole scenario — enrolment, the bureaus' grants, a hospital's
claim, the one-stop view, the monthly payment run — through the generated code only.

The generator runs from its own virtualenv (scripts/openapi-client.sh installs it: its pins differ from
the project's); the generated code is written under the test's temporary folder, never into the repo."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.periods import add_months, city_today, month_of
from shared.services import NAMES
from tests.support import eventually, household_body, member, service_app, system, token

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def generator() -> str:
    made = subprocess.run([str(ROOT / "scripts" / "openapi-client.sh")], capture_output=True, text=True, check=True)
    return made.stdout.strip()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Iterator[tuple[Path, dict[str, str]]]:
    """Every service's client, generated once; the generator's output for each."""

    folder = tmp_path_factory.mktemp("clients")
    tool, outputs = generator(), {}
    for service in NAMES:
        document = folder / f"{service}.json"
        schema = service_app(service, "sqlite+aiosqlite:///:memory:", "x.").openapi()
        document.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
        config = folder / f"{service}.yaml"
        # A PDF (the registry's written notices) is bytes: the generator reads binary as octet-stream.
        config.write_text(
            f"post_hooks: []\npackage_name_override: {service}_client\n"
            "content_type_overrides:\n  application/pdf: application/octet-stream\n",
            encoding="utf-8",
        )
        run = subprocess.run(
            [tool, "generate", "--path", str(document), "--meta", "none", "--config", str(config),
             "--output-path", str(folder / f"{service}_client")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        outputs[service] = run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield folder, outputs
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0].endswith("_client")]:
            del sys.modules[name]


@pytest.mark.parametrize("service", NAMES)
def test_every_service_generates_a_client_without_a_warning_and_with_a_method_per_operation(generated, service):
    folder, outputs = generated
    assert "warning" not in outputs[service].lower(), outputs[service]
    document = service_app(service, "sqlite+aiosqlite:///:memory:", "x.").openapi()
    for item in document["paths"].values():
        for operation in item.values():
            tag = operation["tags"][0].replace(" ", "_")
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation["operationId"])
            assert (folder / f"{service}_client" / "api" / tag / f"{snake}.py").exists(), (tag, snake)


def client_of(app: Any, package: str, bearer: str) -> Any:
    """The generated AuthenticatedClient, its requests served by the app in this process."""

    client = importlib.import_module(f"{package}.client").AuthenticatedClient(base_url="http://test", token=bearer)
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=60,
        )
    )
    return client


def call(package: str, tag: str, operation: str) -> Any:
    return importlib.import_module(f"{package}.api.{tag}.{operation}").asyncio


def model(package: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{package}.models"), name)


async def test_a_whole_scenario_runs_through_the_generated_clients_only(generated, kafka, postgres):
    today = city_today()
    this_month = month_of(today)
    enrolled_on = add_months(this_month, -1).start
    async with system("registry", "medical", "office") as s:
        everyone = token()
        registry = client_of(s["registry"].app, "registry_client", everyone)
        medical = client_of(s["medical"].app, "medical_client", everyone)
        office = client_of(s["office"].app, "office_client", everyone)

        head = member("head", born=date(1968, 4, 2))
        body = household_body(income="50.00", enrolled_on=enrolled_on, members=[head])
        household = await call("registry_client", "households", "enrol_household")(
            client=registry, body=model("registry_client", "HouseholdIn").from_dict(body)
        )
        assert household.status == "active" and household.monthly_allowance != "0.00", household

        hospital = await call("medical_client", "hospitals", "register_hospital")(
            client=medical,
            body=model("medical_client", "HospitalIn").from_dict(
                {"name": "哈尔滨市第一医院", "designated_from": "2004-01-01"}
            ),
        )
        question = model("medical_client", "ResidentIdQuery").from_dict({"resident_id": head["resident_id"]})

        async def eligible() -> bool:
            answer = await call("medical_client", "eligibility", "search_eligibility")(client=medical, body=question)
            return getattr(answer, "eligible", False)  # a Problem (404) until the enrolment has reached medical

        await eventually(eligible)
        as_hospital = client_of(s["medical"].app, "medical_client", token("medical:claims", hospital_id=hospital.id))
        bill = {
            "hospital_id": hospital.id,
            "resident_id": head["resident_id"],
            "invoice_no": "HRB-2026-000001",
            "visit_date": today.isoformat(),
            "kind": "outpatient",
            "total_cost": "1600.00",
            "insurance_paid": "200.00",
        }
        submit = call("medical_client", "claims", "submit_claim")
        claim = await submit(client=as_hospital, body=model("medical_client", "ClaimIn").from_dict(bill))
        assert claim.assistance_amount not in ("0.00", None), claim
        claims = await call("medical_client", "claims", "list_claims")(client=medical)
        assert [c.id for c in claims.items] == [claim.id]
        # An error is a Problem the client parses, not an exception or a lost body.
        again = await submit(client=as_hospital, body=model("medical_client", "ClaimIn").from_dict(bill))
        assert (again.status, again.code) == (409, "duplicate_invoice"), again

        run = await call("registry_client", "payments", "payment_run")(
            client=registry, body=model("registry_client", "PaymentRunIn").from_dict({"period": this_month.label})
        )
        assert run.households_paid == 1, run
        lines = await call("registry_client", "households", "household_payments")(
            client=registry, household_id=household.id
        )
        assert {line.period for line in lines} == {add_months(this_month, -1).label, this_month.label}

        async def one_stop_has_everything() -> Any:
            view = await call("office_client", "office", "one_stop")(client=office, household_id=household.id)
            if getattr(view, "dibao", None) is None or view.dibao.payments < 2:
                return None
            return view if {p.bureau for p in view.programmes} >= {"medical"} else None

        view = await eventually(one_stop_has_everything)
        assert view.dibao.last_period == this_month.label
