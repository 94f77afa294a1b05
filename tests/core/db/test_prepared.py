"""core/db/_prepared.py: a Prepared statement gives what conn.execute gives (values, types,
rowcount, errors), runs on the driver directly inside a SQLite write unit and a begun
PostgreSQL unit, and goes through SQLAlchemy everywhere else."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.exc import IntegrityError

from nija.core.db import Prepared
from nija.core.db.models import user_settings, users
from nija.core.trading._tables import paper_balances

SETTINGS_OF = Prepared(select(user_settings).where(user_settings.c.user_id == bindparam("b_user")))
SET_BALANCE = Prepared(update(paper_balances).where(paper_balances.c.account_key == bindparam("b_key"),
                                                    paper_balances.c.asset == bindparam("b_asset")))
INSERT_BALANCE = Prepared(paper_balances.insert())
BALANCES_IN = Prepared(select(paper_balances.c.asset).where(
    paper_balances.c.account_key == bindparam("b_key"), paper_balances.c.asset.in_(bindparam("b_assets", expanding=True))))


class CursorEvents:
    """Counts the statements SQLAlchemy itself executed (a Prepared fast path fires none)."""

    def __init__(self, db) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:
        self.count += 1


async def _user_with_settings(db) -> str:
    uid = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(users.insert().values(id=uid, email=f"{uid}@prepared.invalid", password_hash="x",
                                                 roles="user", created_at=0, disabled=False))
        await conn.execute(user_settings.insert().values(
            user_id=uid, max_position_size=Decimal("123.45678901"), max_concurrent_positions=3,
            max_daily_loss_pct=Decimal("2.5"), risk_level="low", allowed_pairs=["ETH/BTC", "LTC/BTC"],
            notifications_enabled=True, updated_at=7, max_daily_loss_usd=None))
    return uid


async def test_results_and_types_match_conn_execute(db):
    uid = await _user_with_settings(db)
    async with db.transaction() as conn:
        expected = (await conn.execute(SETTINGS_OF.statement, {"b_user": uid})).first()
    with CursorEvents(db) as seen:
        async with db.transaction(write=True) as conn:
            row = (await SETTINGS_OF.execute(conn, {"b_user": uid})).first()
            missing = (await SETTINGS_OF.execute(conn, {"b_user": "nobody"})).first()
            one = (await SETTINGS_OF.execute(conn, {"b_user": uid})).one()
            scalar = (await SETTINGS_OF.execute(conn, {"b_user": uid})).scalar()
    assert tuple(row) == tuple(expected) and dict(row._mapping) == dict(expected._mapping)
    assert row.max_position_size == Decimal("123.45678901") and isinstance(row.max_position_size, Decimal)
    assert row.allowed_pairs == ["ETH/BTC", "LTC/BTC"] and row.notifications_enabled is True
    assert row.max_daily_loss_usd is None and missing is None and tuple(one) == tuple(row) and scalar == uid
    # Inside the unit (SQLite: holding the write lock; PostgreSQL: begun by the pre-ping) every
    # statement went to the driver directly, none through SQLAlchemy's execution.
    assert seen.count == 0
    with CursorEvents(db) as seen:
        async with db.transaction() as conn:  # SQLite: a unit that holds no lock goes through conn.execute
            again = (await SETTINGS_OF.execute(conn, {"b_user": uid})).first()
    assert tuple(again) == tuple(expected) and seen.count == (1 if db.is_sqlite else 0)


async def test_writes_rowcounts_and_many(db):
    key = f"prepared-{uuid.uuid4()}"
    async with db.transaction(write=True) as conn:
        await INSERT_BALANCE.execute(conn, [dict(account_key=key, asset=a, total=Decimal(1), updated_at=1)
                                            for a in ("BTC", "ETH")])
        done = await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "ETH", "total": Decimal("0.000000000000000001"),
                                                "updated_at": 2})
        none = await SET_BALANCE.execute(conn, {"b_key": key, "b_asset": "XRP", "total": Decimal(5), "updated_at": 2})
        # An IN list is expanded at execution: always through conn.execute, same answer.
        listed = (await BALANCES_IN.execute(conn, {"b_key": key, "b_assets": ["ETH", "BTC"]})).all()
    assert done.rowcount == 1 and none.rowcount == 0 and sorted(r.asset for r in listed) == ["BTC", "ETH"]
    async with db.transaction() as conn:
        rows = dict((await conn.execute(select(paper_balances.c.asset, paper_balances.c.total)
                                        .where(paper_balances.c.account_key == key))).all())
    assert rows == {"BTC": Decimal(1), "ETH": Decimal("0.000000000000000001")}


async def test_a_unique_clash_is_sqlalchemys_integrity_error_and_rolls_the_unit_back(db):
    key = f"prepared-{uuid.uuid4()}"
    row = dict(account_key=key, asset="BTC", total=Decimal(1), updated_at=1)
    async with db.transaction(write=True) as conn:
        await INSERT_BALANCE.execute(conn, row)
    with pytest.raises(IntegrityError):
        async with db.transaction(write=True) as conn:
            await INSERT_BALANCE.execute(conn, dict(row, asset="ETH"))
            await INSERT_BALANCE.execute(conn, row)  # (account_key, asset) exists
    async with db.transaction(write=True) as conn:  # the ETH row went with the unit; the connection works
        assets = (await conn.execute(select(paper_balances.c.asset).where(paper_balances.c.account_key == key))).all()
        await INSERT_BALANCE.execute(conn, dict(row, asset="LTC"))
    assert [a for (a,) in assets] == ["BTC"]
