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

Only for statements built once (module level): a compiled form is kept per dialect and list of
parameter names for the life of the :class:`Prepared`.

Deferred writes (PostgreSQL)
----------------------------
Each statement is a round trip to the server (about 100-150 µs here), and most writes of a unit
need no answer: an UPDATE of a row the unit has locked, an outbox INSERT. ``execute(conn,
params, defer=True)`` queues such a write on the unit instead of sending it; the queue goes to
the server with the unit's next statement, as data-modifying CTEs of that one statement
(``WITH _w0 AS (UPDATE …), _w1 AS (INSERT …) SELECT …``), or alone just before the COMMIT or
before any statement SQLAlchemy itself executes (``_postgres.FewTripConnection``). PostgreSQL
runs every part of such a statement on one snapshot, once, to completion, so a queued write
rides along only where that changes nothing (:class:`_Shape`): the statement it joins reads
and writes no table the queue writes, and the queue never writes one row twice (two writes of
a table share one statement only as plain INSERTs, or as UPDATEs that each fix a different
row by a unique key). Otherwise the queue is sent first, on its own.

A deferred write reports no rowcount, and its error (a unique clash, say) is raised by the
statement or the commit it rides with, still inside the unit, which then rolls back whole.
On SQLite, and wherever the fast path does not apply, ``defer`` runs the write at once.
"""

from __future__ import annotations

import re
import sqlite3
from operator import itemgetter
from typing import Any, Mapping, Sequence

from sqlalchemy import Table, UniqueConstraint, exc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import elements, operators, visitors
from sqlalchemy.sql.dml import Delete, Insert, Update

from nija.core.db import _postgres, _sqlite

_STATUS = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")
_PARAM = re.compile(r"\$(\d+)")


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
    __slots__ = ("sql", "names", "binds", "row_cls", "types", "results", "construct", "direct", "composable",
                 "values")

    def __init__(self, compiled) -> None:
        self.sql = compiled.string
        # May be one part of a combined statement (_Batch): no literal in which "$1" could be
        # text rather than a parameter, and no WITH of its own.
        self.composable = "'" not in self.sql and not self.sql.lstrip().upper().startswith("WITH")
        # A one-row "INSERT … VALUES (…)" as ("INSERT … VALUES ", "(…)"): rows of a multi-row INSERT.
        head, sep, values = self.sql.rpartition(" VALUES ")
        self.values = (head + sep, values) if sep and head.startswith("INSERT ") and _one_group(values) else None
        self.names = list(compiled.positiontup or ())
        processors = compiled._bind_processors
        self.binds = [processors.get(name) for name in self.names]
        self.construct = compiled.construct_params
        self.direct = not compiled.escaped_bind_names
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
        if self.direct:
            # Every parameter given by name (the order path's statements): what
            # construct_params would return for them, without building its dict.
            try:
                return tuple([params[n] if p is None else p(params[n]) for n, p in zip(self.names, self.binds)])
            except KeyError:
                pass  # a default or a literal's anonymous parameter: SQLAlchemy supplies it
        values = self.construct(params)
        return tuple([values[n] if p is None else p(values[n]) for n, p in zip(self.names, self.binds)])

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


class _Shape:
    """What a statement touches, for deciding which writes may share one statement.

    ``target``: the table an INSERT, UPDATE or DELETE writes (None for a SELECT); ``plain``: an
    INSERT without ON CONFLICT (it only adds rows); ``tables``: every table the statement
    names, ``target`` included; ``key``: for an UPDATE or DELETE whose WHERE fixes a unique key
    of ``target`` with parameters (``col = :param AND …``), those parameters' names, so two
    such writes with different values touch different rows.
    """

    __slots__ = ("target", "plain", "tables", "key")

    def __init__(self, statement) -> None:
        self.tables = frozenset(t for t in visitors.iterate(statement) if isinstance(t, Table))
        self.target = statement.table if isinstance(statement, (Insert, Update, Delete)) else None
        self.plain = isinstance(statement, Insert) and getattr(statement, "_post_values_clause", None) is None
        self.key = _row_key(statement) if isinstance(statement, (Update, Delete)) else None

    def may_follow(self, other: "_Shape", mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
        """Whether this write, queued after ``other`` (its parameters ``theirs``), may run in
        the same statement as it."""
        if other.target not in self.tables:
            return True
        if self.target is not other.target or self.tables != {self.target}:
            return False  # it reads what ``other`` writes: it would not see that write
        # Two INSERTs of one table join only as rows of one multi-row INSERT (_Batch.add):
        # separate parts of a statement run in no set order, and a serial column (the
        # outbox's seq) must number the rows in the order they were queued.
        return (self.key is not None and self.key == other.key
                and any(mine[name] != theirs[name] for name in self.key))


def _row_key(statement) -> tuple[str, ...] | None:
    """The parameter names of ``statement``'s WHERE that fix a unique key of its table, or None."""
    where = statement.whereclause
    if where is None:
        return None
    terms = where.clauses if isinstance(where, elements.BooleanClauseList) and where.operator is operators.and_ else [where]
    bound: dict[str, str] = {}
    for term in terms:
        if not (isinstance(term, elements.BinaryExpression) and term.operator is operators.eq
                and isinstance(term.right, elements.BindParameter) and getattr(term.left, "table", None) is statement.table):
            return None
        bound[term.left.name] = term.right.key
    table = statement.table
    uniques = [tuple(c.name for c in table.primary_key.columns)]
    uniques += [tuple(c.name for c in con.columns) for con in table.constraints if isinstance(con, UniqueConstraint)]
    uniques += [tuple(c.name for c in ix.columns) for ix in table.indexes if ix.unique]
    for columns in uniques:
        if columns and all(c in bound for c in columns):
            return tuple(bound[c] for c in columns)
    return None


def _one_group(text: str) -> bool:
    """Whether ``text`` is one parenthesised group: "(" … ")" closing only at its end."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            return i == len(text) - 1 and i > 0
    return False


def _renumber(sql: str, offset: int) -> str:
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql) if offset else sql


class _Batch:
    """Writes queued on a PostgreSQL unit (see the module doc), sent as one statement."""

    __slots__ = ("items",)
    #: (queued plans, the plan of the statement they ride with or None) -> the SQL of the whole
    _SQL: dict[tuple, str] = {}

    def __init__(self) -> None:
        #: (plan, shape, parameters, argument rows): a multi-row INSERT has several rows
        self.items: list[tuple[_Plan, _Shape, Mapping[str, Any], list[tuple]]] = []

    def _extends_last(self, plan: _Plan, shape: _Shape) -> bool:
        return bool(shape.plain and plan.values is not None and self.items and self.items[-1][0] is plan)

    def admits(self, plan: _Plan, shape: _Shape, params: Mapping[str, Any]) -> bool:
        """Whether a write of ``shape`` may join the queue."""
        items = self.items[:-1] if self._extends_last(plan, shape) else self.items
        return all(shape.may_follow(other, params, theirs) for _, other, theirs, _ in items)

    def admits_main(self, shape: _Shape) -> bool:
        """Whether a statement of ``shape`` may carry the queue: it names no table the queue writes."""
        return all(other.target not in shape.tables for _, other, _, _ in self.items)

    def add(self, plan: _Plan, shape: _Shape, params: Mapping[str, Any], args: tuple) -> None:
        if self._extends_last(plan, shape):
            self.items[-1][3].append(args)  # one more row of the same INSERT
        else:
            self.items.append((plan, shape, params, [args]))

    def sql(self, main: _Plan | None = None) -> str:
        parts_of = tuple((plan, len(rows)) for plan, _, _, rows in self.items)
        key = (parts_of, main)
        text = self._SQL.get(key)
        if text is None:
            parts, offset = [], 0
            for plan, rows in (*parts_of, (main, 1)) if main is not None else parts_of:
                if rows == 1:
                    parts.append(_renumber(plan.sql, offset))
                else:
                    head, values = plan.values
                    parts.append(head + ", ".join(_renumber(values, offset + i * len(plan.names)) for i in range(rows)))
                offset += rows * len(plan.names)
            *ctes, last = parts
            text = "WITH " + ", ".join(f"_w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " " + last if ctes else last
            if len(self._SQL) < 1000:  # a handful of shapes in practice; never unbounded
                self._SQL[key] = text
        return text

    def args(self, main: tuple = ()) -> tuple:
        return tuple(a for _, _, _, rows in self.items for args in rows for a in args) + main

    async def run(self, connection) -> None:
        """Send the queue alone, on ``connection`` (asyncpg's, inside the unit)."""
        await connection.execute(self.sql(), *self.args())


class Prepared:
    """``statement`` compiled once per dialect and list of parameter names; see the module doc.

    ``await prepared.execute(conn, params)`` behaves like ``await conn.execute(statement,
    params)`` for what the result offers: ``first()``, ``all()``, ``one()``, ``scalar()``,
    ``rowcount``, rows with attributes and ``_mapping``. ``params`` may be a list of dicts
    (executemany; ``rowcount`` is then the driver's: -1 on PostgreSQL, as through SQLAlchemy).
    ``defer=True``: a write whose result the caller does not need may wait for the unit's next
    statement (module doc, "Deferred writes"); its result then has no rows and rowcount -1.
    """

    __slots__ = ("statement", "_plans", "_shape")

    def __init__(self, statement) -> None:
        self.statement = statement
        self._plans: dict[tuple, _Plan | None] = {}
        self._shape: _Shape | None = None

    def _plan(self, dialect, keys: tuple, many: bool) -> _Plan | None:
        # ``keys`` in the caller's order: a caller builds its parameters the same way each time.
        key = (type(dialect), dialect.paramstyle, keys, many)
        try:
            return self._plans[key]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
        plan = _Plan(compiled) if _plain(compiled) else None
        self._plans[key] = plan
        return plan

    @property
    def shape(self) -> _Shape:
        if self._shape is None:
            self._shape = _Shape(self.statement)
        return self._shape

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                      *, defer: bool = False):
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
        if name == "postgresql":
            if defer:
                # Compiled as for executemany: no RETURNING of a generated key nobody reads.
                plan = self._plan(conn.dialect, tuple(first), True)
                if plan is not None and plan.composable and self.shape.target is not None:
                    await self._queue(conn, raw, plan, params if many else [first])
                    return _Result([], -1)
            plan = self._plan(conn.dialect, tuple(first), many)
            if plan is None:  # SQLAlchemy's cursor sends what is queued first (_postgres)
                return await conn.execute(self.statement, params)
            return await self._asyncpg(conn, raw, plan, params, first, many)
        plan = self._plan(conn.dialect, tuple(first), many)
        if plan is None:
            return await conn.execute(self.statement, params)
        return self._sqlite3(raw, plan, params, first, many)

    async def _queue(self, conn: AsyncConnection, adapter, plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue ``rows`` of this write on the unit open on ``adapter``; a queue they may not
        join is sent first."""
        transaction = adapter._transaction
        shape = self.shape
        for params in rows:
            args = plan.args(params)
            batch = transaction.deferred
            if batch is not None and not batch.admits(plan, shape, params):
                try:
                    async with adapter._execute_mutex:
                        await transaction.flush()
                except Exception as error:  # noqa: BLE001 - mapped like the statement's own
                    _raise_mapped(conn, adapter, error, batch.sql(), batch.args())
                batch = None
            if batch is None:
                batch = transaction.deferred = _Batch()
            batch.add(plan, shape, params, args)

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

    async def _asyncpg(self, conn: AsyncConnection, adapter, plan: _Plan, params, first, many: bool):
        """The statement on the unit's asyncpg connection, through SQLAlchemy's own cache of
        prepared statements (what its cursor does, without the execution machinery), carrying
        the writes queued on the unit where they may ride with it."""
        args: Any = None
        sql = plan.sql
        try:
            async with adapter._execute_mutex:
                transaction = adapter._transaction
                batch = transaction.deferred
                if batch is not None and (many or not plan.composable or not batch.admits_main(self.shape)):
                    sql, args = batch.sql(), batch.args()  # what an error names
                    await transaction.flush()
                    batch, sql = None, plan.sql
                transaction.deferred = None  # what is left rides with this statement
                if many:
                    args = [plan.args(p) for p in params]
                    await adapter._connection.executemany(sql, args)
                    return _Result([], -1)
                args = plan.args(first)
                if batch is not None:
                    sql, args = batch.sql(plan), batch.args(args)
                statement, attributes = await adapter._prepare(
                    sql, getattr(conn.dialect, "_invalidate_schema_cache_asof", 0))
                if plan.results is None and plan.types:
                    plan.results = plan.result_processors(conn.dialect, [a.type.oid for a in attributes])
                fetched = await statement.fetch(*args)
                match = _STATUS.match(statement.get_statusmsg() or "")
                return _Result(plan.rows(fetched), int(match.group(1)) if match else -1)
        except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's cursor maps it
            _raise_mapped(conn, adapter, error, sql, args)


def _raise_mapped(conn: AsyncConnection, adapter, error: Exception, sql: str, args) -> None:
    """Raise what ``conn.execute`` raises for asyncpg's ``error`` (``IntegrityError`` for a unique clash)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        adapter._handle_exception(error)  # raises the adapter's DBAPI-style error
    except dbapi.Error as mapped:
        raise exc.DBAPIError.instance(sql, args, mapped, dbapi.Error) from error
    raise error
