"""Shared fixtures. Integration tests need the real Kafka broker and PostgreSQL that
``scripts/test.sh`` starts (``TEST_KAFKA_BOOTSTRAP``, ``TEST_PG_HOST``/``TEST_PG_PORT``)."""

from __future__ import annotations

import pytest

from shared.kafka import kafka_is_reachable
from tests.support import KAFKA, PG_HOST, PG_PORT


@pytest.fixture(scope="session")
async def kafka() -> str:
    if not await kafka_is_reachable(KAFKA, timeout=10):
        pytest.fail(f"no Kafka broker at {KAFKA}: start one with scripts/kafka.sh start (scripts/test.sh does)")
    return KAFKA


@pytest.fixture(scope="session")
async def postgres() -> str:
    import asyncpg

    try:
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres", timeout=10)
    except Exception as exc:
        pytest.fail(f"no PostgreSQL at {PG_HOST}:{PG_PORT} ({exc}): start it with scripts/postgres.sh start")
    await connection.close()
    return f"{PG_HOST}:{PG_PORT}"


@pytest.fixture(scope="session", autouse=True)
async def _clean_up_after_the_session():
    """Drop the template databases and delete the topics the tests created."""

    yield
    from tests.support import PREFIXES, _templates, delete_topics, drop_database, pg_url

    for name in list(_templates.values()):
        await drop_database(pg_url(name))
    _templates.clear()
    if PREFIXES:
        try:
            await delete_topics(PREFIXES)
        except Exception:
            pass
