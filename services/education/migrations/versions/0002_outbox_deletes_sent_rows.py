"""The outbox keeps only unsent events: the relay deletes what Kafka has (shared.migrations)."""

from shared.migrations import outbox_with_published_state as downgrade  # noqa: F401
from shared.migrations import outbox_without_published_state as upgrade  # noqa: F401

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None
