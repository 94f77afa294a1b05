from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from nija.core.db import _postgres, _sqlite

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def _on_sqlite_connect(dbapi_conn, _record, checkpointer: _sqlite.Checkpointer | None = None) -> None:  # pragma: no cover
    cur = dbapi_conn.cursor()
    # WAL lets `nija admin create` write while the platform runs; busy_timeout waits for locks
    # instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs the WAL at checkpoints, not at every commit: a committed
    # transaction survives a crash of the process (the WAL is in the OS page cache) but the
    # last commits before a power loss or kernel crash may be rolled back — the database stays
    # consistent either way (docs/trading.md, "Durability").
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={_sqlite.BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    if checkpointer is not None:
        # Checkpoints run in the Checkpointer's thread, never inside a commit on the event
        # loop (core/db/_sqlite.py); a WAL file that grew is truncated back when it restarts.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute(f"PRAGMA journal_size_limit={checkpointer.max_wal_bytes}")
        checkpointer.start()
    cur.close()
    # From here on every statement is one trip to aiosqlite's thread (core/db/_sqlite.py).
    _sqlite.install(dbapi_conn)


def _on_sqlite_reset(dbapi_conn, _record, state) -> None:  # pragma: no cover - pool callback
    # The pool's default reset is a ROLLBACK on every check-in, one more trip to aiosqlite's
    # thread after each COMMIT. Roll back only what is still open (SQLAlchemy's Connection
    # already rolled back a transaction it closed; sqlite3 knows whether one is open). A
    # connection being thrown away (or collected outside the event loop) is closed instead.
    if state.terminate_only or not state.asyncio_safe:
        return
    inner = getattr(dbapi_conn, "_connection", None)
    if getattr(inner, "in_transaction", True):
        dbapi_conn.rollback()


class Database:
    """An async engine plus unit-of-work transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # pre-ping costs a round trip per checkout; only a networked database needs it.
        kwargs: dict = {"echo": echo, "pool_pre_ping": not self.is_sqlite}
        #: SQLite file databases: the thread that checkpoints the WAL (core/db/_sqlite.py).
        self.checkpointer: _sqlite.Checkpointer | None = None
        if self.is_sqlite:
            kwargs["pool_reset_on_return"] = None  # _on_sqlite_reset does it
            # A write unit's statements run on the event loop's thread once it holds the write
            # lock (core/db/_sqlite.py); the connection is opened in aiosqlite's thread.
            kwargs["connect_args"] = {"check_same_thread": False}
        if self.is_sqlite and parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.checkpointer = _sqlite.Checkpointer(str(Path(parsed.database).resolve()))
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            checkpointer = self.checkpointer
            event.listen(self.engine.sync_engine, "connect",
                         lambda dbapi_conn, record: _on_sqlite_connect(dbapi_conn, record, checkpointer))
            event.listen(self.engine.sync_engine, "reset", _on_sqlite_reset)
        self.is_postgresql = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg"
        if self.is_postgresql:
            # Pre-ping is the unit's BEGIN; a relaxed commit rides on the COMMIT (core/db/_postgres.py).
            event.listen(self.engine.sync_engine, "connect", lambda dbapi_conn, _record: _postgres.install(dbapi_conn))

    @asynccontextmanager
    async def transaction(self, *, write: bool = False, durable: bool = True) -> AsyncIterator[AsyncConnection]:
        """One unit of work: commits on success, rolls back on any exception.

        Parameters
        ----------
        write : bool
            The unit writes what it read (check, then act: the order path, risk's counters,
            fill booking). On SQLite it then begins with ``BEGIN IMMEDIATE``: the database
            write lock is taken (waiting up to ``busy_timeout`` for another writer to commit)
            before the first statement, so nothing it reads can change before it commits, and
            its first write can never be refused. On PostgreSQL nothing changes: such units
            lock the rows they read (``FOR UPDATE``, upserts).
        durable : bool
            False: on PostgreSQL the commit does not wait for its WAL record to reach the disk
            (``SET LOCAL synchronous_commit TO OFF``, in the COMMIT's own round trip). A crash
            of this process loses nothing (the server has the commit); a crash of the server
            can lose the last commits of such units, all of a unit or none of it. For units
            whose every effect lives in our database (the paper venue is in this process and
            rebuilt from it); never for a live order's write-ahead, which must be on disk
            before the order leaves the process (docs/trading.md, "Durability and latency").
            SQLite's commits are already of that kind (``synchronous=NORMAL``).

        Notes
        -----
        Without ``write``, SQLite's driver opens the transaction (deferred) at the unit's first
        INSERT/UPDATE/DELETE; statements before it run outside any transaction, each on its
        own snapshot. That is right for reads and for units whose first statement is a write,
        and it is why a read-only unit nested inside a write unit (on another pooled connection)
        never waits for the lock its caller holds.
        It is not right for a unit that reads, then writes what it read: pass ``write=True``.
        """
        async with self.engine.begin() as conn:
            if not durable and self.is_postgresql:
                if not _postgres.relax_commit(conn.sync_connection.connection.dbapi_connection):
                    await conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")  # a trip of its own
            if not (write and self.is_sqlite):
                yield conn
                return
            dbapi_conn = conn.sync_connection.connection.dbapi_connection
            if not _sqlite.begin_immediate(dbapi_conn):  # the stock cursor: a trip of its own
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            finally:
                _sqlite.cancel_begin(dbapi_conn)  # a unit that ran no statement locked nothing

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if self.checkpointer is not None:
            # A last checkpoint once the pool is closed; its connection is then the last one,
            # so closing it folds the WAL into the database.
            await asyncio.to_thread(self.checkpointer.stop)


def _alembic_config(url: str):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def _upgrade(url: str) -> None:
    from alembic import command

    # "heads": each feature adds its own migration branch off 0001; all of them are applied.
    command.upgrade(_alembic_config(url), "heads")


async def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent)."""
    if make_url(url).get_backend_name() == "sqlite":
        db_path = make_url(url).database
        if db_path:
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    # Alembic's env.py runs its own event loop for the async driver, so run it in a thread.
    await asyncio.to_thread(_upgrade, url)
    log.info("database migrated to head")
