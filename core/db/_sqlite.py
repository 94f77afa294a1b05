"""One trip to aiosqlite's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to the driver's thread for a SELECT (open a
cursor, execute, fetch all, close) and three for a write. Each trip is a hand-off between the
event loop and that thread, and on a busy machine the hand-offs, not SQLite, are most of a
statement's time. :class:`OneTripCursor` runs the same four steps as one function in that
thread: the same sqlite3 connection, the same thread, the same statements and results, one
hand-off. Server-side (streaming) cursors keep SQLAlchemy's own class.

:func:`install` swaps the class of a new connection; when this SQLAlchemy's adapter does not
look the way this module expects, it leaves the connection as it is (the stock path works).

:func:`begin_immediate` makes a write unit's ``BEGIN IMMEDIATE`` ride on its first statement's
trip (``Database.transaction(write=True)``): the lock is taken in the driver's thread right
before that statement, so the unit costs no extra hand-off for it.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

log = logging.getLogger(__name__)

# Set on the aiosqlite connection by begin_immediate(); the next statement's trip consumes it.
_PENDING_BEGIN = "_nija_begin_immediate"

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

        async def _execute_async(self, operation, parameters):
            async with self._adapt_connection._execute_mutex:
                begin = _take_pending(self._connection)
                self._description, rows, self._rowcount, self._lastrowid = await self._connection._execute(
                    self._run, False, operation, parameters, begin)
                self._rows = collections.deque(rows)

        async def _executemany_async(self, operation, seq_of_parameters):
            async with self._adapt_connection._execute_mutex:
                begin = _take_pending(self._connection)
                self._description, rows, self._rowcount, self._lastrowid = await self._connection._execute(
                    self._run, True, operation, seq_of_parameters, begin)
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
            try:
                return await_(self._execute_async(operation, parameters))
            except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own cursor
                self._adapt_connection._handle_exception(error)

        def executemany(self, operation, seq_of_parameters):
            try:
                return await_(self._executemany_async(operation, seq_of_parameters))
            except Exception as error:  # noqa: BLE001
                self._adapt_connection._handle_exception(error)

    class OneTripConnection(AsyncAdapt_aiosqlite_connection):  # type: ignore[misc,valid-type]
        __slots__ = ()
        _cursor_cls = OneTripCursor

        def cursor(self, server_side: bool = False):
            if server_side and _take_pending(self._connection):
                # A streaming cursor is SQLAlchemy's own: take the lock in a trip of its own first.
                try:
                    await_(self._connection._execute(_begin_in_thread, self._connection._conn))
                except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own cursor
                    self._handle_exception(error)
            return super().cursor(server_side)


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
    dbapi_conn._connection.__dict__[_PENDING_BEGIN] = True
    return True


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
