"""core/db/_sqlite.py: every statement is one trip to aiosqlite's thread, with the same results
and errors as SQLAlchemy's own cursor (a real SQLite file)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from nija.core.db import Database


async def _count_trips(conn):
    """Record every trip the connection makes to aiosqlite's thread; returns (the driver
    connection, its own ``_execute`` to put back, the list the trips are appended to)."""
    raw = (await conn.get_raw_connection()).driver_connection
    trips: list = []
    original = raw._execute

    async def counting(fn, *args, **kwargs):
        trips.append(getattr(fn, "__name__", fn))
        return await original(fn, *args, **kwargs)

    raw._execute = counting
    return raw, original, trips


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield database
    await database.close()


async def test_reads_writes_many_and_errors_behave_as_before(db):
    async with db.transaction() as conn:
        assert type(conn.sync_connection.connection.dbapi_connection).__name__ == "OneTripConnection"
        raw, original, trips = await _count_trips(conn)
        done = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "a"})
        assert done.rowcount == 1 and done.lastrowid == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
        assert (await conn.execute(text("SELECT v FROM t WHERE id = 2"))).scalar() == "b"
        assert (await conn.execute(text("UPDATE t SET v = 'z' WHERE id = 3"))).rowcount == 1
        assert trips == ["_run"] * 5  # one trip per statement
        raw._execute = original
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    async with db.transaction() as conn:  # the failed transaction left nothing behind
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3


async def test_an_unfinished_transaction_is_rolled_back_when_the_connection_returns(db):
    async with db.engine.connect() as conn:  # never committed
        await conn.execute(text("INSERT INTO t (v) VALUES ('lost')"))
    async with db.transaction() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        mode = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    assert mode == 1  # NORMAL (WAL): see docs/trading.md, "Durability and latency"


async def test_a_write_unit_takes_a_free_lock_at_begin_without_a_trip(db, tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0)  # another writer, never waiting
    try:
        async with db.transaction(write=True) as conn:
            raw, original, trips = await _count_trips(conn)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # already held: taken at begin, before any read
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            await conn.execute(text("INSERT INTO t (v) VALUES ('w')"))
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x"}, {"v": "y"}])
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3
        # The lock was free: BEGIN IMMEDIATE, every statement and the COMMIT ran on the loop's
        # thread, and the pool's reset at check-in (nothing open) made no trip either.
        assert trips == []
        raw._execute = original
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.rollback()
        async with db.transaction(write=True):
            pass  # a unit that runs no statement ends with its commit: nothing stays locked
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
        async with db.transaction() as conn:  # the same pooled connection: a plain read unit
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3
            other.execute("BEGIN IMMEDIATE")  # not locked by that read
            other.rollback()
    finally:
        other.close()


async def test_a_write_unit_waits_for_a_held_lock_in_its_first_statements_trip(db, tmp_path):
    import asyncio
    import sqlite3

    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # held by another writer when the unit begins
    asyncio.get_running_loop().call_later(0.2, other.rollback)  # ... and released a bit later
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with db.transaction(write=True) as conn:
            raw, original, trips = await _count_trips(conn)
            # The inline attempt failed at once (busy_timeout 0 for it); the first statement's
            # trip took the lock in aiosqlite's thread, waiting there, not on the loop.
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            assert loop.time() - started >= 0.15
            await conn.execute(text("INSERT INTO t (v) VALUES ('after')"))  # inline from here on
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        assert trips == ["_run"]
        raw._execute = original
        async with db.engine.connect() as conn:
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert busy == 10000  # the inline attempt put the connection's timeout back
    finally:
        other.close()


async def test_a_write_unit_that_streams_first_takes_the_lock_before_the_stream(db, tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0)
    try:
        async with db.transaction(write=True) as conn:
            result = await conn.stream(text("SELECT v FROM t"))  # SQLAlchemy's own (server-side) cursor
            assert [r async for r in result] == []
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


async def test_a_failed_inline_statement_rolls_the_unit_back(db):
    with pytest.raises(IntegrityError):
        async with db.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await conn.execute(text("INSERT INTO t (v) VALUES ('b')"))  # inline
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))  # inline, refused
    async with db.transaction(write=True) as conn:  # nothing of it stayed; the next unit works
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        await conn.execute(text("INSERT INTO t (v) VALUES ('c')"))
    async with db.transaction() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["c"]


async def test_commits_never_checkpoint_and_the_checkpointer_folds_the_wal_in(tmp_path):
    import os
    import sqlite3

    path = tmp_path / "ckpt.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    database.checkpointer.interval_s = 3600  # only the checkpoints this test asks for
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
    for i in range(300):  # ~300 pages: over the default autocheckpoint of 1000 frames in total
        async with database.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 3000})
    wal = path.with_name("ckpt.db-wal")
    assert os.stat(wal).st_size > 300 * 3000  # nothing was checkpointed by a commit
    probe = sqlite3.connect(path)
    database.checkpointer.checkpoint(probe)  # what its thread runs every second
    busy, frames, done = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == done  # all of the WAL is in the database
    probe.close()
    await database.close()  # the last connection: the WAL is folded in and removed
    assert not wal.exists()
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM t").fetchone()[0] == 300
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
