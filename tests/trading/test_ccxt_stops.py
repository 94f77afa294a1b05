"""Venue-side stop-losses through the ccxt broker (real ``ccxt.async_support.binance``) against
the Binance venue simulator: STOP_LOSS_LIMIT placed, listed, cancelled and triggered with
signed requests; a live bot's open position gets its stop on the venue, verified and re-placed
after a restart when the venue lost it, and the triggered stop's fill is booked once."""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from nija.core.clock import FakeClock, SystemClock
from nija.core.db import Database
from nija.core.plugins import BrokerBadRequest, BrokerContext, BrokerNeedsOperator, OrderSpec
from nija.core.trading import AllowAll, EventRelay, OrderManager
from nija.core.trading._credentials import CredentialVault, MasterKeys
from nija.core.trading._engine import TradingEngine
from nija.core.trading._livefeed import LiveFeed
from nija.core.trading._tables import fills, orders, positions
from nija_broker_ccxt import CcxtBroker
from venue.ccxt_support import MINUTE, T0, advance, make_sim, plugins, until, validate_keys


def _keys() -> tuple[str, str]:
    return "sim-key-" + uuid.uuid4().hex[:12], "sim-secret-" + uuid.uuid4().hex


@pytest.fixture
async def sim():
    key, secret = _keys()
    venue = make_sim(key=key, secret=secret)
    await venue.start()
    yield venue
    await venue.stop()


def _broker(sim, secret: str | None = None) -> CcxtBroker:
    return CcxtBroker(BrokerContext(
        account_key=f"ccxt:{uuid.uuid4().hex[:8]}", clock=SystemClock(),
        credentials={"api_key": sim.api_key, "secret": secret or sim.secret},
        options={"exchange": "binance", "base_url": sim.url, "timeout_ms": 1500, "retry_delays": (0.05, 0.1)}))


def _cid() -> str:
    return "nj-" + uuid.uuid4().hex


async def test_binance_stop_orders_rest_list_cancel_and_trigger(sim):
    broker = _broker(sim)
    assert broker.capabilities["venue_stops"] is True and "stop_loss" in broker.capabilities["order_types"]
    await broker.place_order(OrderSpec(_cid(), "ETH/BTC", "buy", "market", Decimal("2")))

    # stop_loss → STOP_LOSS_LIMIT, limit 50 bps under the stop, rounded down to the tick
    first = _cid()
    placed = await broker.place_order(OrderSpec(first, "ETH/BTC", "sell", "stop_loss", Decimal("1"),
                                                stop_price=Decimal("0.0953")))
    assert placed.status == "open" and placed.filled == 0
    on_venue = next(o for o in sim.orders.values() if o.client_order_id == first)
    assert (on_venue.type, on_venue.stop_price, on_venue.price) == ("STOP_LOSS_LIMIT", Decimal("0.0953"),
                                                                    Decimal("0.094823"))
    assert [o.client_order_id for o in await broker.fetch_open_orders("ETH/BTC")] == [first]
    assert (await broker.cancel_order("ETH/BTC", client_order_id=first)).status == "canceled"
    assert await broker.fetch_open_orders("ETH/BTC") == []

    # stop_limit with its own limit price; a price drop through the stop triggers it and fills it
    second = _cid()
    await broker.place_order(OrderSpec(second, "ETH/BTC", "sell", "stop_limit", Decimal("1"), price=Decimal("0.094"),
                                       stop_price=Decimal("0.095")))
    await sim.set_price("ETHBTC", Decimal("0.0951"))  # above the stop: nothing happens
    assert (await broker.fetch_order("ETH/BTC", client_order_id=second)).status == "open"
    await sim.set_price("ETHBTC", Decimal("0.0949"))
    done = await broker.fetch_order("ETH/BTC", client_order_id=second)
    assert done.status == "closed" and done.filled == Decimal(1)
    trades = [f for f in await broker.fetch_fills("ETH/BTC", 0) if f.order_id == done.order_id]
    assert len(trades) == 1 and trades[0].price >= Decimal("0.094")

    # refused: a stop that would trigger at once; a stop without a price; a bad signature
    with pytest.raises(BrokerBadRequest, match="trigger immediately"):
        await broker.place_order(OrderSpec(_cid(), "ETH/BTC", "sell", "stop_loss", Decimal("0.5"),
                                           stop_price=Decimal("0.096")))
    with pytest.raises(BrokerBadRequest, match="stop price"):
        await broker.place_order(OrderSpec(_cid(), "ETH/BTC", "sell", "stop_loss", Decimal("0.5")))
    wrong = _broker(sim, secret="not-the-secret")
    with pytest.raises(BrokerNeedsOperator):
        await wrong.place_order(OrderSpec(_cid(), "ETH/BTC", "sell", "stop_loss", Decimal("0.5"),
                                          stop_price=Decimal("0.09")))
    assert len([o for o in sim.orders.values() if o.type == "STOP_LOSS_LIMIT"]) == 2
    await wrong.close()
    await broker.close()


def _stops_on_venue(sim) -> list:
    return [o for o in sim.orders.values() if o.type == "STOP_LOSS_LIMIT" and o.status in ("NEW", "PARTIALLY_FILLED")]


async def _rows(db, bot_id: str, table=orders) -> list:
    async with db.transaction() as conn:
        if table is orders:
            q = select(orders).where(orders.c.bot_id == bot_id).order_by(orders.c.created_at)
        else:
            q = select(fills).where(fills.c.bot_id == bot_id)
        return [dict(r._mapping) for r in (await conn.execute(q)).all()]


async def test_live_position_stop_lives_on_the_venue_survives_restart_and_fills_once(
        database_url, sim, engines, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("NIJA_CCXT_BASE_URLS", json.dumps({"binance": sim.url}))  # the broker's venue
    db = Database(database_url)
    engine_clock, feed_clock = SystemClock(), FakeClock(T0 + 60 * MINUTE + 1_000)
    keys = MasterKeys.load(tmp_path)
    lines: list[str] = []

    def note(text: str) -> None:
        lines.append(text)
        print(f"[stop-restart] {text}")

    def engine() -> TradingEngine:
        feed = LiveFeed("binance", base_url=sim.url, clock=feed_clock, poll_s=0.02, history=50, retry_delays=(0.05,))
        manager = OrderManager(db, engine_clock, AllowAll(), EventRelay(db, None, engine_clock), usd_price=feed.usd_price,
                               resolve_delays=(0.05, 0.1))
        e = TradingEngine(db, engine_clock, plugins(), manager, feed, CredentialVault(db, engine_clock, keys, validate_keys))
        e.live_sync_ms = 0  # refresh resting venue orders on every tick
        engines.append(e)
        return e

    first = engine()
    user = str(uuid.uuid4())
    conn_view = await first.vault.add(user, broker="ccxt", exchange="binance", api_key=sim.api_key, secret=sim.secret)
    bot = await first.start_bot(user_id=user, strategy="test_jump", params={}, markets=["ETH/BTC"], timeframe="1m",
                                paper=False, connection_id=conn_view.id)
    await first.step()
    jump = await advance(sim, "0.105", first.feed.clock)
    await until(lambda: first.feed.next_time([("ETH/BTC", "1m")]) == jump, "the jump candle")
    assert await first.step()
    async with db.transaction() as conn:
        pos = (await conn.execute(select(positions).where(positions.c.bot_id == bot["id"]))).one()
    stops = _stops_on_venue(sim)
    assert pos.quantity > 0 and len(stops) == 1
    stop = stops[0]
    assert stop.side == "SELL" and stop.qty == pos.quantity and stop.stop_price == Decimal("0.10185")
    ours = [o for o in await _rows(db, bot["id"]) if o["type"] == "stop_loss"]
    assert [(o["state"], o["venue_order_id"], o["client_order_id"]) for o in ours] == \
        [("accepted", str(stop.order_id), stop.client_order_id)]
    note(f"bought {pos.quantity} ETH at {pos.average_entry}; stop {stop.client_order_id} on the venue "
         f"(STOP_LOSS_LIMIT stop {stop.stop_price} limit {stop.price})")
    await first.close()

    # While NIJA is down the venue loses the stop.
    del sim.orders[stop.order_id]
    note("engine stopped; the venue lost the stop")
    second = engine()
    await second.resume()
    assert bot["id"] in second.running()
    replaced = _stops_on_venue(sim)
    assert len(replaced) == 1 and replaced[0].client_order_id != stop.client_order_id
    assert (replaced[0].stop_price, replaced[0].qty) == (stop.stop_price, stop.qty)
    states = [(o["client_order_id"], o["state"]) for o in await _rows(db, bot["id"]) if o["type"] == "stop_loss"]
    assert states == [(stop.client_order_id, "expired"), (replaced[0].client_order_id, "accepted")]
    note(f"restart: reconciliation expired {stop.client_order_id} (venue: not found); "
         f"re-placed as {replaced[0].client_order_id} at stop {replaced[0].stop_price}")
    await second.close()

    # A restart with the stop in place verifies it and places nothing.
    posts = len([1 for m, p, _ in sim.requests if (m, p) == ("POST", "/api/v3/order")])
    third = engine()
    await third.resume()
    assert [o.client_order_id for o in _stops_on_venue(sim)] == [replaced[0].client_order_id]
    assert len([1 for m, p, _ in sim.requests if (m, p) == ("POST", "/api/v3/order")]) == posts
    note("restart with the stop present: verified, nothing sent")

    # The market drops through the stop: the venue fills it; the next tick books the fill once.
    drop = await advance(sim, "0.1015", third.feed.clock)
    await until(lambda: third.feed.next_time([("ETH/BTC", "1m")]) == drop, "the drop candle")
    await third.step()
    await third.step()
    account = next(iter(third._accounts.values()))
    report = await third.reconciler.reconcile(account)  # and once more: nothing new
    booked = [f for f in await _rows(db, bot["id"], fills) if f["order_id"] in
              {o["id"] for o in await _rows(db, bot["id"]) if o["type"] == "stop_loss"}]
    venue_trades = [t for t in sim.trades if t["orderId"] == replaced[0].order_id]
    assert len(venue_trades) == 1 and len(booked) == 1 and report.fills_replayed == 0
    assert booked[0]["venue_fill_id"] == str(venue_trades[0]["id"])
    async with db.transaction() as conn:
        after = (await conn.execute(select(positions).where(positions.c.bot_id == bot["id"]))).one()
    assert after.quantity == 0
    stop_row = [o for o in await _rows(db, bot["id"]) if o["type"] == "stop_loss"][-1]
    assert stop_row["state"] == "filled" and stop_row["filled"] == stop.qty
    assert _stops_on_venue(sim) == []
    note(f"price 0.1015 triggered the stop: filled {stop_row['filled']} at {stop_row['average_price']}, "
         f"one fill booked (venue trade {venue_trades[0]['id']}), position flat")
    await third.stop_bot(user, bot["id"])  # later tests' restarts must not resume it
    await third.close()
    await db.close()
    assert sim.secret not in caplog.text and sim.secret not in "\n".join(lines)


async def test_on_a_venue_without_stop_orders_the_engine_watches_the_stop_and_says_so(
        database_url, sim, engines, tmp_path, monkeypatch, caplog):
    """Capabilities are data: the same venue declared without venue stops (as Coinbase, Kraken,
    OKX and Alpaca are today) gets no stop order; the user is alerted that the stop is watched by
    the engine only, and a candle trading through it sells the position at market, once."""
    from nija_broker_ccxt._venues import VENUES

    caplog.set_level(logging.INFO)
    monkeypatch.setitem(VENUES, "binance", {**VENUES["binance"], "venue_stops": False})
    monkeypatch.setenv("NIJA_CCXT_BASE_URLS", json.dumps({"binance": sim.url}))
    db = Database(database_url)
    clock, feed_clock = SystemClock(), FakeClock(T0 + 60 * MINUTE + 1_000)

    feed = LiveFeed("binance", base_url=sim.url, clock=feed_clock, poll_s=0.02, history=50, retry_delays=(0.05,))
    manager = OrderManager(db, clock, AllowAll(), EventRelay(db, None, clock), usd_price=feed.usd_price,
                           resolve_delays=(0.05, 0.1))
    engine = TradingEngine(db, clock, plugins(), manager, feed, CredentialVault(db, clock, MasterKeys.load(tmp_path), validate_keys))
    engine.live_sync_ms = 0
    engines.append(engine)
    user = str(uuid.uuid4())
    conn_view = await engine.vault.add(user, broker="ccxt", exchange="binance", api_key=sim.api_key, secret=sim.secret)
    bot = await engine.start_bot(user_id=user, strategy="test_jump", params={}, markets=["ETH/BTC"], timeframe="1m",
                                 paper=False, connection_id=conn_view.id)
    await engine.step()
    jump = await advance(sim, "0.105", feed_clock)
    await until(lambda: feed.next_time([("ETH/BTC", "1m")]) == jump, "the jump candle")
    assert await engine.step()
    async with db.transaction() as conn:
        held = (await conn.execute(select(positions).where(positions.c.bot_id == bot["id"]))).one().quantity
    assert held > 0 and _stops_on_venue(sim) == [] and [o["type"] for o in await _rows(db, bot["id"])] == ["market"]
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert for bot")]
    assert len(alerts) == 1, alerts
    assert "keeps no stop orders for NIJA: the stop-loss at 0.10185 is watched by the engine" in alerts[0]

    # Above the stop nothing happens; a candle trading through it sells everything, once.
    flat = await advance(sim, "0.104", feed_clock)
    await until(lambda: feed.next_time([("ETH/BTC", "1m")]) == flat, "a quiet candle")
    await engine.step()
    assert len(await _rows(db, bot["id"])) == 1
    drop = await advance(sim, "0.1015", feed_clock)
    await until(lambda: feed.next_time([("ETH/BTC", "1m")]) == drop, "the drop candle")
    await engine.step()
    await engine.step()
    sells = [o for o in await _rows(db, bot["id"]) if o["side"] == "sell"]
    assert [(o["type"], o["reduce_only"], o["state"], o["filled"]) for o in sells] == [("market", True, "filled", held)]
    assert sells[0]["signal_id"].endswith(":stop")
    async with db.transaction() as conn:
        assert (await conn.execute(select(positions).where(positions.c.bot_id == bot["id"]))).one().quantity == 0
    venue_sells = [o for o in sim.orders.values() if o.side == "SELL"]
    assert len(venue_sells) == 1 and venue_sells[0].type == "MARKET"
    await engine.stop_bot(user, bot["id"])
    await db.close()
