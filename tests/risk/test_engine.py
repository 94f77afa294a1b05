"""RiskEngine against a real database (SQLite always, PostgreSQL when configured): counters,
concurrency, kill switches, broker-error streaks, audit."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal as D

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from nija.core.clock import FakeClock
from nija.core.db import Database
from nija.core.db.models import audit_log
from nija.core.entitlements import FREE_LIMITS, StaticEntitlements
from nija.core.risk import GlobalKillSwitch, RiskEngine, RiskRejected
from nija.core.risk._tables import risk_user_state
from risk_support import PRO, make_user, order


@pytest.fixture(scope="module")
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.close()


@pytest.fixture
async def engine(db):
    # Every test leaves the global switch cleared, whatever it did.
    engine = RiskEngine(db, entitlements=StaticEntitlements(PRO))
    yield engine
    if (await engine.kill_switch.load()).active:
        await engine.kill_switch.set(active=False, flatten=False, reason="test cleanup", actor_id="test")


async def place(engine, db, request):
    """One order's transaction; returns None when accepted, else the rule."""
    try:
        async with db.transaction() as conn:
            await engine.pre_trade(conn, request)
    except RiskRejected as rejected:
        return rejected.rule
    return None


async def usage(db, user_id):
    async with db.transaction() as conn:
        return (await conn.execute(select(risk_user_state).where(risk_user_state.c.user_id == user_id))).one()


async def actions(db, user_id=None, prefix="risk."):
    async with db.transaction() as conn:
        query = select(audit_log.c.action, audit_log.c.actor_id).where(audit_log.c.action.like(prefix + "%"))
        if user_id:
            query = query.where(audit_log.c.user_id == user_id)
        return [(r.action, r.actor_id) for r in await conn.execute(query.order_by(audit_log.c.id))]


async def test_the_50th_trade_passes_and_the_51st_is_rejected(engine, db):
    user = await make_user(db)
    results = [await place(engine, db, order(user)) for _ in range(51)]
    assert results[:50] == [None] * 50
    assert results[50] == "hard.max_trades_per_day"
    assert (await usage(db, user)).trades_today == 50


async def test_counters_roll_over_at_the_utc_day(db):
    clock = FakeClock(start_ms=1_700_006_400_000 - 1000)  # one second before a UTC midnight
    engine = RiskEngine(db, entitlements=StaticEntitlements(FREE_LIMITS), clock=clock)
    user = await make_user(db)
    assert [await place(engine, db, order(user)) for _ in range(11)][-2:] == [None, "tier.max_trades_per_day"]
    clock.advance(1000)
    assert await place(engine, db, order(user)) is None
    assert (await usage(db, user)).trades_today == 1


async def test_rejected_orders_change_no_counter(engine, db):
    user = await make_user(db)
    assert await place(engine, db, order(user, notional_usd=D(99))) == "hard.position_size_min"
    with pytest.raises(Exception, match="No row"):  # the whole transaction rolled back
        await usage(db, user)
    assert await place(engine, db, order(user)) is None
    assert await place(engine, db, order(user, notional_usd=D(501))) == "hard.position_size_max"
    row = await usage(db, user)
    assert row.trades_today == 1 and row.exposure_usd == D(100)


async def test_positions_are_counted_and_released(engine, db):
    user = await make_user(db, max_concurrent_positions=2)
    opening = order(user, opens_position=True)
    assert [await place(engine, db, opening) for _ in range(3)] == [None, None, "user.max_concurrent_positions"]
    async with db.transaction() as conn:
        await engine.release_position(conn, user, notional_usd=D(100), closed=True, realized_pnl_usd=D(-5))
    row = await usage(db, user)
    assert (row.open_positions, row.exposure_usd, row.realized_pnl_today) == (1, D(100), D(-5))
    assert await place(engine, db, opening) is None
    async with db.transaction() as conn:
        await engine.release_order(conn, opening)
    assert (await usage(db, user)).open_positions == 1


async def test_drawdown_from_the_recorded_peak_stops_and_asks_for_a_flatten(engine, db):
    user = await make_user(db, max_daily_loss_pct=D(100))
    assert await place(engine, db, order(user, account_equity_usd=D(5000))) is None
    assert await place(engine, db, order(user, account_equity_usd=D(4001), notional_usd=D(100))) is None
    with pytest.raises(RiskRejected) as info:
        async with db.transaction() as conn:
            await engine.pre_trade(conn, order(user, account_equity_usd=D(4000), notional_usd=D(100)))
    assert info.value.rule == "hard.max_drawdown" and info.value.flatten
    assert await place(engine, db, order(user, account_equity_usd=D(4000), reduce_only=True)) is None
    state = await engine.state(user)
    assert state.drawdown_pct == D("20.00")  # the reduce-only order reported equity 4000, peak 5000


async def test_the_fifth_consecutive_broker_error_disables_the_bot(engine, db):
    user = await make_user(db)
    bot = f"bot-{uuid.uuid4().hex[:8]}"
    assert [await engine.on_broker_result(user, bot, False) for _ in range(4)] == [False] * 4
    await engine.on_broker_result(user, bot, True)  # a success resets the streak
    assert [await engine.on_broker_result(user, bot, False) for _ in range(4)] == [False] * 4
    assert await place(engine, db, order(user, bot_id=bot)) is None
    assert await engine.on_broker_result(user, bot, False) is True
    assert await place(engine, db, order(user, bot_id=bot)) == "hard.bot_disabled"
    assert await place(engine, db, order(user, bot_id="another-bot")) is None
    assert (await engine.state(user)).disabled_bots == (bot,)
    async with db.transaction() as conn:
        await engine.enable_bot(conn, user, bot, actor_id=user)
    assert await place(engine, db, order(user, bot_id=bot)) is None
    assert await actions(db, user) == [("risk.bot.auto_disable", "system"), ("risk.bot.enable", user)]


async def test_another_users_bot_is_never_touched(engine, db):
    owner, other = await make_user(db), await make_user(db)
    bot = f"bot-{uuid.uuid4().hex[:8]}"
    for _ in range(5):
        await engine.on_broker_result(owner, bot, True)
    assert [await engine.on_broker_result(other, bot, False) for _ in range(6)] == [False] * 6
    assert await place(engine, db, order(owner, bot_id=bot)) is None


async def test_user_kill_switch_and_reduce_only_mode_are_audited(engine, db):
    user, admin = await make_user(db), str(uuid.uuid4())
    async with db.transaction() as conn:
        await engine.engage_user_kill_switch(conn, user, user, reason="panic")
    assert await place(engine, db, order(user)) == "kill_switch.user"
    assert await place(engine, db, order(user, reduce_only=True)) is None
    assert (await engine.state(user)).user_kill_switch
    async with db.transaction() as conn:
        await engine.clear_user_kill_switch(conn, user, admin)
        await engine.set_reduce_only(conn, user, True, user)
    assert await place(engine, db, order(user)) == "portfolio.reduce_only"
    assert await actions(db, user) == [("risk.user_kill_switch.engage", user), ("risk.user_kill_switch.clear", admin),
                                       ("risk.reduce_only.engage", user)]


async def test_global_kill_switch_is_persisted_and_survives_a_restart(engine, db):
    user = await make_user(db)
    await engine.kill_switch.set(active=True, flatten=False, reason="exchange outage", actor_id="admin-1")
    assert await place(engine, db, order(user)) == "kill_switch.global"
    # A process that starts now (or never got the NATS message) reads the persisted flag.
    restarted = RiskEngine(db, entitlements=StaticEntitlements(PRO))
    assert not restarted.kill_switch.current.active
    assert await place(restarted, db, order(user)) == "kill_switch.global"
    await restarted.kill_switch.start(None)
    assert restarted.kill_switch.current.active and restarted.kill_switch.current.reason == "exchange outage"
    # Without a flatten, even reduce-only orders stop; with one, they are the flatten.
    assert await place(restarted, db, order(user, reduce_only=True)) == "kill_switch.global"
    await engine.kill_switch.set(active=True, flatten=True, reason="flatten all", actor_id="admin-1")
    assert await place(engine, db, order(user, reduce_only=True)) is None
    await engine.kill_switch.set(active=False, flatten=False, reason="resolved", actor_id="admin-2")
    assert await place(engine, db, order(user)) is None
    audit = [a for a in await actions(db, prefix="risk.kill_switch.global") if a[1] in ("admin-1", "admin-2")]
    assert audit[-3:] == [("risk.kill_switch.global.engage", "admin-1"), ("risk.kill_switch.global.engage", "admin-1"),
                          ("risk.kill_switch.global.clear", "admin-2")]


async def test_kill_switch_listeners_hear_every_change(engine):
    heard = []

    async def listener(view):
        heard.append((view.active, view.flatten))

    engine.kill_switch.on_change(listener)
    await engine.kill_switch.set(active=True, flatten=True, reason="", actor_id="admin")
    await engine.kill_switch.set(active=False, flatten=True, reason="", actor_id="admin")
    await asyncio.sleep(0)
    assert heard == [(True, True), (False, False)]


@pytest.fixture(scope="module")
async def wide_db(database_url):
    """A database whose pool holds 50 connections on PostgreSQL, so all 50 transactions are
    open at once (SQLite serialises writers whatever the pool)."""
    database = Database(database_url)
    if not database.is_sqlite:
        await database.engine.dispose()
        database.engine = create_async_engine(database_url, pool_size=50, max_overflow=0)
    yield database
    await database.close()


@pytest.mark.parametrize("limit", ["positions", "trades"])
async def test_fifty_concurrent_orders_cannot_pass_a_limit(wide_db, limit):
    """50 real concurrent transactions of one user: the row lock makes check-then-count atomic."""
    db = wide_db
    engine = RiskEngine(db, entitlements=StaticEntitlements(FREE_LIMITS))  # 3 positions, 10 trades a day
    user = await make_user(db)
    request = order(user, opens_position=(limit == "positions"))
    start = asyncio.Event()

    async def one():
        await start.wait()
        return await place(engine, db, request)

    tasks = [asyncio.create_task(one()) for _ in range(50)]
    await asyncio.sleep(0.05)
    start.set()
    results = await asyncio.gather(*tasks)
    accepted = results.count(None)
    row = await usage(db, user)
    if limit == "positions":
        assert accepted == 3 and row.open_positions == 3
        assert set(results) == {None, "tier.max_positions"}
    else:
        assert accepted == 10 and row.trades_today == 10
        assert set(results) == {None, "tier.max_trades_per_day"}


async def test_fresh_database_has_the_switch_row(db):
    switch = GlobalKillSwitch(db)
    assert (await switch.load()).active in (False, True)
    async with db.transaction() as conn:
        assert (await switch.read_locked(conn)).changed_at >= 0


async def test_usage_can_be_synced_from_the_books(engine, db):
    user = await make_user(db, max_concurrent_positions=2)
    opening = order(user, opens_position=True)
    assert [await place(engine, db, opening) for _ in range(3)][-1] == "user.max_concurrent_positions"
    async with db.transaction() as conn:
        await engine.sync_usage(conn, user, open_positions=0, exposure_usd=D(0))
    row = await usage(db, user)
    assert (row.open_positions, row.exposure_usd, row.trades_today) == (0, D(0), 2)
    assert await place(engine, db, opening) is None
