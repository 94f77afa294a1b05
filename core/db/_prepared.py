"""Hot statements compiled once and run on the driver directly inside a write unit.

A statement executed through ``AsyncConnection.execute`` costs about 23 µs of SQLAlchemy's
machinery (greenlet hand-off, compiled-cache lookup, execution context, result set-up) even
when the statement runs inline on the event loop (``_sqlite``), where sqlite3 itself needs
about 1 µs. The order path runs about 20 statements per signal, so that machinery was a large
share of its latency. :class:`Prepared` keeps SQLAlchemy's compilation and its type processing
(the bind and result processors of the columns' types, ``Dec`` and JSON included) and skips
the rest, only where nothing else can differ:

- SQLite: a write unit that already holds the write lock (``_sqlite.inline_connection``); the
  statement runs on the sqlite3 connection.
- PostgreSQL: a unit whose transaction the pre-ping began (``_postgres.begun_connection``); the
  statement runs on the asyncpg connection through SQLAlchemy's own cache of prepared
  statements, as its cursor does.
- Statements without Python-side column defaults or expanding (``IN``) parameters (checked
  once per compiled form).

Everything else (other units, a unit's first statement that had to wait for SQLite's lock,
other statements) goes through ``conn.execute`` unchanged. Errors are SQLAlchemy's classes
(``IntegrityError`` for a unique conflict), as from ``conn.execute``. Statements run this way
do not fire SQLAlchemy's cursor events.

Only for statements built once (module level): a compiled form is kept per dialect and set of
parameter names for the life of the :class:`Prepared`.
"""

from __future__ import annotations

import re
import sqlite3
from operator import itemgetter
from typing import Any, Mapping, Sequence

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.db import _postgres, _sqlite

_STATUS = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


class _Row(tuple):
    """A result row: attribute access and ``_mapping`` like SQLAlchemy's ``Row``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._fields, self))


class _Result:
    """The part of ``CursorResult`` the order path uses."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self):
        return self._rows[0] if self._rows else None

    def all(self) -> list:
        return self._rows

    def one(self):
        if len(self._rows) != 1:
            raise exc.NoResultFound("no row") if not self._rows else exc.MultipleResultsFound("several rows")
        return self._rows[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def __iter__(self):
        return iter(self._rows)


class _Plan:
    __slots__ = ("sql", "names", "binds", "row_cls", "types", "results", "construct")

    def __init__(self, compiled) -> None:
        self.sql = compiled.string
        self.names = list(compiled.positiontup or ())
        processors = compiled._bind_processors
        self.binds = [processors.get(name) for name in self.names]
        self.construct = compiled.construct_params
        columns = compiled._result_columns
        if columns:
            fields = tuple(c.keyname for c in columns)
            attributes = {name: property(itemgetter(i)) for i, name in enumerate(fields) if name.isidentifier()}
            self.row_cls = type("Row", (_Row,), {"__slots__": (), "_fields": fields, **attributes})
            self.types = [c.type for c in columns]
            # SQLite's cursor reports no column types; asyncpg's do (see result_processors).
            self.results = (self.result_processors(compiled.dialect, [None] * len(columns))
                            if compiled.dialect.name == "sqlite" else None)
        else:
            self.row_cls = None
            self.types = []
            self.results = []

    def result_processors(self, dialect, coltypes: Sequence) -> list:
        """The processors SQLAlchemy applies to each column, for the driver's column types."""
        return [t._cached_result_processor(dialect, coltype) for t, coltype in zip(self.types, coltypes)]

    def args(self, params: Mapping[str, Any]) -> tuple:
        values = self.construct(params)
        return tuple(values[n] if p is None else p(values[n]) for n, p in zip(self.names, self.binds))

    def rows(self, fetched: list) -> list:
        if self.row_cls is None:
            return []
        processors = self.results
        make = self.row_cls
        if not any(processors):
            return [make(r) for r in fetched]
        return [make([v if p is None else p(v) for v, p in zip(r, processors)]) for r in fetched]


def _plain(compiled) -> bool:
    """Whether ``compiled`` runs as its SQL string and bound values alone (no defaults to
    compute, no IN-list to expand)."""
    return not (compiled.insert_prefetch or compiled.update_prefetch
                or compiled.post_compile_params or compiled.literal_execute_params)


class Prepared:
    """``statement`` compiled once per dialect and set of parameter names; see the module doc.

    ``await prepared.execute(conn, params)`` behaves like ``await conn.execute(statement,
    params)`` for what the result offers: ``first()``, ``all()``, ``one()``, ``scalar()``,
    ``rowcount``, rows with attributes and ``_mapping``. ``params`` may be a list of dicts
    (executemany; ``rowcount`` is then the driver's: -1 on PostgreSQL, as through SQLAlchemy).
    """

    __slots__ = ("statement", "_plans")

    def __init__(self, statement) -> None:
        self.statement = statement
        self._plans: dict[tuple, _Plan | None] = {}

    def _plan(self, dialect, keys: tuple, many: bool) -> _Plan | None:
        key = (type(dialect), dialect.paramstyle, keys, many)
        try:
            return self._plans[key]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
        plan = _Plan(compiled) if _plain(compiled) else None
        self._plans[key] = plan
        return plan

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None):
        sync = conn.sync_connection
        if sync is None:
            return await conn.execute(self.statement, params)
        dbapi_conn = sync.connection.dbapi_connection
        name = conn.dialect.name
        if name == "sqlite":
            raw = _sqlite.inline_connection(dbapi_conn)
        elif name == "postgresql":
            raw = _postgres.begun_connection(dbapi_conn)
        else:
            raw = None
        if raw is None:
            return await conn.execute(self.statement, params)
        many = isinstance(params, (list, tuple))
        if many and not params:
            return _Result([], 0)
        first = params[0] if many else (params or {})
        plan = self._plan(conn.dialect, tuple(sorted(first)), many)
        if plan is None:
            return await conn.execute(self.statement, params)
        if name == "postgresql":
            return await self._asyncpg(conn, raw, plan, params, first, many)
        return self._sqlite3(raw, plan, params, first, many)

    @staticmethod
    def _sqlite3(raw: sqlite3.Connection, plan: _Plan, params, first, many: bool) -> _Result:
        """The statement on the unit's sqlite3 connection, on this thread (it holds the lock)."""
        args: Any = None
        cur = raw.cursor()
        try:
            if many:
                args = [plan.args(p) for p in params]
                cur.executemany(plan.sql, args)
                fetched = []
            else:
                args = plan.args(first)
                cur.execute(plan.sql, args)
                fetched = cur.fetchall() if cur.description else []
            return _Result(plan.rows(fetched), cur.rowcount)
        except sqlite3.Error as error:
            # What conn.execute raises for the same error (IntegrityError for a unique clash).
            raise exc.DBAPIError.instance(plan.sql, args, error, sqlite3.Error) from error
        finally:
            cur.close()

    @staticmethod
    async def _asyncpg(conn: AsyncConnection, adapter, plan: _Plan, params, first, many: bool):
        """The statement on the unit's asyncpg connection, through SQLAlchemy's own cache of
        prepared statements (what its cursor does, without the execution machinery)."""
        args: Any = None
        try:
            async with adapter._execute_mutex:
                if many:
                    args = [plan.args(p) for p in params]
                    await adapter._connection.executemany(plan.sql, args)
                    return _Result([], -1)
                args = plan.args(first)
                statement, attributes = await adapter._prepare(
                    plan.sql, getattr(conn.dialect, "_invalidate_schema_cache_asof", 0))
                if plan.results is None and plan.types:
                    plan.results = plan.result_processors(conn.dialect, [a.type.oid for a in attributes])
                fetched = await statement.fetch(*args)
                match = _STATUS.match(statement.get_statusmsg() or "")
                return _Result(plan.rows(fetched), int(match.group(1)) if match else -1)
        except Exception as error:  # noqa: BLE001 - mapped below like SQLAlchemy's cursor maps it
            dbapi = conn.dialect.loaded_dbapi
            try:
                adapter._handle_exception(error)  # raises the adapter's DBAPI-style error
            except dbapi.Error as mapped:
                raise exc.DBAPIError.instance(plan.sql, args, mapped, dbapi.Error) from error
            raise
