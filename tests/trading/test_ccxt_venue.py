"""The ccxt broker (real ``ccxt.async_support.binance``) against the Binance venue simulator:
place, cancel, fetch; accept-then-timeout and dropped answers leave exactly one order; 429 backs
off without a ban; 5xx on reads is retried; a venue restart; key permissions; the order path
end to end on a real database."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from nija.core.clock import SystemClock
from nija.core.db import Database
from nija.core.plugins import BrokerContext, BrokerNeedsOperator, BrokerOrderNotFound, OrderSpec
from nija.core.trading import Account, AllowAll, EventRelay, OrderIntent, OrderManager
from nija.core.trading._tables import fills
from nija_broker_ccxt import CcxtBroker
from venue.binance_sim import VenueSim

KEY, SECRET = "sim-key-" + uuid.uuid4().hex[:8], "sim-secret-" + uuid.uuid4().hex


@pytest.fixture
async def sim():
    venue = VenueSim(api_key=KEY, secret=SECRET, prices={"ETHBTC": Decimal("0.1")},
                     balances={"BTC": Decimal(5), "ETH": Decimal(20)}, markets={"ETHBTC": ("ETH", "BTC")})
    await venue.start()
    yield venue
    await venue.stop()


def _broker(sim, secret=SECRET, key=None) -> CcxtBroker:
    return CcxtBroker(BrokerContext(
        account_key=f"ccxt:{uuid.uuid4().hex[:8]}", clock=SystemClock(),
        credentials={"api_key": key or KEY, "secret": secret},
        options={"exchange": "binance", "base_url": sim.url, "timeout_ms": 1500, "retry_delays": (0.05, 0.1, 0.2)}))


@pytest.fixture
async def broker(sim):
    b = _broker(sim)
    yield b
    await b.close()


def _cid() -> str:
    return "nj-" + uuid.uuid4().hex


async def test_markets_come_from_exchange_info_only(sim, broker):
    markets = await broker.load_markets()
    assert markets["ETH/BTC"].amount_increment == Decimal("0.0001")
    assert {path for _, path, _ in sim.requests} == {"/api/v3/exchangeInfo"}


async def test_place_fetch_cancel(sim, broker):
    cid = _cid()
    placed = await broker.place_order(OrderSpec(cid, "ETH/BTC", "buy", "limit", Decimal("1"), price=Decimal("0.09")))
    assert placed.status == "open" and placed.client_order_id == cid
    fetched = await broker.fetch_order("ETH/BTC", client_order_id=cid)
    assert fetched.order_id == placed.order_id and fetched.amount == Decimal(1)
    assert [o.client_order_id for o in await broker.fetch_open_orders("ETH/BTC")] == [cid]
    cancelled = await broker.cancel_order("ETH/BTC", client_order_id=cid)
    assert cancelled.status == "canceled"
    again = await broker.cancel_order("ETH/BTC", client_order_id=cid)  # already final: no error
    assert again.status == "canceled"
    market = await broker.place_order(OrderSpec(_cid(), "ETH/BTC", "buy", "market", Decimal("0.5")))
    assert market.status == "closed" and market.filled == Decimal("0.5") and market.fills
    with pytest.raises(BrokerOrderNotFound):
        await broker.fetch_order("ETH/BTC", client_order_id="nj-unknown")


async def test_bad_keys_and_withdraw_permission(sim, broker):
    assert (await broker.check_credentials())["can_withdraw"] is False
    sim.can_withdraw = True
    assert (await broker.check_credentials())["can_withdraw"] is True
    wrong = _broker(sim, secret="not-the-secret")
    with pytest.raises(BrokerNeedsOperator) as info:
        await wrong.fetch_balance()
    assert "not-the-secret" not in info.value.message and SECRET not in info.value.message
    await wrong.close()


async def test_reads_retry_on_5xx_and_survive_a_venue_restart(sim, broker):
    sim.inject("GET", "/api/v3/account", "500", times=2)
    balances = await broker.fetch_balance()
    assert balances["BTC"][0] == Decimal(5)
    await sim.restart()
    assert (await broker.fetch_balance())["ETH"][0] == Decimal(20)


@pytest.fixture
async def manager(database_url):
    db = Database(database_url)
    clock = SystemClock()
    yield OrderManager(db, clock, AllowAll(), EventRelay(db, None, clock), resolve_delays=(0.2, 0.5, 1.0))
    await db.close()


def _intent(bot: str, signal: str) -> OrderIntent:
    return OrderIntent(user_id=str(uuid.uuid4()), bot_id=bot, signal_id=signal, symbol="ETH/BTC", side="buy",
                       type="market", amount=Decimal("0.3"), reference_price=Decimal("0.1"))


@pytest.mark.parametrize("fault", ["accept_then_timeout", "drop"])
async def test_unknown_submit_outcome_is_resolved_by_client_order_id(sim, broker, manager, fault):
    account = Account(broker.context.account_key, broker, paper=False, exchange="binance")
    await broker.load_markets()
    sim.inject("POST", "/api/v3/order", fault)
    bot = str(uuid.uuid4())
    order = await manager.submit(_intent(bot, "s"), account)
    assert order["state"] == "filled" and order["filled"] == Decimal("0.3")
    on_venue = [o for o in sim.orders.values() if o.client_order_id == order["client_order_id"]]
    assert len(on_venue) == 1, "exactly one order on the venue"
    posts = [m for m, p, _ in sim.requests if p == "/api/v3/order" and m == "POST"]
    assert len(posts) == 1, "never sent twice"
    # The same signal again (a retry, a restart): still one order.
    again = await manager.submit(_intent(bot, "s"), account)
    assert again["id"] == order["id"] and len([m for m, p, _ in sim.requests if p == "/api/v3/order" and m == "POST"]) == 1
    async with manager.db.transaction() as conn:
        booked = (await conn.execute(select(fills.c.venue_fill_id).where(fills.c.order_id == order["id"]))).all()
    assert len(booked) == 1


async def test_429_backs_off_and_is_never_banned(sim, broker, manager):
    account = Account(broker.context.account_key, broker, paper=False, exchange="binance")
    await broker.load_markets()
    sim.inject("POST", "/api/v3/order", "429")
    order = await manager.submit(_intent(str(uuid.uuid4()), "s"), account)
    assert order["state"] == "filled"
    assert sim.bans == 0, "no request inside the Retry-After window"
    assert len([o for o in sim.orders.values() if o.client_order_id == order["client_order_id"]]) == 1


async def test_two_bots_on_one_key_share_the_account_but_keep_separate_books(sim, broker, manager):
    from nija.core.trading._tables import positions

    account = Account(broker.context.account_key, broker, paper=False, exchange="binance")
    await broker.load_markets()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await manager.submit(_intent(a, "x"), account)
    await manager.submit(_intent(b, "x"), account)
    await manager.submit(OrderIntent(user_id="u", bot_id=b, signal_id="y", symbol="ETH/BTC", side="buy", type="market",
                                     amount=Decimal("0.2"), reference_price=Decimal("0.1")), account)
    async with manager.db.transaction() as conn:
        rows = {r.bot_id: r.quantity for r in (await conn.execute(select(positions).where(positions.c.bot_id.in_([a, b])))).all()}
    assert rows == {a: Decimal("0.3"), b: Decimal("0.5")}
