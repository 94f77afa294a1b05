"""``Database.transaction(write=True)``: a unit that reads, then writes what it read, on a real
database (SQLite always, PostgreSQL when configured) with several writers at once."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from nija.core.db import Database

counters = Table("test_write_lock_counters", MetaData(), Column("id", String(36), primary_key=True),
                 Column("n", Integer, nullable=False))
WRITERS = 3
UNITS = 30


@pytest.fixture
async def dbs(database_url):
    """Several writers, one Database (engine and pool) each, as separate processes would have."""
    databases = [Database(database_url) for _ in range(WRITERS)]
    async with databases[0].transaction() as conn:
        await conn.run_sync(lambda sync: counters.create(sync, checkfirst=True))
    yield databases
    for database in databases:
        await database.close()


async def _new_counter(db) -> str:
    key = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(insert(counters).values(id=key, n=0))
    return key


async def _value(db, key: str) -> int:
    async with db.transaction() as conn:
        return (await conn.execute(select(counters.c.n).where(counters.c.id == key))).scalar_one()


async def test_units_that_read_then_write_lose_no_update_and_never_find_the_database_locked(dbs):
    key = await _new_counter(dbs[0])

    async def bump(db) -> None:
        async with db.transaction(write=True) as conn:
            # The order path's shape: read the row (FOR UPDATE is PostgreSQL's lock; SQLite
            # ignores it), then write what was read.
            n = (await conn.execute(select(counters.c.n).where(counters.c.id == key).with_for_update())).scalar_one()
            await conn.execute(update(counters).where(counters.c.id == key).values(n=n + 1))

    # No return_exceptions: "database is locked" (OperationalError) fails the test here.
    await asyncio.gather(*(bump(dbs[i % WRITERS]) for i in range(UNITS)))
    assert await _value(dbs[0], key) == UNITS


async def test_a_read_only_unit_never_waits_for_a_write_unit_in_progress(dbs):
    """Risk's check calls billing, which reads in a unit of its own while the order's unit holds
    the write lock: that read must not wait for it (it would wait for ever, in one task)."""
    key = await _new_counter(dbs[0])
    async with dbs[0].transaction(write=True) as conn:
        await conn.execute(update(counters).where(counters.c.id == key).values(n=1))
        assert await _value(dbs[0], key) == 0  # another connection: the committed state
    assert await _value(dbs[0], key) == 1


async def test_on_sqlite_a_write_unit_holds_the_write_lock_before_its_first_statement(tmp_path):
    # SQLite only (PostgreSQL locks rows, not the database): a file database of its own.
    path = tmp_path / "lock.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, timeout=0)  # another process's writer, not waiting
    try:
        async with db.transaction() as conn:
            await conn.run_sync(lambda sync: counters.create(sync, checkfirst=True))
        key = await _new_counter(db)
        async with db.transaction(write=True) as conn:
            await conn.execute(select(counters.c.n).where(counters.c.id == key))  # a read, nothing written
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the unit committed
        other.rollback()
    finally:
        other.close()
        await db.close()
