"""The leading-group office leaves the registry for a service of its own (services/office): its tables
(one-stop records and payments from assistance.grants, donations, pairings) and its parameters go.

What came from events is rebuilt by the office from the topics; donations and pairings were entered
through the API, so this revision refuses to drop them while they hold rows, unless
``REGISTRY_OFFICE_DATA_MOVED=1`` says they have been copied into the office's database.

Revision ID: 0006
"""

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from shared.parameters import ParameterSpec, default_rows

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNSERVED_AFTER_DAYS = ParameterSpec(name="unserved_after_days", kind="integer", label="", defaults=(("*", "30"),))


def _office_revision() -> ModuleType:
    """Revision 0002, which created what this one removes (its upgrade is this one's downgrade)."""

    spec = importlib.util.spec_from_file_location("registry_0002_office", Path(__file__).with_name("0002_office.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    bind = op.get_bind()
    entered = {
        table: bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in ("donations", "pairings")
    }
    if any(entered.values()) and os.environ.get("REGISTRY_OFFICE_DATA_MOVED") != "1":
        raise RuntimeError(
            f"the registry still holds the office's mutual-aid records ({entered}): copy them into "
            "the office's database, then run again with REGISTRY_OFFICE_DATA_MOVED=1"
        )
    _office_revision().downgrade()
    op.execute(f"DELETE FROM policy_parameters WHERE name = '{UNSERVED_AFTER_DAYS.name}'")


def downgrade() -> None:
    _office_revision().upgrade()
    parameters = sa.table(
        "policy_parameters",
        sa.column("name"),
        sa.column("scope"),
        sa.column("value"),
        sa.column("effective_from", sa.Date()),
        sa.column("recorded_by"),
        sa.column("note"),
    )
    op.bulk_insert(parameters, default_rows([UNSERVED_AFTER_DAYS]))
