"""Legal aid rules (法律救助), pure functions: the five services the plan names and a case's life."""

from __future__ import annotations

from typing import Literal

CaseKind = Literal[
    "consultation", "document_drafting", "criminal_defence", "civil_representation", "administrative_representation"
]
CaseStatus = Literal["received", "assigned", "in_progress", "closed"]

KIND_LABELS: dict[str, str] = {
    "consultation": "法律咨询",
    "document_drafting": "代写法律文书",
    "criminal_defence": "刑事辩护",
    "civil_representation": "民事代理",
    "administrative_representation": "行政代理",
}

# received → assigned → in progress → closed; a case may be re-assigned before work starts, and
# closed early (withdrawn, resolved by consultation) from any open state.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"assigned", "closed"}),
    "assigned": frozenset({"assigned", "in_progress", "closed"}),
    "in_progress": frozenset({"closed"}),
    "closed": frozenset(),
}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def allowed_next(current: str) -> list[str]:
    return sorted(TRANSITIONS.get(current, frozenset()))
