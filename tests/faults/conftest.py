"""What every fault scenario shares."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.harness import Counts


@pytest.fixture()
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[Counts], None]:
    """Prints a scenario's counts whatever pytest captures."""

    def emit(counts: Counts) -> None:
        with capsys.disabled():
            print(f"\n  [faults] {counts.line()}")

    return emit
