"""One trip to aiosqlite's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to the driver's thread for a SELECT (open a
cursor, execute, fetch all, close) and three for a write. Each trip is a hand-off between the
event loop and that thread, and on a busy machine the hand-offs, not SQLite, are most of a
statement's time. :class:`OneTripCursor` runs the same four steps as one function in that
thread: the same sqlite3 connection, the same thread, the same statements and results, one
hand-off. Server-side (streaming) cursors keep SQLAlchemy's own class.

:func:`install` swaps the class of a new connection; when this SQLAlchemy's adapter does not
look the way this module expects, it leaves the connection as it is (the stock path works).

:func:`begin_immediate` starts a write unit (``Database.transaction(write=True)``): when the
write lock is free it takes it at once on the event loop (``BEGIN IMMEDIATE`` with
``busy_timeout`` 0, so it never waits there); when another writer holds it, ``BEGIN
IMMEDIATE`` rides on the unit's first statement's trip and waits in the driver's thread.

Inline statements: once the unit holds the write lock, the rest of it (its statements and its
COMMIT) can never wait on a lock of another connection, so they run on the event-loop thread
itself, with no hand-off: the sqlite3 connection is opened with ``check_same_thread=False``
(``Database``) and SQLite is built serialised (``sqlite3.threadsafety == 3``). Only one party
ever uses the connection at a time: a unit's statements are awaited one after another, an
inline statement runs only when no trip of this connection is in flight (its mutex is free and
the last trip ended normally), and the flag that allows it is set when the lock is taken and
cleared by the unit's COMMIT or ROLLBACK (a rollback with anything open, or after a failed or
cancelled trip, goes through the thread, behind anything still queued there). A ``BEGIN
IMMEDIATE`` that must wait for another writer, read-only units and statements outside write
units stay in aiosqlite's thread, so the loop never waits on a lock (:func:`inline_connection`
says whether the next statement may run inline). A commit never checkpoints on the loop
either: pooled connections run with ``wal_autocheckpoint=0`` and :class:`Checkpointer`
checkpoints from a thread of its own.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

#: How long a statement waits for another connection's lock (PRAGMA busy_timeout, every
#: connection of the platform's pools and the checkpointer's).
BUSY_TIMEOUT_MS = 10_000

# Set on the aiosqlite connection by begin_immediate(); the next statement's trip consumes it.
_PENDING_BEGIN = "_nija_begin_immediate"
# Set on the aiosqlite connection once a write unit holds the write lock (see the module doc).
_INLINE = "_nija_inline"
# Set on the aiosqlite connection when a trip failed or was cancelled: the thread may still be
# running it, so the next rollback is queued behind it even if nothing looks open.
_UNSETTLED = "_nija_unsettled"

try:  # SQLAlchemy's private adapter classes: checked, never required
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
    from sqlalchemy.util import EMPTY_DICT
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - another SQLAlchemy layout
    AsyncAdapt_aiosqlite_connection = None  # type: ignore[assignment,misc]


if AsyncAdapt_aiosqlite_connection is not None:

    class OneTripCursor(AsyncAdapt_aiosqlite_cursor):  # type: ignore[misc,valid-type]
        """A buffered cursor whose execute is one call into aiosqlite's thread."""

        __slots__ = ("_description", "_rowcount", "_lastrowid")

        def __init__(self, adapt_connection) -> None:  # no trip: the sqlite3 cursor lives in ``_run``
            self._adapt_connection = adapt_connection
            self._connection = adapt_connection._connection
            self._cursor = None
            self._rows = collections.deque()
            self._soft_closed_memoized = EMPTY_DICT
            self._description = None
            self._rowcount = -1
            self._lastrowid = None

        @property
        def description(self):
            return self._description

        @property
        def rowcount(self) -> int:
            return self._rowcount

        @property
        def lastrowid(self):
            return self._lastrowid

        @property
        def arraysize(self) -> int:
            return 1

        @arraysize.setter
        def arraysize(self, value: int) -> None:
            pass

        def _run(self, many: bool, operation: str, parameters: Any, begin: bool = False):
            raw = self._connection._conn  # the sqlite3 connection; this runs in its own thread
            if begin and not raw.in_transaction:
                # A write unit: take the write lock (busy_timeout applies) before the statement.
                raw.execute("BEGIN IMMEDIATE")
            cur = raw.cursor()
            try:
                if many:
                    cur.executemany(operation, parameters)
                elif parameters is None:
                    cur.execute(operation)
                else:
                    cur.execute(operation, parameters)
                description = cur.description
                rows = cur.fetchall() if description else []
                return description, rows, cur.rowcount, cur.lastrowid
            finally:
                cur.close()

        async def _trip(self, many: bool, operation, parameters):
            inner = self._connection
            async with self._adapt_connection._execute_mutex:
                begin = _take_pending(inner)
                try:
                    self._description, rows, self._rowcount, self._lastrowid = await inner._execute(
                        self._run, many, operation, parameters, begin)
                except BaseException:
                    # Failed or cancelled (the thread may still be running it): no inline
                    # statement after this one; the unit's rollback queues behind it.
                    inner.__dict__.pop(_INLINE, None)
                    inner.__dict__[_UNSETTLED] = True  # the next rollback must go through the thread
                    raise
                if begin:  # this trip took the write lock: the rest of the unit runs inline
                    inner.__dict__[_INLINE] = True
                self._rows = collections.deque(rows)

        async def _execute_async(self, operation, parameters):
            await self._trip(False, operation, parameters)

        async def _executemany_async(self, operation, seq_of_parameters):
            await self._trip(True, operation, seq_of_parameters)

        def _inline(self, many: bool, operation, parameters) -> bool:
            """Run the statement on this thread when the unit holds the write lock (module doc)."""
            if inline_connection(self._adapt_connection) is None:
                return False
            try:
                # A coroutine that never suspends: SQLAlchemy's async layer requires an await
                # per statement, and this one returns without handing anything to the loop.
                await_(self._run_inline(many, operation, parameters))
            except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own cursor
                self._adapt_connection._handle_exception(error)
            return True

        async def _run_inline(self, many: bool, operation, parameters) -> None:
            self._description, rows, self._rowcount, self._lastrowid = self._run(many, operation, parameters)
            self._rows = collections.deque(rows)

        async def _async_soft_close(self) -> None:
            return None  # nothing is open between calls

        def close(self) -> None:
            self._rows.clear()

        def nextset(self) -> None:
            return None

        def setinputsizes(self, *inputsizes) -> None:
            return None

        def execute(self, operation, parameters=None):
            if self._inline(False, operation, parameters):
                return None
            try:
                return await_(self._execute_async(operation, parameters))
            except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own cursor
                self._adapt_connection._handle_exception(error)

        def executemany(self, operation, seq_of_parameters):
            if self._inline(True, operation, seq_of_parameters):
                return None
            try:
                return await_(self._executemany_async(operation, seq_of_parameters))
            except Exception as error:  # noqa: BLE001
                self._adapt_connection._handle_exception(error)

    class OneTripConnection(AsyncAdapt_aiosqlite_connection):  # type: ignore[misc,valid-type]
        __slots__ = ()
        _cursor_cls = OneTripCursor

        def commit(self) -> None:
            raw = inline_connection(self)
            self._connection.__dict__.pop(_INLINE, None)
            if raw is not None:
                # The unit holds the write lock: COMMIT waits for no one, and with
                # wal_autocheckpoint=0 it never checkpoints here.
                try:
                    await_(_commit_inline(raw))
                except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own
                    self._handle_exception(error)
                return
            super().commit()

        def rollback(self) -> None:
            inner = self._connection
            inner.__dict__.pop(_INLINE, None)
            raw = inner._conn
            if (raw is not None and not raw.in_transaction and not self._execute_mutex.locked()
                    and not inner.__dict__.get(_UNSETTLED)):
                # Nothing open and nothing left in the thread: the pool's reset of a committed
                # connection at check-in, once per unit. A no-op for SQLite, without the trip.
                return
            inner.__dict__.pop(_UNSETTLED, None)
            super().rollback()  # in the thread, behind anything still queued there

        def cursor(self, server_side: bool = False):
            if server_side and _take_pending(self._connection):
                # A streaming cursor is SQLAlchemy's own: take the lock in a trip of its own first.
                try:
                    await_(self._connection._execute(_begin_in_thread, self._connection._conn))
                except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own cursor
                    self._handle_exception(error)
            return super().cursor(server_side)


async def _commit_inline(raw) -> None:  # never suspends (see OneTripCursor._inline)
    raw.commit()


def _begin_in_thread(raw) -> None:
    raw.execute("BEGIN IMMEDIATE").close()


def _take_pending(inner) -> bool:
    """Whether the next statement on ``inner`` (an aiosqlite connection) begins a write unit."""
    return inner.__dict__.pop(_PENDING_BEGIN, False)


def begin_immediate(dbapi_conn) -> bool:
    """Begin the unit on ``dbapi_conn`` with ``BEGIN IMMEDIATE`` in its first statement's trip.

    Returns False when ``dbapi_conn`` is not a :class:`OneTripConnection` (the caller then runs
    ``BEGIN IMMEDIATE`` itself). :func:`cancel_begin` forgets it when the unit ends without
    having run a statement.
    """
    if AsyncAdapt_aiosqlite_connection is None or type(dbapi_conn) is not OneTripConnection:
        return False
    inner = dbapi_conn._connection
    if not dbapi_conn._execute_mutex.locked() and _begin_inline(inner._conn):
        inner.__dict__[_INLINE] = True  # the whole unit runs inline, its first statement too
    else:
        inner.__dict__[_PENDING_BEGIN] = True
    return True


def _begin_inline(raw) -> bool:
    """``BEGIN IMMEDIATE`` on the event-loop thread when the write lock is free right now.

    Nothing is in flight on the connection (checked by the caller), and with ``busy_timeout``
    at 0 for this one statement it never waits: when another writer holds the lock it fails
    at once with SQLITE_BUSY, and the unit takes the lock in aiosqlite's thread instead,
    waiting there as before. Saves the unit's one hand-off to that thread.
    """
    if raw is None or raw.in_transaction:
        return False
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError:  # SQLITE_BUSY: another writer holds the lock
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def inline_connection(dbapi_conn) -> sqlite3.Connection | None:
    """The sqlite3 connection under ``dbapi_conn`` when the statement run next may run inline
    (the unit holds the write lock and no trip is in flight: see the module doc), else None.
    A flag left by a unit that no longer holds the lock is dropped."""
    if AsyncAdapt_aiosqlite_connection is None or type(dbapi_conn) is not OneTripConnection:
        return None
    inner = dbapi_conn._connection
    if not inner.__dict__.get(_INLINE) or dbapi_conn._execute_mutex.locked():
        return None
    raw = inner._conn
    if raw is None or not raw.in_transaction:
        inner.__dict__.pop(_INLINE, None)
        return None
    return raw


def cancel_begin(dbapi_conn) -> None:
    """Forget a :func:`begin_immediate` that no statement consumed (nothing was locked)."""
    inner = getattr(dbapi_conn, "_connection", None)
    if inner is not None and hasattr(inner, "__dict__"):
        inner.__dict__.pop(_PENDING_BEGIN, None)


def install(dbapi_conn) -> bool:
    """Make ``dbapi_conn`` (a new pooled aiosqlite connection) use :class:`OneTripCursor`."""
    if AsyncAdapt_aiosqlite_connection is None or type(dbapi_conn) is not AsyncAdapt_aiosqlite_connection:
        return False
    inner = getattr(dbapi_conn, "_connection", None)
    if not (hasattr(inner, "_execute") and hasattr(inner, "_conn")):
        return False  # another aiosqlite: keep the stock cursor
    dbapi_conn.__class__ = OneTripConnection
    return True


class Checkpointer:
    """Checkpoints a WAL database from a thread of its own, so no commit on the event loop
    pays for one (pooled connections run with ``wal_autocheckpoint=0``).

    Every ``interval_s`` a PASSIVE checkpoint copies what it can into the database without
    waiting for anyone; the next writer then starts the WAL over from its beginning (and
    ``journal_size_limit`` truncates a file that grew). When readers kept a PASSIVE
    checkpoint from finishing and the WAL is over ``max_wal_bytes``, a RESTART checkpoint
    waits for them (blocking new writers, in their own threads, up to ``busy_timeout``), so
    the WAL cannot grow without bound. :meth:`stop` checkpoints once more and closes.
    """

    def __init__(self, path: str, *, interval_s: float = 1.0, max_wal_bytes: int = 64 << 20) -> None:
        self.path = path
        self.interval_s = interval_s
        self.max_wal_bytes = max_wal_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="nija-sqlite-checkpoint", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint (blocking: call it off the event loop)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:  # a database used again after close() gets a new thread
            self._thread = None
            self._stop.clear()

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error:  # pragma: no cover - the pool reports a database it cannot open
            log.exception("sqlite checkpointer: cannot open %s", self.path)
            return
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            while not self._stop.wait(self.interval_s):
                self.checkpoint(conn)
            self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if log_frames > done >= 0 and self._wal_bytes() > self.max_wal_bytes:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error:  # noqa: BLE001 - the next round tries again
            log.warning("sqlite checkpoint of %s failed", self.path, exc_info=True)

    def _wal_bytes(self) -> int:
        try:
            return os.stat(self.path + "-wal").st_size
        except OSError:
            return 0
