"""PostgreSQL (asyncpg): fewer round trips per unit of work.

Every round trip to the server is a network hand-off; a unit of the order path is a handful of
statements, so the trips around them count:

- **Pre-ping is the unit's BEGIN.** SQLAlchemy's asyncpg pre-ping runs ``BEGIN``, ``;``,
  ``ROLLBACK`` (three trips) at every checkout, and the unit then sends its own ``BEGIN``.
  :class:`FewTripConnection` pings by sending the unit's ``BEGIN`` itself: a dead connection
  fails it (SQLAlchemy then reconnects, as with its own ping) and a live one has begun the
  transaction the unit runs in. One trip instead of four. A connection checked out with
  another isolation level, read-only or autocommit is handled by SQLAlchemy as before (it
  rolls the begun transaction back first).
- **Deferred writes ride with the next statement.** Writes queued with
  ``Prepared.execute(…, defer=True)`` wait on the unit's :class:`_Transaction` and go with its
  next prepared statement (``core/db/_prepared.py``); whatever is still queued is sent before
  any statement SQLAlchemy's cursor runs and before the COMMIT, and dropped by a ROLLBACK.
- **A relaxed commit rides on the COMMIT.** ``Database.transaction(durable=False)`` (the order
  path, for a venue in this process: paper) commits with
  ``SET LOCAL synchronous_commit TO OFF; COMMIT`` in one trip: the server acknowledges the
  commit before its WAL record is flushed (docs/trading.md, "Durability and latency").

:func:`install` swaps the class of a new pooled connection; when this SQLAlchemy's adapter
does not look the way this module expects it leaves the connection as it is (the stock path
works, with its extra trips).
"""

from __future__ import annotations

try:  # SQLAlchemy's private adapter class: checked, never required
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
except ImportError:  # pragma: no cover - another SQLAlchemy layout
    AsyncAdapt_asyncpg_connection = None  # type: ignore[assignment,misc]

_COMMIT = "COMMIT"
_RELAXED_COMMIT = "SET LOCAL synchronous_commit TO OFF; COMMIT"


class _Transaction:
    """A top-level transaction begun with a plain ``BEGIN`` (what asyncpg's own sends for
    SQLAlchemy's defaults); ``durable=False`` makes its commit not wait for the WAL flush.
    ``deferred``: the writes queued on it (``_prepared._Batch``), sent before the COMMIT."""

    __slots__ = ("_connection", "durable", "deferred")

    def __init__(self, connection) -> None:
        self._connection = connection
        self.durable = True
        self.deferred = None

    async def start(self) -> None:
        await self._connection.execute("BEGIN")

    async def flush(self) -> None:
        batch, self.deferred = self.deferred, None
        if batch is not None:
            await batch.run(self._connection)

    async def commit(self) -> None:
        try:
            await self.flush()
        except BaseException:
            # The server's transaction failed: end it here (the adapter forgets it either way).
            await self.rollback()
            raise
        await self._connection.execute(_COMMIT if self.durable else _RELAXED_COMMIT)

    async def rollback(self) -> None:
        self.deferred = None
        if self._connection.is_closed():
            return
        await self._connection.execute("ROLLBACK")


if AsyncAdapt_asyncpg_connection is not None:

    class FewTripConnection(AsyncAdapt_asyncpg_connection):  # type: ignore[misc,valid-type]
        __slots__ = ()

        async def _start_transaction(self):
            if self.isolation_level is not None or self.readonly or self.deferrable:
                return await super()._start_transaction()  # autocommit, or asyncpg's own BEGIN …
            assert self._transaction is None
            transaction = _Transaction(self._connection)
            try:
                await transaction.start()
            except Exception as error:  # noqa: BLE001 - mapped like SQLAlchemy's own
                self._handle_exception(error)
            else:
                self._transaction = transaction

        async def _check_type_cache_invalidation(self, invalidate_timestamp):
            # Every statement of SQLAlchemy's cursor passes here, holding the execution mutex,
            # before it is sent: the writes queued on the unit go first, in their order.
            transaction = self._transaction
            if type(transaction) is _Transaction and transaction.deferred is not None:
                try:
                    await transaction.flush()
                except Exception as error:  # noqa: BLE001 - mapped like the statement's own
                    self._handle_exception(error)
            await super()._check_type_cache_invalidation(invalidate_timestamp)

        async def _async_ping(self):
            if self._transaction is None and self.isolation_level is None and not (self.readonly or self.deferrable):
                # The unit's own BEGIN: it fails on a dead connection like the stock ping, and
                # the unit then runs in the transaction it began.
                await self._start_transaction()
            else:
                await super()._async_ping()


def install(dbapi_conn) -> bool:
    """Make ``dbapi_conn`` (a new pooled asyncpg connection) a :class:`FewTripConnection`."""
    if AsyncAdapt_asyncpg_connection is None or type(dbapi_conn) is not AsyncAdapt_asyncpg_connection:
        return False
    if not all(hasattr(AsyncAdapt_asyncpg_connection, name)
               for name in ("_start_transaction", "_async_ping", "_check_type_cache_invalidation", "_prepare")):
        return False  # another SQLAlchemy: keep the stock adapter
    dbapi_conn.__class__ = FewTripConnection
    return True


def begun_connection(dbapi_conn):
    """``dbapi_conn`` when a statement may go to asyncpg directly: a :class:`FewTripConnection`
    whose unit has begun (its ``BEGIN`` was the pre-ping) and with nothing in flight; else
    None (``core/db/_prepared.py``)."""
    if AsyncAdapt_asyncpg_connection is None or type(dbapi_conn) is not FewTripConnection:
        return None
    if type(dbapi_conn._transaction) is not _Transaction or dbapi_conn._execute_mutex.locked():
        return None
    return dbapi_conn


def relax_commit(dbapi_conn) -> bool:
    """Commit the unit open on ``dbapi_conn`` without waiting for the WAL flush, in the COMMIT's
    own trip. False when that unit was not begun here (the caller sends ``SET LOCAL`` itself)."""
    transaction = getattr(dbapi_conn, "_transaction", None)
    if type(transaction) is not _Transaction:
        return False
    transaction.durable = False
    return True
