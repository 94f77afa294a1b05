"""The order path on a real database with the real paper broker and replayed candles."""

from __future__ import annotations

import asyncio
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nija.core.clock import FakeClock
from nija.core.db import Database, migrate
from nija.core.plugins import BrokerContext
from nija.core.portfolio import FillModel
from nija.core.risk import RiskRejected
from nija.core.trading import (
    Account,
    AllowAll,
    EventRelay,
    IllegalTransition,
    OrderIntent,
    OrderManager,
    OrderState,
    ReplayFeed,
    check_transition,
    client_order_id,
)
from nija.core.trading._tables import events, fills, orders, paper_balances, positions
from nija.trading.v1 import trading_pb2
from nija_broker_paper import PaperBroker

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"


class RecordingBus:
    """An in-process EventBus: keeps what was published (NATS itself is exercised in e2e)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, str | None]] = []

    async def publish(self, subject: str, payload: bytes, *, event_id: str | None = None) -> None:
        self.published.append((subject, payload, event_id))

    async def publish_batch(self, events) -> None:
        for subject, payload, event_id in events:  # in order, through publish (SlowBus pauses there)
            await self.publish(subject, payload, event_id=event_id)


class RejectEverything:
    async def pre_trade(self, conn, request) -> None:
        raise RiskRejected("max_positions", "too many open positions")

    async def on_broker_result(self, user_id, bot_id, ok) -> None:
        return None


def _setup(db, risk=None, fill_model=None):
    feed = ReplayFeed(DATA)
    feed.now_ms = int(feed.series("ETH/BTC", "5m").times[10])
    clock = FakeClock(feed.now_ms)
    user = str(uuid.uuid4())
    broker = PaperBroker(BrokerContext(account_key=f"paper:{user}", clock=clock, market_data=feed,
                                       options={"balances": {"BTC": "10", "ETH": "10"}, "fill_model": fill_model}))
    bus = RecordingBus()
    manager = OrderManager(db, clock, risk or AllowAll(), EventRelay(db, bus, clock), resolve_delays=(0.01, 0.01))
    return feed, user, Account(f"paper:{user}", broker, paper=True), manager, bus


def _intent(user, bot, signal="s1", side="buy", amount="0.5", **kw):
    return OrderIntent(user_id=user, bot_id=bot, signal_id=signal, symbol="ETH/BTC", side=side, type=kw.pop("type", "market"),
                       amount=Decimal(amount), **kw)


async def _advance(feed, account, manager, steps=1):
    series = feed.series("ETH/BTC", "5m")
    for _ in range(steps):
        i = feed.index_at("ETH/BTC", "5m", feed.now_ms) + 1
        feed.now_ms = int(series.times[i])
        new = await account.broker.on_market_data("ETH/BTC", series.candle(i))
        await manager.ingest_fills(account, new)


def test_client_order_id_is_deterministic_and_fits_venues():
    a = client_order_id("bot-1", "ETH/BTC:5m:1:enter_long")
    assert a == client_order_id("bot-1", "ETH/BTC:5m:1:enter_long")
    assert a != client_order_id("bot-2", "ETH/BTC:5m:1:enter_long")
    assert len(a) <= 36 and a.replace("-", "").isalnum()


@pytest.mark.parametrize("current,target,ok", [
    ("new", "submitted", True), ("new", "filled", False), ("submitted", "accepted", True),
    ("accepted", "partially_filled", True), ("partially_filled", "filled", True), ("filled", "cancelled", False),
    ("cancelled", "accepted", False), ("rejected", "submitted", False), ("accepted", "submitted", False),
])
def test_state_machine(current, target, ok):
    if ok:
        check_transition(OrderState(current), OrderState(target))
    else:
        with pytest.raises(IllegalTransition):
            check_transition(OrderState(current), OrderState(target))


async def test_market_order_fills_on_next_candle_and_books_position_balance_and_events(db):
    feed, user, account, manager, bus = _setup(db)
    bot = str(uuid.uuid4())
    order = await manager.submit(_intent(user, bot), account)
    assert order["state"] == "accepted" and order["filled"] == 0
    await _advance(feed, account, manager)
    final = await manager.get(order["client_order_id"])
    assert final["state"] == "filled" and final["filled"] == Decimal("0.5")
    next_open = feed.series("ETH/BTC", "5m").candle(11).open
    assert final["average_price"] > next_open  # slippage makes a buy worse than the open
    async with db.transaction() as conn:
        pos = (await conn.execute(select(positions).where(positions.c.bot_id == bot))).one()
        bal = dict((await conn.execute(select(paper_balances.c.asset, paper_balances.c.total)
                                        .where(paper_balances.c.account_key == account.key))).all())
        outbox = (await conn.execute(select(events.c.kind, events.c.id).where(events.c.user_id == user)
                                     .order_by(events.c.seq))).all()
    kinds = [r.kind for r in outbox]
    assert pos.quantity == Decimal("0.5") and pos.average_entry == final["average_price"]
    assert bal["ETH"] == Decimal("0.5")  # no starting rows here: the engine writes those
    assert bal["BTC"] == -(Decimal("0.5") * final["average_price"]) - final["fee"]
    assert kinds == ["orders", "orders", "fills", "positions", "orders"]
    await manager.relay.drain()  # published in the background after each commit
    # Every event once, each subject's in commit order (units posted while the order path ran
    # may go out as one batch, its subjects concurrently: EventRelay).
    for kind in set(kinds):
        assert [eid for s, _, eid in bus.published if s == f"nija.user.{user}.{kind}"] == \
            [r.id for r in outbox if r.kind == kind]
    assert len({eid for _, _, eid in bus.published}) == len(bus.published) == len(outbox)
    last = trading_pb2.TradingEvent.FromString([p for s, p, _ in bus.published if s.endswith(".orders")][-1])
    assert last.order.state == "filled" and last.order.client_order_id == order["client_order_id"]


async def test_a_retried_signal_never_places_twice(db):
    feed, user, account, manager, _ = _setup(db)
    bot = str(uuid.uuid4())
    first = await manager.submit(_intent(user, bot, signal="same"), account)
    again = await manager.submit(_intent(user, bot, signal="same"), account)
    assert again["id"] == first["id"]
    assert len(await account.broker.fetch_open_orders()) == 1
    async with db.transaction() as conn:
        n = (await conn.execute(select(func.count()).select_from(orders).where(orders.c.bot_id == bot))).scalar()
    assert n == 1


async def test_fills_are_recorded_once(db):
    feed, user, account, manager, _ = _setup(db)
    bot = str(uuid.uuid4())
    order = await manager.submit(_intent(user, bot), account)
    await _advance(feed, account, manager)
    venue_fills = await account.broker.fetch_fills("ETH/BTC", 0)
    assert await manager.ingest_fills(account, venue_fills) == 0  # replay of the same fills
    venue = await account.broker.fetch_order("ETH/BTC", client_order_id=order["client_order_id"])
    await manager.apply(await manager.get(order["client_order_id"]), account, venue)
    async with db.transaction() as conn:
        n = (await conn.execute(select(func.count()).select_from(fills).where(fills.c.bot_id == bot))).scalar()
        pos = (await conn.execute(select(positions.c.quantity).where(positions.c.bot_id == bot))).scalar()
    assert n == 1 and pos == Decimal("0.5")


async def test_round_trip_realises_pnl_and_fees(db):
    feed, user, account, manager, _ = _setup(db)
    bot = str(uuid.uuid4())
    buy = await manager.submit(_intent(user, bot, signal="in"), account)
    await _advance(feed, account, manager)
    sell = await manager.submit(_intent(user, bot, signal="out", side="sell", reduce_only=True), account)
    await _advance(feed, account, manager)
    buy, sell = await manager.get(buy["client_order_id"]), await manager.get(sell["client_order_id"])
    assert sell["state"] == "filled"
    async with db.transaction() as conn:
        pos = (await conn.execute(select(positions).where(positions.c.bot_id == bot))).one()
    assert pos.quantity == 0
    assert pos.realized_pnl == (sell["average_price"] - buy["average_price"]) * Decimal("0.5")
    assert pos.fees == buy["fee"] + sell["fee"] and pos.fees > 0


async def test_risk_rejection_is_recorded_with_the_rule_and_never_reaches_the_broker(db):
    feed, user, account, manager, bus = _setup(db, risk=RejectEverything())
    bot = str(uuid.uuid4())
    with pytest.raises(RiskRejected) as info:
        await manager.submit(_intent(user, bot), account)
    assert info.value.rule == "max_positions"
    order = await manager.get(client_order_id(bot, "s1"))
    assert order["state"] == "rejected" and order["reason"].startswith("max_positions")
    assert await account.broker.fetch_open_orders() == []
    await manager.relay.drain()
    assert trading_pb2.TradingEvent.FromString(bus.published[-1][1]).order.state == "rejected"


class FailsAfterPlacing(PaperBroker):
    """An in-process venue that takes the order and then fails: the order's transaction rolls back."""

    async def place_order(self, spec):
        await super().place_order(spec)
        raise RuntimeError("plugin bug after placing")


async def test_in_process_submit_is_one_transaction_and_a_rollback_takes_the_order_back_out_of_the_venue(db):
    feed, user, account, manager, bus = _setup(db)
    bot = str(uuid.uuid4())
    failing = Account(account.key, FailsAfterPlacing(account.broker.context), paper=True)
    with pytest.raises(RuntimeError):
        await manager.submit(_intent(user, bot), failing)
    assert await manager.get(client_order_id(bot, "s1")) is None  # nothing committed
    assert await failing.broker.fetch_open_orders() == []  # and the venue forgot it
    await _advance(feed, failing, manager)
    assert failing.broker.balances == account.broker.balances  # nothing filled
    # The replayed signal (same client order id) is placed normally afterwards, once.
    order = await manager.submit(_intent(user, bot), account)
    assert order["state"] == "accepted" and order["venue_order_id"] == f"paper-{order['client_order_id']}"
    again = await manager.submit(_intent(user, bot), account)
    assert again["id"] == order["id"] and len(await account.broker.fetch_open_orders()) == 1


async def test_broker_refusal_rejects_the_order(db):
    feed, user, account, manager, _ = _setup(db)
    order = await manager.submit(_intent(user, str(uuid.uuid4()), amount="1000"), account)
    assert order["state"] == "rejected" and "insufficient" in order["reason"]


async def test_a_submitted_order_after_a_crash_is_settled_by_client_order_id(db):
    """The write-ahead row exists, the process died before or after sending: resolve() asks the
    venue by client order id and never sends again."""
    feed, user, account, manager, _ = _setup(db)
    bot = str(uuid.uuid4())
    sent = await manager.submit(_intent(user, bot, signal="sent"), account)
    # Simulate "crashed after the venue took it, before the answer was recorded".
    async with db.transaction() as conn:
        await conn.execute(orders.update().where(orders.c.id == sent["id"]).values(state="submitted"))
    # And "crashed before sending": a submitted row the venue never saw.
    ghost = _intent(user, bot, signal="ghost")
    order, _ = await manager._write_ahead(ghost, account, client_order_id(bot, "ghost"))
    settled = await manager.resolve(await manager.get(sent["client_order_id"]), account)
    assert settled["state"] == "accepted"
    expired = await manager.resolve(order, account)
    assert expired["state"] == "expired" and expired["reason"] == "never reached the venue"
    assert len(await account.broker.fetch_open_orders()) == 1


async def test_limit_order_partial_fills(db):
    # A resting order may take 0.1% of each candle's volume: 9 ETH needs several candles.
    feed, user, account, manager, _ = _setup(db, fill_model=FillModel(participation=Decimal("0.001")))
    series = feed.series("ETH/BTC", "5m")
    # A limit below the market that later candles trade through, big relative to their volume.
    low = min(series.candle(i).low for i in range(11, 40))
    price = (low + series.candle(10).close) / 2
    order = await manager.submit(_intent(user, str(uuid.uuid4()), type="limit", price=price.quantize(Decimal("1e-8")),
                                         amount="9"), account)
    states = []
    for _ in range(40):
        await _advance(feed, account, manager)
        states.append((await manager.get(order["client_order_id"]))["state"])
        if states[-1] == "filled":
            break
    assert "partially_filled" in states  # capped by the candles' volume, filled over several


async def test_reduce_only_never_flips_or_opens_a_position(db):
    feed, user, account, manager, _ = _setup(db)
    bot = str(uuid.uuid4())
    flat = await manager.submit(_intent(user, bot, signal="a", side="sell", reduce_only=True), account)
    assert flat["state"] == "rejected" and "reduce-only" in flat["reason"]
    await manager.submit(_intent(user, bot, signal="b"), account)
    await _advance(feed, account, manager)
    too_much = await manager.submit(_intent(user, bot, signal="c", side="sell", amount="0.6", reduce_only=True), account)
    assert too_much["state"] == "rejected" and await account.broker.fetch_open_orders() == []


class SlowBus(RecordingBus):
    """Acks after a pause, like a remote JetStream: a backlog builds while the order path runs."""

    async def publish(self, subject: str, payload: bytes, *, event_id: str | None = None) -> None:
        await asyncio.sleep(0.002)
        await super().publish(subject, payload, event_id=event_id)


async def test_background_publishing_keeps_commit_order_per_subject_and_drain_waits_for_it(db):
    feed, user, account, manager, _ = _setup(db)
    bus = SlowBus()
    manager.relay.bus = bus
    bot = str(uuid.uuid4())
    for n in range(4):  # buy, fill, sell, fill: 4 units in a row without waiting for acks
        side = "buy" if n % 2 == 0 else "sell"
        await manager.submit(_intent(user, bot, signal=f"s{n}", side=side, reduce_only=side == "sell"), account)
        await _advance(feed, account, manager)
    await manager.relay.drain()
    async with db.transaction() as conn:
        outbox = [(r.subject, r.id) for r in (await conn.execute(
            select(events.c.subject, events.c.id).where(events.c.user_id == user).order_by(events.c.seq))).all()]
    published = [(s, eid) for s, _, eid in bus.published]
    assert sorted(published) == sorted(outbox)  # every committed event, once
    for subject in {s for s, _ in outbox}:
        assert [e for s, e in published if s == subject] == [e for s, e in outbox if s == subject]


# ------------------------------------------------------------------ several writers at once
WRITERS = 3
USERS_PER_WRITER = 2
BOTS_PER_USER = 4
SIGNALS_PER_BOT = 2
USD = {"BTC": Decimal(10_000)}  # 1 BTC of paper equity is 10,000 USD; 0.5 ETH ~ 480 USD (4.8%)


async def test_concurrent_orders_of_several_writers_are_accepted_or_rejected_by_a_rule_never_locked(database_url):
    """Several writers (one Database each, as separate processes would have) place orders of
    different users and bots at once through the real OrderManager and RiskEngine, then book
    the fills at once. Every order is accepted or rejected by a named risk rule; none fails
    because another writer held the database (SQLite: "database is locked" when a transaction
    that read first tries to write after another writer committed)."""
    from nija.core.entitlements import FREE_LIMITS, StaticEntitlements
    from nija.core.risk import RiskEngine
    from nija.core.risk._tables import risk_user_state
    from risk_support import make_user

    feed = ReplayFeed(DATA)
    feed.now_ms = int(feed.series("ETH/BTC", "5m").times[10])
    clock = FakeClock(feed.now_ms)
    price = feed.series("ETH/BTC", "5m").candle(10).close  # what the engine passes as reference
    dbs = [Database(database_url) for _ in range(WRITERS)]
    try:
        writers = []  # (manager, [(user, account)])
        for db in dbs:
            risk = RiskEngine(db, entitlements=StaticEntitlements(FREE_LIMITS), clock=clock)  # 3 positions a user
            manager = OrderManager(db, clock, risk, EventRelay(db, RecordingBus(), clock), usd_price=USD.get,
                                   resolve_delays=(0.01, 0.01))
            accounts = []
            for _ in range(USERS_PER_WRITER):
                user = await make_user(db)
                key = f"paper:{user}"
                broker = PaperBroker(BrokerContext(account_key=key, clock=clock, market_data=feed,
                                                   options={"balances": {"BTC": "1"}}))
                async with db.transaction() as conn:
                    await conn.execute(paper_balances.insert().values(account_key=key, asset="BTC", total=Decimal(1),
                                                                      updated_at=0))
                accounts.append((user, Account(key, broker, paper=True)))
            writers.append((manager, accounts))

        start = asyncio.Event()

        async def place(manager, user, account, bot, signal):
            await start.wait()
            try:
                order = await manager.submit(_intent(user, bot, signal=signal, reference_price=price), account)
            except RiskRejected as rejected:
                return user, "rejected", rejected.rule
            return user, order["state"], order["reason"]

        tasks = [asyncio.create_task(place(manager, user, account, f"{user[:8]}-bot{b}", f"s{s}"))
                 for manager, accounts in writers for user, account in accounts
                 for b in range(BOTS_PER_USER) for s in range(SIGNALS_PER_BOT)]
        await asyncio.sleep(0.05)
        start.set()
        # No return_exceptions: an OperationalError ("database is locked") or Unavailable fails here.
        results = await asyncio.gather(*tasks)

        per_user = BOTS_PER_USER * SIGNALS_PER_BOT
        for user in {u for u, _, _ in results}:
            mine = [(state, why) for u, state, why in results if u == user]
            assert len(mine) == per_user
            # Every order opens a position (no bot holds one yet): the plan's 3 pass, the rest
            # are refused by the rule, each by name.
            assert [s for s, _ in mine].count("accepted") == FREE_LIMITS.max_positions
            assert sorted({(s, w) for s, w in mine if s != "accepted"}) == [("rejected", "tier.max_positions")]

        # The fills of every account booked at once by the writers (positions, balances, P&L).
        i = feed.index_at("ETH/BTC", "5m", feed.now_ms) + 1
        feed.now_ms = int(feed.series("ETH/BTC", "5m").times[i])
        candle = feed.series("ETH/BTC", "5m").candle(i)

        async def book(manager, account):
            return await manager.ingest_fills(account, await account.broker.on_market_data("ETH/BTC", candle))

        booked = await asyncio.gather(*(book(manager, account) for manager, accounts in writers
                                        for _, account in accounts))
        assert booked == [FREE_LIMITS.max_positions] * (WRITERS * USERS_PER_WRITER)
        users = [user for _, accounts in writers for user, _ in accounts]
        async with dbs[0].transaction() as conn:
            held = dict((await conn.execute(
                select(positions.c.user_id, func.sum(positions.c.quantity)).where(positions.c.user_id.in_(users))
                .group_by(positions.c.user_id))).all())
            counted = dict((await conn.execute(select(risk_user_state.c.user_id, risk_user_state.c.open_positions)
                                               .where(risk_user_state.c.user_id.in_(users)))).all())
        assert held == {u: Decimal("0.5") * FREE_LIMITS.max_positions for u in users}
        assert counted == {u: FREE_LIMITS.max_positions for u in users}
        for manager, _ in writers:
            await manager.relay.drain()
    finally:
        for db in dbs:
            await db.close()


async def test_fills_of_one_bot_booked_by_several_writers_at_once_all_count(database_url):
    """Several writers (say the engine's tick and reconciliations in other processes) book
    fills of one bot at the same moment: the position, the paper balances and the fill rows
    reflect every one (each booking reads the position it then writes)."""
    from nija.core.entitlements import StaticEntitlements
    from nija.core.risk import RiskEngine
    from risk_support import PRO, make_user

    feed = ReplayFeed(DATA)
    feed.now_ms = int(feed.series("ETH/BTC", "5m").times[10])
    clock = FakeClock(feed.now_ms)
    price = feed.series("ETH/BTC", "5m").candle(10).close
    dbs = [Database(database_url) for _ in range(WRITERS + 1)]
    try:
        managers = [OrderManager(db, clock, RiskEngine(db, entitlements=StaticEntitlements(PRO), clock=clock),
                                 EventRelay(db, None, clock), usd_price=USD.get) for db in dbs]
        user = await make_user(dbs[0])
        key = f"paper:{user}"
        venue = PaperBroker(BrokerContext(account_key=key, clock=clock, market_data=feed,
                                          options={"balances": {"BTC": "1"}}))
        account = Account(key, venue, paper=True)  # one venue account, seen by both writers
        async with dbs[0].transaction() as conn:
            await conn.execute(paper_balances.insert().values(account_key=key, asset="BTC", total=Decimal(1),
                                                              updated_at=0))
        bot = str(uuid.uuid4())
        series = feed.series("ETH/BTC", "5m")

        async def next_candle():
            i = feed.index_at("ETH/BTC", "5m", feed.now_ms) + 1
            feed.now_ms = int(series.times[i])
            return await venue.on_market_data("ETH/BTC", series.candle(i))

        await managers[0].submit(_intent(user, bot, signal="first", reference_price=price), account)
        assert await managers[0].ingest_fills(account, await next_candle()) == 1  # the position row exists
        for n in range(len(managers)):
            await managers[0].submit(_intent(user, bot, signal=f"more{n}", amount="0.25", reference_price=price),
                                     account)
        more = await next_candle()
        assert len(more) == len(managers)
        for manager in managers:  # every writer connected before the race
            assert await manager.get(client_order_id(bot, "first"))
        booked = await asyncio.gather(*(manager.ingest_fills(account, [f]) for manager, f in zip(managers, more)))
        assert booked == [1] * len(managers)
        async with dbs[0].transaction() as conn:
            rows = (await conn.execute(select(fills.c.amount, fills.c.price, fills.c.fee_quote)
                                       .where(fills.c.bot_id == bot))).all()
            held = (await conn.execute(select(positions.c.quantity).where(positions.c.bot_id == bot))).scalar_one()
            btc = (await conn.execute(select(paper_balances.c.total).where(
                paper_balances.c.account_key == key, paper_balances.c.asset == "BTC"))).scalar_one()
            eth = (await conn.execute(select(paper_balances.c.total).where(
                paper_balances.c.account_key == key, paper_balances.c.asset == "ETH"))).scalar_one()
        total = Decimal("0.5") + Decimal("0.25") * len(managers)
        assert len(rows) == 1 + len(managers)
        assert held == total and eth == total
        assert btc == 1 - sum((a * p + q for a, p, q in rows), Decimal(0))
    finally:
        for db in dbs:
            await db.close()


@pytest.mark.skipif(not os.environ.get("NIJA_TEST_DATABASE_URL"), reason="PostgreSQL only (NIJA_TEST_DATABASE_URL)")
async def test_the_write_ahead_decides_on_the_position_a_concurrent_booking_leaves():
    """PostgreSQL: another process booking a fill of the bot (its position row locked, not yet
    committed) makes the write-ahead wait for it, so reduce-only and risk decide on the position
    that fill leaves, never on the one before it. (On SQLite a write unit holds the database
    lock: no other writer runs meanwhile, which tests/core/db checks.)"""
    from sqlalchemy import text, update

    database_url = os.environ["NIJA_TEST_DATABASE_URL"]
    await migrate(database_url)
    db, other = Database(database_url), Database(database_url)
    try:
        feed, user, account, manager, _ = _setup(db)
        bot = str(uuid.uuid4())
        await manager.submit(_intent(user, bot, signal="open"), account)
        await _advance(feed, account, manager)  # the bot holds 0.5 ETH
        async with other.engine.connect() as booking:  # the other process's booking, in progress
            await booking.execute(select(positions.c.quantity).where(positions.c.bot_id == bot).with_for_update())
            await booking.execute(update(positions).where(positions.c.bot_id == bot).values(quantity=Decimal(0)))
            submit = asyncio.ensure_future(
                manager.submit(_intent(user, bot, signal="close", side="sell", reduce_only=True), account))

            async def waiting_or_done() -> bool:
                if submit.done():
                    return True
                async with other.transaction() as conn:
                    return bool((await conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"))).scalar())

            for _ in range(1000):  # until the write-ahead waits on the row (or finished without)
                if await waiting_or_done():
                    break
                await asyncio.sleep(0.01)
            await booking.commit()  # the position is flat now
        order = await submit
        assert order["state"] == "rejected" and "reduce-only" in order["reason"]
        assert await account.broker.fetch_open_orders() == []
    finally:
        await db.close()
        await other.close()
