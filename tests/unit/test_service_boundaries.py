"""The services' boundaries, read from the code: one list of services, no service importing another, and
the office at the end of the event flow (it reads the caseload and the grants, it announces nothing)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from shared import services
from shared.events import Bureau

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module each file of ``services/<package>`` imports (migrations included)."""

    found: dict[str, set[str]] = {}
    for path in (ROOT / "services" / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_service_list_is_every_package_under_services_and_nothing_else():
    assert sorted(services.NAMES) == PACKAGES
    assert len(set(services.PORTS.values())) == len(services.SERVICES)
    assert services.PORTS["office"] == 8008


@pytest.mark.parametrize("package", PACKAGES)
def test_no_service_imports_another(package):
    others = [other for other in PACKAGES if other != package]
    crossing = {
        path: sorted(name for name in names if name.split(".")[:2] in (["services", o] for o in others))
        for path, names in imported_modules(package).items()
    }
    assert {path: names for path, names in crossing.items() if names} == {}


def test_the_office_announces_nothing():
    """No outbox and no grant ledger in the office: events end there."""

    used = set().union(*imported_modules("office").values())
    assert not {name for name in used if name.startswith(("shared.outbox", "shared.grants"))}


def test_the_event_contracts_bureaus_are_the_services_bureaus():
    assert get_args(Bureau) == services.BUREAUS
    assert services.BUREAU_NAMES["civil_affairs"] and "office" not in services.BUREAU_NAMES


def test_scripts_read_the_service_list_from_python():
    shell = subprocess.run(
        [sys.executable, "-m", "shared.services", "--shell"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert shell == [f"{s.name}:{s.port}" for s in services.SERVICES]
    topics = subprocess.run(
        [sys.executable, "-m", "shared.services", "--topics"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert topics == [
        "registry.households",
        "employment.members",
        "assistance.grants",
        "registry.procedure",
        "registry.notices",
    ]
    for script in ("services.sh", "kafka.sh", "postgres.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "shared.services" in text, script
        assert "utilities:8006" not in text and "housing employment" not in text, f"{script} lists services itself"
