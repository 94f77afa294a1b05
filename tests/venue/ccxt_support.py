"""Shared pieces of the ccxt tests: the Binance simulator with candles, a deterministic test
strategy (enter on a >1% jump with a 3% stop, never exit) and an async wait."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import numpy as np

from nija.core.clock import SystemClock
from nija.core.plugins import BrokerContext, PluginManager, hookimpl
from nija.core.strategies import Strategy
from venue.binance_sim import VenueSim

KEY, SECRET = "sim-key-" + uuid.uuid4().hex[:8], "sim-secret-" + uuid.uuid4().hex
MINUTE = 60_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, minute aligned


def make_sim(candles: int = 60, price: str = "0.1", key: str = KEY, secret: str = SECRET) -> VenueSim:
    """ETH/BTC (and BTC/USDT for USD values) with ``candles`` closed flat 1m candles at ``price``
    plus the one still forming."""
    sim = VenueSim(api_key=key, secret=secret, prices={"ETHBTC": Decimal(price), "BTCUSDT": Decimal("14000")},
                   balances={"BTC": Decimal(5), "ETH": Decimal(20), "USDT": Decimal(1000)},
                   markets={"ETHBTC": ("ETH", "BTC"), "BTCUSDT": ("BTC", "USDT")})
    for i in range(candles + 1):
        sim.add_candle("ETHBTC", "1m", T0 + i * MINUTE, price, price, price, price)
    return sim


async def advance(sim: VenueSim, close: str, clock=None) -> int:
    """The forming candle closes at ``close`` (the market moves there) and a new one starts;
    returns the closed candle's open time."""
    rows = sim.candles[("ETHBTC", "1m")]
    last = rows[-1]
    c = Decimal(close)
    last[2], last[3], last[4] = max(last[1], c), min(last[1], c), c
    sim.add_candle("ETHBTC", "1m", last[0] + MINUTE, close, close, close, close)
    await sim.set_price("ETHBTC", c)
    if clock is not None:
        clock.advance(last[0] + 2 * MINUTE - 1 - clock.now_ms())  # inside the new forming candle
    return last[0]


class Jump(Strategy):
    """Enters long when the close jumps more than 1% over the previous one; stop 3% under."""

    INTERFACE_VERSION = 1
    name = "test_jump"
    description = "test strategy: enter on a jump, stop 3% below"
    parameters = {}

    def indicators(self):
        return {}

    def evaluate(self, ctx):
        close = ctx.candles("close")
        prev = ctx.previous(close)
        entry = (close > prev * 1.01) & (prev == prev)
        ctx.emit(entry=entry, exit=np.zeros_like(entry, dtype=bool), stop_loss=close * 0.97)


class _Plugin:
    @staticmethod
    @hookimpl
    def register_strategies():
        return [Jump]


def plugins() -> PluginManager:
    pm = PluginManager().load_entry_points()
    pm.register(_Plugin(), "test_jump")
    return pm


async def until(check, what: str, timeout: float = 30.0, interval: float = 0.02):
    """Await ``check()`` (sync or async) until truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached")
        await asyncio.sleep(interval)


async def validate_keys(broker: str, exchange: str, creds) -> dict:
    """The credential vault's key check, as the platform does it: the real ccxt broker's
    read-only ``check_credentials()`` against the venue ``NIJA_CCXT_BASE_URLS`` points at."""
    from nija_broker_ccxt import CcxtBroker

    instance = CcxtBroker(BrokerContext(account_key="validate", clock=SystemClock(), credentials=creds,
                                        options={"exchange": exchange}))
    try:
        return dict(await instance.check_credentials())
    finally:
        await instance.close()
