"""The trading engine on a real database: a paper bot on replayed candles, venue-side stops
placed for open positions, verified and re-placed after a restart, an alert when a position has
no protection; restart does not duplicate orders."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select, update

from nija.core.clock import SystemClock
from nija.core.plugins import PluginManager
from nija.core.trading import AllowAll, EventRelay, OrderManager, ReplayFeed
from nija.core.trading._engine import TradingEngine
from nija.core.trading._tables import bots, events, orders, positions
from nija.trading.v1 import trading_pb2

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"


def _engine(db) -> TradingEngine:
    clock = SystemClock()
    manager = OrderManager(db, clock, AllowAll(), EventRelay(db, None, clock), resolve_delays=(0.01, 0.01))
    return TradingEngine(db, clock, PluginManager().load_entry_points(), manager, ReplayFeed(DATA))


async def _open_position(engine: TradingEngine, bot_id: str, limit: int = 3000):
    for _ in range(limit):
        await engine.step()
        async with engine.db.transaction() as conn:
            pos = (await conn.execute(select(positions).where(positions.c.bot_id == bot_id,
                                                              positions.c.quantity != 0))).first()
        if pos is not None:
            return pos
    raise AssertionError("no position opened")


async def _stops(db, bot_id: str) -> list[dict]:
    async with db.transaction() as conn:
        rows = (await conn.execute(select(orders).where(orders.c.bot_id == bot_id, orders.c.type == "stop_loss")
                                   .order_by(orders.c.created_at))).all()
    return [dict(r._mapping) for r in rows]


async def test_open_positions_carry_a_venue_stop_that_survives_a_restart(db):
    engine = _engine(db)
    user = str(uuid.uuid4())
    bot = await engine.start_bot(user_id=user, strategy="apex", params={"trend_filter": "false"},
                                 markets=["ETH/BTC"], timeframe="5m", paper=True)
    pos = await _open_position(engine, bot["id"])
    await engine.step()  # the stop is placed once the fill is booked
    stops = [s for s in await _stops(db, bot["id"]) if s["state"] == "accepted"]
    assert len(stops) == 1 and stops[0]["amount"] == pos.quantity and stops[0]["reduce_only"]
    assert stops[0]["stop_price"] < pos.average_entry
    price = stops[0]["stop_price"]
    cursor = engine.feed.now_ms
    await engine.close()

    # The stop went missing while we were down (e.g. cancelled on the venue).
    async with db.transaction() as conn:
        await conn.execute(update(orders).where(orders.c.id == stops[0]["id"]).values(state="cancelled"))
        await conn.execute(update(bots).where(bots.c.id == bot["id"]).values(cursor=cursor))
    restarted = _engine(db)
    await restarted.resume()
    again = [s for s in await _stops(db, bot["id"]) if s["state"] == "accepted"]
    assert len(again) == 1 and again[0]["stop_price"] == price and again[0]["id"] != stops[0]["id"]
    # Resuming again changes nothing: the stop is there, no duplicate.
    await restarted.resume()
    assert len([s for s in await _stops(db, bot["id"]) if s["state"] == "accepted"]) == 1
    # The session's database is shared: a later restart (the gRPC platform's start-up) must not
    # resume this bot and carry the shared replay time to where it stopped.
    await restarted.stop_bot(user, bot["id"])
    await restarted.close()


async def test_a_position_without_a_known_stop_raises_an_alert(db):
    engine = _engine(db)
    user = str(uuid.uuid4())
    bot = await engine.start_bot(user_id=user, strategy="apex", params={"trend_filter": "false"},
                                 markets=["ETH/BTC"], timeframe="5m", paper=True)
    await _open_position(engine, bot["id"])
    await engine.step()
    await engine.close()
    # Forget every stop ever placed: after the restart no price is known.
    async with db.transaction() as conn:
        await conn.execute(orders.delete().where(orders.c.bot_id == bot["id"], orders.c.type == "stop_loss"))
    restarted = _engine(db)
    await restarted.resume()
    async with db.transaction() as conn:
        rows = (await conn.execute(select(events.c.payload, events.c.subject).where(
            events.c.user_id == user, events.c.kind == "notifications"))).all()
    alerts = [trading_pb2.TradingEvent.FromString(bytes(r.payload)).alert for r in rows]
    assert [(a.bot_id, a.symbol, a.code) for a in alerts] == [(bot["id"], "ETH/BTC", "POSITION_UNPROTECTED")]
    assert rows[0].subject == f"nija.user.{user}.notifications"
    await restarted.stop_bot(user, bot["id"])  # as above: later restarts must not resume it
    await restarted.close()
