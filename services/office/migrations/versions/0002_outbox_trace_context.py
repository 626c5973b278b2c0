"""The outbox keeps the trace context of the change that wrote each event (shared.migrations).

Revision ID: 0002
"""

from shared.migrations import outbox_with_trace_context as upgrade  # noqa: F401
from shared.migrations import outbox_without_trace_context as downgrade  # noqa: F401

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None
