"""The project's common library: events, outbox, idempotent consumer, database, errors, policy helpers."""
