"""core/db/_prepared.py, "Deferred writes": ``execute(..., defer=True)`` gives the same database
as executing at once (values, order, errors, rollback), and on PostgreSQL the queued writes go
to the server with the unit's next statement instead of a round trip each."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError

from helpers import asyncpg_trips
from nija.core.db import Prepared
from nija.core.db._prepared import _Shape
from nija.core.db.models import users
from nija.core.trading._tables import events, orders, paper_balances

SET_BALANCE = Prepared(update(paper_balances).where(paper_balances.c.account_key == bindparam("b_key"),
                                                    paper_balances.c.asset == bindparam("b_asset")))
INSERT_BALANCE = Prepared(paper_balances.insert())
BALANCES = Prepared(select(paper_balances.c.asset, paper_balances.c.total)
                    .where(paper_balances.c.account_key == bindparam("b_key")).order_by(paper_balances.c.asset))
USER = Prepared(select(users.c.id).where(users.c.id == bindparam("b_id")))
INSERT_EVENT = Prepared(events.insert())


@pytest.fixture
async def db(db):
    """The session's database with a pooled connection, so a unit begins in its checkout's
    ping (PostgreSQL) and its first statement may be deferred too."""
    async with db.transaction() as conn:
        await conn.execute(text("SELECT 1"))
    return db


@pytest.fixture
def trips():
    """Every request asyncpg sends to the server (each is one round trip), as its SQL."""
    with asyncpg_trips() as sent:
        yield sent


async def _balances(db, key: str) -> dict[str, Decimal]:
    async with db.transaction() as conn:
        return dict((await conn.execute(BALANCES.statement, {"b_key": key})).all())


def _rows(key: str, *assets: str) -> list[dict]:
    return [dict(account_key=key, asset=a, total=Decimal(1), updated_at=1) for a in assets]


async def test_queued_writes_ride_with_the_next_statement(db, trips):
    key, user = f"deferred-{uuid.uuid4()}", str(uuid.uuid4())
    async with db.transaction(write=True) as conn:
        await INSERT_BALANCE.execute(conn, _rows(key, "BTC"))
    trips.clear()
    async with db.transaction(write=True) as conn:
        await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "BTC", "total": Decimal("2.5"), "updated_at": 2},
                                  defer=True)
        await INSERT_EVENT.execute(conn, [dict(id=uuid.uuid4().hex, user_id=user, subject="s", kind="orders",
                                               payload=b"p", created_at=1) for _ in range(2)], defer=True)
        assert (await USER.execute(conn, {"b_id": "nobody"})).first() is None  # another table: carries them
    sent = list(trips)
    assert await _balances(db, key) == {"BTC": Decimal("2.5")}
    async with db.transaction() as conn:
        assert (await conn.execute(select(events.c.id).where(events.c.user_id == user))).all().__len__() == 2
    if db.is_postgresql:
        # BEGIN (the pre-ping), one statement (prepared, then run) with both writes before the
        # SELECT, COMMIT: three round trips once the statement is prepared.
        assert sent[0] == "BEGIN" and sent[-1] == "COMMIT" and len(set(sent[1:-1])) == 1, sent
        carried = sent[1]
        assert carried.startswith("WITH _w0 AS (UPDATE trading_paper_balances") and "_w1 AS (INSERT" in carried
        assert carried.count("), ($") == 1  # the two rows as one multi-row INSERT
        assert carried.index("_w1 AS (INSERT") < carried.index(") SELECT users.id")


async def test_a_statement_on_what_is_queued_sees_it(db):
    key = f"deferred-{uuid.uuid4()}"
    async with db.transaction(write=True) as conn:
        await INSERT_BALANCE.execute(conn, _rows(key, "BTC", "ETH"), defer=True)
        # The same row twice: the second write must follow the first, never run beside it.
        for total in ("2", "3"):
            await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "BTC", "total": Decimal(total), "updated_at": 2},
                                      defer=True)
        prepared_read = dict((await BALANCES.execute(conn, {"b_key": key})).all())
        await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "ETH", "total": Decimal(7), "updated_at": 3},
                                  defer=True)
        # Through SQLAlchemy itself (its cursor sends the queue first).
        orm_read = dict((await conn.execute(BALANCES.statement, {"b_key": key})).all())
        await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "ETH", "total": Decimal(8), "updated_at": 4},
                                  defer=True)
        raw_read = (await conn.exec_driver_sql(
            "SELECT count(*) FROM trading_paper_balances WHERE total = 8")).scalar()
    assert prepared_read == {"BTC": Decimal(3), "ETH": Decimal(1)}
    assert orm_read == {"BTC": Decimal(3), "ETH": Decimal(7)}
    assert raw_read >= 1 and await _balances(db, key) == {"BTC": Decimal(3), "ETH": Decimal(8)}


async def test_queued_rows_keep_their_order(db):
    user = str(uuid.uuid4())
    ids = [uuid.uuid4().hex for _ in range(7)]
    async with db.transaction(write=True) as conn:
        await INSERT_EVENT.execute(conn, [dict(id=i, user_id=user, subject="s", kind="orders", payload=b"\x00'$1",
                                               created_at=1) for i in ids[:4]], defer=True)
        await SET_BALANCE.execute(conn, {"b_key": "none", "b_asset": "BTC", "total": Decimal(0), "updated_at": 1},
                                  defer=True)
        for i in ids[4:]:
            await INSERT_EVENT.execute(conn, dict(id=i, user_id=user, subject="s", kind="orders", payload=b"p",
                                                  created_at=1), defer=True)
    async with db.transaction() as conn:
        stored = (await conn.execute(select(events.c.id, events.c.payload).where(events.c.user_id == user)
                                     .order_by(events.c.seq))).all()
    assert [r.id for r in stored] == ids and bytes(stored[0].payload) == b"\x00'$1"


async def test_a_failing_queued_write_fails_the_unit_whole(db):
    key = f"deferred-{uuid.uuid4()}"
    async with db.transaction(write=True) as conn:
        await INSERT_BALANCE.execute(conn, _rows(key, "BTC"))
    # Raised by the commit it rode with ...
    with pytest.raises(IntegrityError):
        async with db.transaction(write=True) as conn:
            await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "BTC", "total": Decimal(9), "updated_at": 2},
                                      defer=True)
            await INSERT_BALANCE.execute(conn, _rows(key, "BTC"), defer=True)  # (account_key, asset) exists
    # ... or by the statement it rode with.
    with pytest.raises(IntegrityError):
        async with db.transaction(write=True) as conn:
            await INSERT_BALANCE.execute(conn, _rows(key, "ETH", "BTC"), defer=True)
            await USER.execute(conn, {"b_id": "nobody"})
    # Dropped with a unit that raised before anything was sent.
    with pytest.raises(RuntimeError):
        async with db.transaction(write=True) as conn:
            await INSERT_BALANCE.execute(conn, _rows(key, "XRP"), defer=True)
            raise RuntimeError("stop")
    assert await _balances(db, key) == {"BTC": Decimal(1)}
    async with db.transaction(write=True) as conn:  # the pooled connection works on
        await INSERT_BALANCE.execute(conn, _rows(key, "ETH"), defer=True)
    assert await _balances(db, key) == {"BTC": Decimal(1), "ETH": Decimal(1)}


def test_which_writes_may_share_a_statement():
    balance, order = _Shape(SET_BALANCE.statement), _Shape(update(orders).where(orders.c.id == bindparam("b_id")))
    insert, read = _Shape(INSERT_BALANCE.statement), _Shape(BALANCES.statement)
    assert balance.key == ("b_key", "b_asset") and order.key == ("b_id",) and insert.plain
    one, other = {"b_key": "k", "b_asset": "BTC"}, {"b_key": "k", "b_asset": "ETH"}
    assert balance.may_follow(balance, other, one)  # different rows of one table
    assert not balance.may_follow(balance, one, dict(one))  # the same row twice
    assert not balance.may_follow(insert, one, {}) and not insert.may_follow(balance, {}, one)
    assert order.may_follow(balance, {"b_id": "x"}, one)  # different tables
    assert read.target is None and paper_balances in read.tables
    # WHERE without a whole unique key: no row key, so never beside another write of its table.
    by_account = _Shape(update(paper_balances).where(paper_balances.c.account_key == bindparam("b_key")))
    assert by_account.key is None and not by_account.may_follow(balance, {"b_key": "k"}, one)
