"""Market data for bots: ``replay:DIR[,speed=N|max]`` (CSV files, one per market and
timeframe, ``ETH_BTC-5m.csv`` serving ETH/BTC at 5m) or ``ccxt:EXCHANGE`` (live public candles).

A replay feed has one process-wide replay time: every bot sees the same "now", as on a live
venue, and a bot started later joins at the current replay time.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from nija.core.errors import InvalidArgument
from nija.core.plugins.broker import Candle
from nija.core.portfolio import to_decimal

TIMEFRAME_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
                "4h": 14_400_000, "1d": 86_400_000}


@dataclass
class Series:
    symbol: str
    timeframe: str
    times: np.ndarray  # int64
    ohlcv: np.ndarray  # float64, shape (5, T)

    def __post_init__(self) -> None:
        # Decimal candles are made on first use: files hold thousands of rows, few are traded on.
        self._decimal: dict[int, Candle] = {}

    def candle(self, i: int) -> Candle:
        c = self._decimal.get(i)
        if c is None:
            c = self._decimal[i] = Candle(int(self.times[i]), *(to_decimal(float(v)) for v in self.ohlcv[:, i]))
        return c


def load_csv(path: Path, symbol: str, timeframe: str) -> Series:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if [h.strip() for h in header[:6]] != ["timestamp_ms", "open", "high", "low", "close", "volume"]:
            raise InvalidArgument(f"{path.name}: expected header timestamp_ms,open,high,low,close,volume")
        rows = [r for r in reader if r]
    times = np.array([int(r[0]) for r in rows], dtype=np.int64)
    ohlcv = np.array([[float(x) for x in r[1:6]] for r in rows], dtype=np.float64).T.copy()
    return Series(symbol, timeframe, times, ohlcv)


#: Approximate USD prices of January 2018, the period of the bundled replay data (risk limits are
#: in USD and those files quote in BTC/ETH). Override with NIJA_USD_PRICES="BTC=14000,ETH=1200".
REPLAY_REFERENCE_USD = {"BTC": Decimal(14000), "ETH": Decimal(1200)}


def reference_usd_prices() -> dict[str, Decimal]:
    spec = os.environ.get("NIJA_USD_PRICES", "").strip()
    if not spec:
        return dict(REPLAY_REFERENCE_USD)
    out = {}
    for part in spec.split(","):
        asset, _, price = part.partition("=")
        out[asset.strip().upper()] = Decimal(price.strip())
    return out


class MarketFeed(Protocol):
    """What the trading engine, the paper broker and the order path ask of a market data feed.

    Implemented by :class:`ReplayFeed` (CSV files, one process-wide replay time) and
    :class:`nija.core.trading._livefeed.LiveFeed` (a venue's public candles through ccxt). Both
    release closed candles only, each once, in one time order across the keys asked for;
    ``now_ms`` is the time of the newest candle released to the engine.
    """

    now_ms: int | None

    def available(self) -> list[tuple[str, str]]:
        """Every (symbol, timeframe) the feed can serve now."""

    def symbols(self) -> list[str]: ...

    def has(self, symbol: str, timeframe: str) -> bool: ...

    def series(self, symbol: str, timeframe: str) -> "Series":
        """The candles of one key; ``InvalidArgument`` naming it when there are none."""

    def start_time(self, keys: Sequence[tuple[str, str]]) -> int:
        """The newest candle time every key has: where a bot started now begins."""

    def next_time(self, keys: Sequence[tuple[str, str]]) -> int | None:
        """The first candle time after ``now_ms`` among ``keys`` (None: nothing new yet)."""

    def index_at(self, symbol: str, timeframe: str, ts: int) -> int:
        """Index of the newest candle at or before ``ts`` (-1 when none)."""

    def last_candle(self, symbol: str, timeframe: str | None = None) -> Candle | None: ...

    def usd_price(self, asset: str) -> Decimal | None:
        """The USD value of one ``asset`` at ``now_ms``, or None when the feed cannot tell."""

    async def pace(self, timeframe_ms: int) -> None:
        """Wait until the next candle is due (replay speed; nothing for a live feed)."""

    async def subscribe(self, keys: Sequence[tuple[str, str]]) -> None:
        """Start serving ``keys`` (a live feed starts polling them); unknown ones are refused."""

    async def close(self) -> None: ...


class ReplayFeed:
    """Candles from a folder of CSV files, advanced by :meth:`advance` (the engine's clock).

    Parameters
    ----------
    folder : path
        Files named ``BASE_QUOTE-TF.csv``.
    speed : float or None
        Candles are released ``speed`` times faster than real time; ``None`` is "max": as fast
        as the engine can process them.
    """

    def __init__(self, folder: str | Path, speed: float | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InvalidArgument(f"market data folder {self.folder} does not exist", field="market_data")
        self.speed = speed
        self._files: dict[tuple[str, str], Path] = {}
        for path in sorted(self.folder.glob("*-*.csv")):
            stem, tf = path.stem.rsplit("-", 1)
            if "_" not in stem or tf not in TIMEFRAME_MS:
                continue
            base, quote = stem.split("_", 1)
            self._files[(f"{base}/{quote}", tf)] = path
        self._series: dict[tuple[str, str], Series] = {}
        self.now_ms: int | None = None  # time of the newest released candle
        self.reference_usd = reference_usd_prices()

    @classmethod
    def parse(cls, spec: str, base_dir: Path | None = None) -> "ReplayFeed":
        """``replay:DIR[,speed=N|max]``."""
        if not spec.startswith("replay:"):
            raise InvalidArgument("market data must be replay:DIR[,speed=N|max] or ccxt:EXCHANGE[,poll=S]",
                                  field="market_data")
        parts = spec[len("replay:"):].split(",")
        folder = Path(parts[0])
        if base_dir is not None and not folder.is_absolute():
            folder = base_dir / folder
        speed: float | None = None
        for opt in parts[1:]:
            key, _, value = opt.partition("=")
            if key.strip() != "speed":
                raise InvalidArgument(f"unknown market data option {key!r}", field="market_data")
            speed = None if value.strip() == "max" else float(value)
        return cls(folder, speed)

    def available(self) -> list[tuple[str, str]]:
        return sorted(self._files)

    def symbols(self) -> list[str]:
        return sorted({s for s, _ in self._files})

    def has(self, symbol: str, timeframe: str) -> bool:
        return (symbol, timeframe) in self._files

    def series(self, symbol: str, timeframe: str) -> Series:
        key = (symbol, timeframe)
        s = self._series.get(key)
        if s is None:
            if key not in self._files:
                raise InvalidArgument(f"no market data for {symbol} at {timeframe}", field="markets")
            s = self._series[key] = load_csv(self._files[key], symbol, timeframe)
        return s

    def start_time(self, keys: Sequence[tuple[str, str]]) -> int:
        return min(int(self.series(s, tf).times[0]) for s, tf in keys)

    def next_time(self, keys: Sequence[tuple[str, str]]) -> int | None:
        """Time of the first candle after ``now_ms`` among ``keys`` (None when replay ended)."""
        best = None
        for s, tf in keys:
            series = self.series(s, tf)
            i = bisect.bisect_right(series.times, self.now_ms) if self.now_ms is not None else 0
            if i < len(series.times):
                t = int(series.times[i])
                best = t if best is None else min(best, t)
        return best

    def index_at(self, symbol: str, timeframe: str, ts: int) -> int:
        """Index of the newest candle at or before ``ts`` (-1 when none)."""
        series = self.series(symbol, timeframe)
        return bisect.bisect_right(series.times, ts) - 1

    def last_candle(self, symbol: str, timeframe: str | None = None) -> Candle | None:
        if self.now_ms is None:
            return None
        tfs = [timeframe] if timeframe else [tf for s, tf in self._files if s == symbol]
        for tf in tfs:
            if (symbol, tf) in self._files:
                i = self.index_at(symbol, tf, self.now_ms)
                if i >= 0:
                    return self.series(symbol, tf).candle(i)
        return None

    def usd_price(self, asset: str) -> Decimal | None:
        """USD value of one unit of ``asset`` for risk's notional and equity: the last close of
        an ``ASSET/USD*`` series when the folder has one, else the reference prices."""
        for quote in ("USDT", "USD", "USDC"):
            if any(s == f"{asset}/{quote}" for s, _ in self._files):
                candle = self.last_candle(f"{asset}/{quote}")
                if candle is not None:
                    return candle.close
        return self.reference_usd.get(asset)

    async def pace(self, timeframe_ms: int) -> None:
        """Wait between two released candles according to ``speed``."""
        if self.speed:
            await asyncio.sleep(timeframe_ms / 1000 / self.speed)
        else:
            await asyncio.sleep(0)

    async def subscribe(self, keys: Sequence[tuple[str, str]]) -> None:
        """The engine announces the series a bot needs (a live feed starts polling them); a
        replay folder has them or not."""
        for symbol, tf in keys:
            if not self.has(symbol, tf):
                raise InvalidArgument(f"no market data for {symbol} at {tf}", field="markets")

    async def close(self) -> None:
        """Nothing to release (a live feed stops polling)."""


def open_feed(spec: str, base_dir: Path | None = None, clock=None):
    """The feed a market data spec names: ``replay:DIR[,speed=N|max]`` or
    ``ccxt:EXCHANGE[,poll=S][,history=N]`` (see :class:`nija.core.trading._livefeed.LiveFeed`)."""
    spec = spec.strip()
    if spec.startswith("ccxt:"):
        from nija.core.trading._livefeed import LiveFeed  # ccxt is imported only for live feeds

        return LiveFeed.parse(spec, clock=clock)
    return ReplayFeed.parse(spec, base_dir)
