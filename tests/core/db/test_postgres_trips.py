"""core/db/_postgres.py: the pre-ping is the unit's BEGIN, and ``durable=False`` rides on the
COMMIT (PostgreSQL only: NIJA_TEST_DATABASE_URL)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from nija.core.db import Database

PG_URL = os.environ.get("NIJA_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (NIJA_TEST_DATABASE_URL)")


@pytest.fixture
async def db():
    database = Database(PG_URL)
    async with database.transaction() as conn:  # a first connection in the pool
        await conn.execute(text("SELECT 1"))
    yield database
    await database.close()


def _record(raw, sent: list):
    """Record every query ``raw`` (an asyncpg connection) sends; returns the logger to remove."""
    def log(record) -> None:
        sent.append(record.query)

    raw.add_query_logger(log)
    return log


async def test_a_unit_begins_in_its_ping_and_commits_as_asked(db):
    sent: list = []
    async with db.engine.connect() as conn:  # the pooled connection, to watch it
        raw = (await conn.get_raw_connection()).driver_connection
        await conn.rollback()
    logger = _record(raw, sent)
    try:
        async with db.transaction() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        # The checkout's ping was the unit's BEGIN (no ";" or ROLLBACK of a ping of its own);
        # the statements themselves (prepared) are not logged here.
        assert sent == ["BEGIN", "COMMIT"]
        sent.clear()
        async with db.transaction(write=True, durable=False) as conn:
            assert (await conn.execute(text("SHOW synchronous_commit"))).scalar() == "on"
        assert sent == ["BEGIN", "SET LOCAL synchronous_commit TO OFF; COMMIT"]
        sent.clear()
        async with db.transaction() as conn:  # SET LOCAL ended with its transaction
            assert (await conn.execute(text("SHOW synchronous_commit"))).scalar() == "on"
        assert sent == ["BEGIN", "COMMIT"]
    finally:
        raw.remove_query_logger(logger)


async def test_a_failed_unit_rolls_back_and_a_dead_connection_is_replaced(db):
    from sqlalchemy.exc import DBAPIError

    async with db.transaction() as conn:
        await conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS pg_trips_t (v INT PRIMARY KEY)"))
    with pytest.raises(DBAPIError):
        async with db.transaction(durable=False) as conn:
            await conn.execute(text("SELECT 1/0"))
    async with db.transaction() as conn:  # the same connection works after the rollback
        assert (await conn.execute(text("SELECT 2"))).scalar() == 2
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
    other = Database(PG_URL)
    try:
        async with other.transaction() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        await other.close()
    async with db.transaction() as conn:  # the ping (its BEGIN) found it dead: a new one
        assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() != pid
