"""``ccxt:EXCHANGE`` live market data: the real ``ccxt.async_support.binance`` class polling the
Binance venue simulator over HTTP. Only closed candles, once each and in order; clear errors for
an unknown exchange or an unlisted market; 5xx and 429 retried without a lost or duplicated
candle; a paper bot in the trading engine receives the candles and trades on them."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from nija.core.clock import FakeClock, SystemClock
from nija.core.errors import InvalidArgument
from nija.core.trading import AllowAll, EventRelay, OrderManager, open_feed
from nija.core.trading._engine import TradingEngine
from nija.core.trading._livefeed import LiveFeed
from nija.core.trading._tables import orders, positions
from venue.ccxt_support import MINUTE, T0, advance, make_sim, plugins, until


@pytest.fixture
async def sim():
    venue = make_sim()
    await venue.start()
    yield venue
    await venue.stop()


@pytest.fixture
def clock():
    return FakeClock(T0 + 60 * MINUTE + 1_000)  # inside the forming candle


@pytest.fixture
async def feed(sim, clock):
    live = LiveFeed("binance", base_url=sim.url, clock=clock, poll_s=0.02, history=50, retry_delays=(0.05, 0.1))
    yield live
    await live.close()


def _times(feed: LiveFeed) -> list[int]:
    return [int(t) for t in feed.series("ETH/BTC", "1m").times]


def test_unknown_exchange_or_option_is_a_clear_error():
    with pytest.raises(InvalidArgument) as info:
        open_feed("ccxt:nosuchvenue")
    assert "nosuchvenue" in info.value.message and info.value.field == "market_data"
    with pytest.raises(InvalidArgument, match="speedy"):
        open_feed("ccxt:binance,speedy=3")
    with pytest.raises(InvalidArgument, match="poll"):
        open_feed("ccxt:binance,poll=fast")
    parsed = open_feed("ccxt:binance,poll=5,history=200")
    assert isinstance(parsed, LiveFeed) and parsed.poll_s == 5 and parsed.history == 200
    with pytest.raises(InvalidArgument, match="replay:DIR"):
        open_feed("kafka:candles")


async def test_a_market_the_venue_does_not_list_is_named(feed):
    with pytest.raises(InvalidArgument) as info:
        await feed.subscribe([("DOGE/BTC", "1m")])
    assert "DOGE/BTC" in info.value.message and "binance" in info.value.message
    assert not feed.has("DOGE/BTC", "1m")


async def test_only_closed_candles_once_each_in_order(sim, feed, clock):
    await feed.subscribe([("ETH/BTC", "1m")])
    times = _times(feed)
    # history bounds what is kept; the forming candle (T0 + 60m) is not released
    assert len(times) == 50 and times[-1] == T0 + 59 * MINUTE and times == sorted(set(times))
    closed = await advance(sim, "0.11", clock)
    await until(lambda: _times(feed)[-1] == closed, "the newly closed candle")
    series = feed.series("ETH/BTC", "1m")
    assert series.candle(len(series.times) - 1).close == Decimal("0.11")
    # Polls keep returning overlapping rows: still once each, bounded, in order.
    for close in ("0.12", "0.13"):
        closed = await advance(sim, close, clock)
        await until(lambda: _times(feed)[-1] == closed, "the next closed candle")
    times = _times(feed)
    assert times == sorted(set(times)) and len(times) == 50
    assert all(b - a == MINUTE for a, b in zip(times, times[1:]))
    # The engine's view: next_time walks released candles one by one from "now".
    feed.now_ms = times[-3]
    assert feed.next_time([("ETH/BTC", "1m")]) == times[-2]
    feed.now_ms = times[-1]
    assert feed.next_time([("ETH/BTC", "1m")]) is None
    assert feed.last_candle("ETH/BTC").close == Decimal("0.13")
    # Rows ahead of the clock (a venue clock ahead of ours, a simulator) are never released,
    # even with later rows after them.
    forming = sim.candles[("ETHBTC", "1m")][-1][0]
    for i in (1, 2):
        sim.add_candle("ETHBTC", "1m", forming + i * MINUTE, "0.2", "0.2", "0.2", "0.2")
    clock.advance(forming + MINUTE + 1 - clock.now_ms())  # the forming candle has just closed
    await until(lambda: _times(feed)[-1] == forming, "the candle that closed")
    assert _times(feed)[-1] == forming  # that poll's answer held the two future rows too


async def test_mixed_timeframes_are_released_in_time_order(sim, feed, clock):
    """Bots on 1m and 5m in one process share one "now": 1m candles wait for the 5m candle
    covering them, so the 5m series never receives a candle older than the engine's time."""
    for k in range(13):  # 5m candles up to the one forming at T0 + 60m
        sim.add_candle("ETHBTC", "5m", T0 + k * 5 * MINUTE, "0.1", "0.1", "0.1", "0.1")
    keys = [("ETH/BTC", "1m"), ("ETH/BTC", "5m")]
    await feed.subscribe(keys)
    feed.now_ms = T0 + 59 * MINUTE
    for _ in range(4):  # 1m candles T0+60m … T0+63m close; the 5m one is still forming
        closed = await advance(sim, "0.1", clock)
    await until(lambda: _times(feed)[-1] == closed, "four more 1m candles")
    assert feed.next_time(keys) is None, "held until the 5m candle at T0+60m closes"
    closed = await advance(sim, "0.1", clock)  # T0+64m; the clock is now past T0+65m
    sim.add_candle("ETHBTC", "5m", T0 + 65 * MINUTE, "0.1", "0.1", "0.1", "0.1")
    await until(lambda: int(feed.series("ETH/BTC", "5m").times[-1]) == T0 + 60 * MINUTE, "the 5m candle")
    await until(lambda: _times(feed)[-1] == closed, "the fifth 1m candle")
    released = []
    while (t := feed.next_time(keys)) is not None:
        released.append((t - T0) // MINUTE)
        feed.now_ms = t
    assert released == [60, 61, 62, 63, 64]
    assert feed.index_at("ETH/BTC", "5m", T0 + 60 * MINUTE) == len(feed.series("ETH/BTC", "5m").times) - 1


async def test_the_venue_is_asked_only_when_a_candle_is_due(sim, feed, clock):
    await feed.subscribe([("ETH/BTC", "1m")])

    def polls() -> int:
        return sum(1 for _, path, _ in sim.requests if path == "/api/v3/klines")

    before = polls()
    await asyncio.sleep(0.3)  # many poll intervals while the forming candle is not due
    assert polls() == before
    closed = await advance(sim, "0.1", clock)
    await until(lambda: _times(feed)[-1] == closed, "the candle once due")
    assert polls() > before


async def test_bots_subscribing_to_one_market_at_once_share_one_poller(sim, feed, clock):
    """Bots starting (or resuming side by side) on one market at once: one poller, each
    candle once."""
    await asyncio.gather(*(feed.subscribe([("ETH/BTC", "1m")]) for _ in range(3)))
    pollers = [t for t in asyncio.all_tasks() if t.get_name() == "marketdata-binance-ETH/BTC-1m"]
    assert len(pollers) == 1
    closed = await advance(sim, "0.1", clock)
    await until(lambda: _times(feed)[-1] == closed, "the next candle")
    assert _times(feed).count(closed) == 1


async def test_5xx_and_429_are_retried_and_no_candle_is_lost_or_doubled(sim, feed, clock, caplog):
    await feed.subscribe([("ETH/BTC", "1m")])
    sim.inject("GET", "/api/v3/klines", "500", times=3)
    first = await advance(sim, "0.101", clock)
    await until(lambda: _times(feed)[-1] == first, "a candle after three 5xx answers")
    sim.inject("GET", "/api/v3/klines", "429")
    second = await advance(sim, "0.102", clock)
    third = await advance(sim, "0.103", clock)
    await until(lambda: _times(feed)[-1] == third, "candles after a 429")
    times = _times(feed)
    assert {first, second, third} <= set(times) and times == sorted(set(times))
    assert sim.bans == 0, "the feed waited out Retry-After"
    assert "poll failed" in caplog.text and "429" in caplog.text and "500" in caplog.text


async def test_usd_values_come_from_the_venue(sim, feed):
    await feed.subscribe([("ETH/BTC", "1m")])
    assert feed.usd_price("BTC") == Decimal("14000")  # the BTC/USDT ticker
    assert feed.usd_price("USDT") == Decimal(1)
    assert feed.usd_price("ETH") is None  # the simulator lists no ETH/USDT


async def test_a_paper_bot_trades_on_live_candles(db, sim, feed, clock):
    engine_clock = SystemClock()
    manager = OrderManager(db, engine_clock, AllowAll(), EventRelay(db, None, engine_clock), usd_price=feed.usd_price)
    engine = TradingEngine(db, engine_clock, plugins(), manager, feed)
    user = str(uuid.uuid4())
    bot = await engine.start_bot(user_id=user, strategy="test_jump", params={}, markets=["ETH/BTC"], timeframe="1m",
                                 paper=True)
    await engine.step()  # the newest closed candle: flat, nothing to do
    assert await engine.step() is False, "nothing new on the venue yet"
    jump = await advance(sim, "0.105", clock)
    await until(lambda: feed.next_time([("ETH/BTC", "1m")]) == jump, "the jump candle released")
    assert await engine.step() is True
    assert engine.feed.now_ms == jump
    await advance(sim, "0.105", clock)  # the paper venue fills the entry on the next candle

    async def held():
        await engine.step()
        async with db.transaction() as conn:
            return (await conn.execute(select(positions).where(positions.c.bot_id == bot["id"],
                                                               positions.c.quantity > 0))).first()

    pos = await until(held, "a position from the live candles")
    assert Decimal("0.104") < pos.average_entry < Decimal("0.107")
    async with db.transaction() as conn:
        placed = (await conn.execute(select(orders.c.type, orders.c.state, orders.c.stop_price)
                                     .where(orders.c.bot_id == bot["id"]))).all()
    assert ("market", "filled") in {(o.type, o.state) for o in placed}
    stops = [o for o in placed if o.type == "stop_loss"]
    assert len(stops) == 1 and stops[0].stop_price == Decimal("0.105") * Decimal("0.97")
    await engine.stop_bot(user, bot["id"])  # later tests' restarts must not resume it
    await engine.close()


async def test_the_platform_serves_bots_from_ccxt_market_data(tmp_path, monkeypatch):
    """``NIJA_MARKET_DATA=ccxt:binance`` (what ``nija up --market-data`` sets) end to end over
    gRPC: the trading service's engine polls the simulator, a paper bot trades on its candles, an
    unlisted market is refused naming it. Its own database: a restart here must not resume the
    session's bots on this feed."""
    import grpc

    from helpers import bearer, unique_email, unique_ip
    from nija.accounts.v1 import accounts_pb2 as apb
    from nija.accounts.v1 import accounts_pb2_grpc
    from nija.common.v1 import common_pb2
    from nija.core.config import Config
    from nija.core.db import migrate
    from nija.services.server import Platform, create_server
    from nija.trading.v1 import trading_pb2 as pb
    from nija.trading.v1 import trading_pb2_grpc
    from venue.ccxt_support import _Plugin

    venue = make_sim()
    await venue.start()
    monkeypatch.setenv("NIJA_MARKET_DATA", "ccxt:binance,poll=0.05,history=100")
    monkeypatch.setenv("NIJA_CCXT_BASE_URLS", json.dumps({"binance": venue.url}))
    url = f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}"
    await migrate(url)
    platform = Platform.build(Config.from_env(tmp_path / "data", database_url=url, nats_url=None))
    platform.plugins.register(_Plugin(), "test_jump")
    server, port = await create_server("127.0.0.1:0", platform)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        assert isinstance(platform.trading.engine.feed, LiveFeed)
        accounts = accounts_pb2_grpc.AccountsServiceStub(channel)
        email, ip = unique_email("live"), unique_ip()
        await accounts.Register(apb.RegisterRequest(email=email, password="correct horse battery staple"),
                                metadata=(("x-forwarded-for", ip),))
        tokens = await accounts.Login(apb.LoginRequest(email=email, password="correct horse battery staple"),
                                      metadata=(("x-forwarded-for", ip),))
        md = bearer(tokens.access_token, ip)
        trading = trading_pb2_grpc.TradingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await trading.StartTrading(pb.StartTradingRequest(strategy="test_jump", markets=["DOGE/BTC"],
                                                              timeframe="1m", paper=True), metadata=md)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "DOGE/BTC" in info.value.details()
        status = await trading.StartTrading(pb.StartTradingRequest(strategy="test_jump", markets=["ETH/BTC"],
                                                                   timeframe="1m", paper=True), metadata=md)
        await advance(venue, "0.105")  # the jump: an entry, filled by the paper venue on a later candle

        async def traded():
            await advance(venue, "0.105")
            history = await trading.GetHistory(pb.GetHistoryRequest(bot_id=status.bot_id), metadata=md)
            return history.trades

        trades = await until(traded, "a trade over gRPC from live candles", timeout=60, interval=0.3)
        assert trades[0].symbol == "ETH/BTC" and trades[0].side == common_pb2.ORDER_SIDE_BUY
        assert Decimal("0.104") < Decimal(trades[0].price) < Decimal("0.107")
    finally:
        await channel.close()
        await server.stop(grace=1)
        await platform.close()
        await venue.stop()


def test_both_feeds_have_every_method_of_the_feed_interface():
    """ReplayFeed and LiveFeed are interchangeable behind MarketFeed (same names, same arity)."""
    import inspect

    from nija.core.trading import MarketFeed, ReplayFeed
    from nija.core.trading._livefeed import LiveFeed

    wanted = {n: inspect.signature(f) for n, f in vars(MarketFeed).items()
              if callable(f) and not n.startswith("_")}
    assert {"series", "next_time", "subscribe", "usd_price"} <= set(wanted)
    for feed in (ReplayFeed, LiveFeed):
        for name, sig in wanted.items():
            mine = inspect.signature(getattr(feed, name))
            assert list(mine.parameters) == list(sig.parameters), (feed.__name__, name)
            assert inspect.iscoroutinefunction(getattr(feed, name)) == inspect.iscoroutinefunction(vars(MarketFeed)[name])
