"""TradingService over a real gRPC channel (SQLite and PostgreSQL): paper bots running apex on
replayed candles, positions, history, stats, stop and emergency stop, errors, two bots' books."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from helpers import bearer, serve_platform, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2 as apb
from nija.accounts.v1 import accounts_pb2_grpc
from nija.common.v1 import common_pb2 as cpb
from nija.trading.v1 import trading_pb2 as pb
from nija.trading.v1 import trading_pb2_grpc

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"
# The session's platform replays the repository's candles as fast as the engine can.
os.environ.setdefault("NIJA_MARKET_DATA", f"replay:{DATA},speed=max")

PASSWORD = "correct horse battery staple"
# At full replay speed apex opens and closes a position within a few ms of candles, so a test
# polling every 100 ms can miss every open position and see the bot end the data flat. With
# these parameters a position, once entered, is held to the end of the data (no RSI reaches
# 99, no candle moves 20 ATR down or 50 ATR up), so "holding" stays true until the test acts.
HOLD = {"overbought": "99", "stop_atr": "20", "take_profit_atr": "50"}


async def _login(channel) -> tuple:
    stub = accounts_pb2_grpc.AccountsServiceStub(channel)
    email, ip = unique_email("trader"), unique_ip()
    md = (("x-forwarded-for", ip),)
    await stub.Register(apb.RegisterRequest(email=email, password=PASSWORD), metadata=md)
    tokens = await stub.Login(apb.LoginRequest(email=email, password=PASSWORD), metadata=md)
    return bearer(tokens.access_token, ip)


@pytest.fixture
async def grpc_platform(database_url, tmp_path_factory):
    """Each test's own platform, so its replay clock starts at the first candle. A platform
    replays at full speed for as long as any bot runs, so a shared one (the session's, then this
    module's) could use up the candles a later test needs to see trades in: on a loaded machine
    two of this module's tests waited 90 s for a first position that never came."""
    async with serve_platform(database_url, tmp_path_factory.mktemp("trading-grpc")) as served:
        yield served
        # Stopped, not left running: the next platform would resume them and start its replay
        # at their cursor, where the candles a new bot needs may already be used up.
        engine = served.platform.trading.engine
        for bot_id, runtime in engine.running().items():
            await engine.stop_bot(runtime.row["user_id"], bot_id)


@pytest.fixture
async def trading(grpc_platform):
    return trading_pb2_grpc.TradingServiceStub(grpc_platform.channel)


async def _wait(predicate, timeout=90.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.1)


async def test_paper_bot_trades_and_reports(grpc_platform, trading):
    md = await _login(grpc_platform.channel)
    status = await trading.StartTrading(pb.StartTradingRequest(
        strategy="apex", markets=["ETH/BTC"], timeframe="5m", paper=True), metadata=md)
    bot_id = status.bot_id
    assert bot_id and [b.state for b in status.bots if b.id == bot_id] == ["running"]

    async def traded():
        h = await trading.GetHistory(pb.GetHistoryRequest(bot_id=bot_id), metadata=md)
        return h if len(h.trades) >= 2 else None

    history = await _wait(traded)
    assert all(t.symbol == "ETH/BTC" and t.bot_id == bot_id and Decimal(t.quantity) > 0 for t in history.trades)
    assert history.trades[0].client_order_id.startswith("nj-")

    stats = await trading.GetStats(pb.GetStatsRequest(), metadata=md)
    assert stats.total_trades >= 2 and Decimal(stats.total_volume) > 0

    await trading.StopTrading(pb.StopTradingRequest(bot_id=bot_id), metadata=md)
    status = await trading.GetTradingStatus(pb.GetTradingStatusRequest(), metadata=md)
    assert [b.state for b in status.bots] == ["stopped"]
    assert status.bots[0].strategy == "apex" and list(status.bots[0].markets) == ["ETH/BTC"]

    balance = await trading.GetBalance(pb.GetBalanceRequest(), metadata=md)
    assets = {a.asset: Decimal(a.value) for a in balance.total}
    assert "BTC" in assets and assets["BTC"] != Decimal(1)  # trading moved the paper balance


async def test_emergency_stop_flattens_every_bot(grpc_platform, trading):
    md = await _login(grpc_platform.channel)
    await trading.StartTrading(pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"], params=HOLD), metadata=md)

    async def holding():
        pos = await trading.ListPositions(pb.ListPositionsRequest(), metadata=md)
        return pos.positions if pos.positions else None

    held = await _wait(holding)
    assert Decimal(held[0].quantity) > 0
    await trading.EmergencyStop(pb.EmergencyStopRequest(), metadata=md)

    async def flat():
        pos = await trading.ListPositions(pb.ListPositionsRequest(), metadata=md)
        return not pos.positions

    await _wait(flat)
    status = await trading.GetTradingStatus(pb.GetTradingStatusRequest(), metadata=md)
    assert {b.state for b in status.bots} == {"stopped"}
    # The held position was closed by the emergency stop's market sell (HOLD never exits).
    history = await trading.GetHistory(pb.GetHistoryRequest(), metadata=md)
    assert cpb.ORDER_SIDE_SELL in {t.side for t in history.trades}


async def test_two_bots_of_one_user_keep_separate_books(grpc_platform, trading):
    md = await _login(grpc_platform.channel)
    a = (await trading.StartTrading(pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"]), metadata=md)).bot_id
    b = (await trading.StartTrading(pb.StartTradingRequest(strategy="apex", markets=["LTC/BTC"]), metadata=md)).bot_id

    async def both_traded():
        ha = await trading.GetHistory(pb.GetHistoryRequest(bot_id=a), metadata=md)
        hb = await trading.GetHistory(pb.GetHistoryRequest(bot_id=b), metadata=md)
        return (ha, hb) if ha.trades and hb.trades else None

    ha, hb = await _wait(both_traded)
    assert {t.symbol for t in ha.trades} == {"ETH/BTC"} and {t.symbol for t in hb.trades} == {"LTC/BTC"}
    for bot in (a, b):
        await trading.StopTrading(pb.StopTradingRequest(bot_id=bot), metadata=md)
    pos_a = await trading.ListPositions(pb.ListPositionsRequest(bot_id=a), metadata=md)
    assert all(p.bot_id == a for p in pos_a.positions)
    everything = await trading.GetHistory(pb.GetHistoryRequest(page=dict(page_size=500)), metadata=md)
    assert {t.bot_id for t in everything.trades} == {a, b}


async def test_bad_requests_are_clear_and_scoped(grpc_platform, trading):
    md = await _login(grpc_platform.channel)
    other = await _login(grpc_platform.channel)
    cases = [
        (pb.StartTradingRequest(strategy="nope", markets=["ETH/BTC"]), "strategy"),
        (pb.StartTradingRequest(strategy="apex", markets=["DOGE/USD"]), "no market data"),
        (pb.StartTradingRequest(strategy="apex", markets=[]), "market"),
        (pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"], timeframe="7m"), "timeframe"),
        (pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"], params={"rsi_period": "x"}), ""),
    ]
    for request, text in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await trading.StartTrading(request, metadata=md)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert text in info.value.details()
    bot = (await trading.StartTrading(pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"]), metadata=md)).bot_id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await trading.StopTrading(pb.StopTradingRequest(bot_id=bot), metadata=other)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await trading.GetTradingStatus(pb.GetTradingStatusRequest(), metadata=other)).bots == []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await trading.GetHistory(pb.GetHistoryRequest(page=dict(page_token="zz")), metadata=md)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await trading.StopTrading(pb.StopTradingRequest(bot_id=bot), metadata=md)


async def test_global_kill_switch_stops_bots_and_flattens(grpc_platform, trading):
    from nija.admin.v1 import admin_pb2, admin_pb2_grpc

    md = await _login(grpc_platform.channel)
    await trading.StartTrading(pb.StartTradingRequest(strategy="apex", markets=["ETH/BTC"], params=HOLD), metadata=md)

    async def holding():
        pos = await trading.ListPositions(pb.ListPositionsRequest(), metadata=md)
        return pos.positions if pos.positions else None

    assert Decimal((await _wait(holding))[0].quantity) > 0
    email = unique_email("admin")
    await grpc_platform.platform.accounts.bootstrap_admin(email, PASSWORD)
    tokens = await accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel).Login(
        apb.LoginRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", unique_ip()),))
    admin = admin_pb2_grpc.AdminServiceStub(grpc_platform.channel)
    admin_md = bearer(tokens.access_token)
    try:
        await admin.SetKillSwitch(admin_pb2.SetKillSwitchRequest(active=True, flatten=True, reason="test"), metadata=admin_md)

        async def flat_and_stopped():
            pos = await trading.ListPositions(pb.ListPositionsRequest(), metadata=md)
            status = await trading.GetTradingStatus(pb.GetTradingStatusRequest(), metadata=md)
            return not pos.positions and {b.state for b in status.bots} == {"stopped"}

        await _wait(flat_and_stopped)
    finally:
        await admin.SetKillSwitch(admin_pb2.SetKillSwitchRequest(active=False, reason="test over"), metadata=admin_md)
