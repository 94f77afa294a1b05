"""Live market data: ``ccxt:EXCHANGE[,poll=S][,history=N]`` — closed candles polled from a
venue's public REST API (``fetch_ohlcv``) through ccxt's async classes.

The feed offers the same interface as :class:`~nija.core.trading.ReplayFeed`, so the engine and
the paper broker run unchanged on it. Invariants:

- only *closed* candles are kept (a row is closed once its close time has passed on the
  feed's clock and the venue shows the next candle, or ``CLOSE_GRACE_MS`` later without it;
  rows from the future are ignored), each at most once, oldest first, at most ``history`` per
  (symbol, timeframe);
- candle times are released in increasing order across every series the engine asks about: a
  candle opening at ``t`` is released once every one of those series has closed past ``t``, so
  no series ever receives a candle older than the engine's "now" (with bots on 1m and 5m in
  one process, 1m candles wait for the 5m candle that covers them);
- a network error, 5xx or 429 never ends polling: it is logged and retried with back-off
  (after a 429/418 no sooner than the venue's Retry-After); what was received is kept;
- the venue is asked only when a candle is due (the forming candle's close time has passed
  on the feed's clock; checked every ``poll`` seconds), and not at all for a series nobody
  used for ``idle_s`` (a stopped bot's); subscribing again catches up at once.

Import rule: core does not import the ccxt *broker plugin*. This module uses the ccxt library
itself (public endpoints, no keys), imported when a ``ccxt:`` feed is built, so core works
without ccxt installed as long as only replay feeds are used.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Sequence

import numpy as np

from nija.core.clock import SystemClock
from nija.core.errors import FailedPrecondition, InvalidArgument, Unavailable
from nija.core.plugins.broker import Candle
from nija.core.plugins.venue_urls import rebase_urls, venue_base_url
from nija.core.trading._marketdata import TIMEFRAME_MS, Series

log = logging.getLogger(__name__)

#: ccxt constructor options per exchange, as data: only the public calls the feed needs.
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchCurrencies": False, "fetchMarkets": {"types": ["spot"]}, "defaultType": "spot",
                "fetchMargins": False},
    "coinbase": {"fetchCurrencies": False},
    "okx": {"fetchMarkets": {"types": ["spot"]}},
}
#: Quotes tried, in order, to value an asset in USD (``usd_price``).
USD_QUOTES = ("USDT", "USD", "USDC", "FDUSD", "BUSD")
USD_LIKE = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI", "FDUSD"})
MAX_PAGE = 1000  # Binance's and most venues' largest klines page
#: How long after a candle's close time it counts as closed when the venue does not show the
#: next candle yet (a quiet market; a venue clock slightly behind ours).
CLOSE_GRACE_MS = 5_000


@dataclass
class _Stream:
    """The closed candles of one (symbol, timeframe), oldest first."""

    symbol: str
    timeframe: str
    tf_ms: int
    rows: list[tuple[int, float, float, float, float, float]] = field(default_factory=list)
    series: Series | None = None
    task: asyncio.Task | None = None
    failures: int = 0
    asked: float = field(default_factory=time.monotonic)  # when the engine last used it


    @property
    def last_open(self) -> int | None:
        return self.rows[-1][0] if self.rows else None

    @property
    def closed_until(self) -> int | None:
        """Open time of the first candle not closed yet: every later candle opens at or after it."""
        return self.rows[-1][0] + self.tf_ms if self.rows else None

    def rebuild(self) -> None:
        # A new Series object on every change: Series caches Decimal candles by index.
        times = np.array([r[0] for r in self.rows], dtype=np.int64)
        ohlcv = np.array([r[1:6] for r in self.rows], dtype=np.float64).T.reshape(5, len(self.rows)).copy()
        self.series = Series(self.symbol, self.timeframe, times, ohlcv)


class LiveFeed:  # implements nija.core.trading._marketdata.MarketFeed
    """Closed candles from a venue's public API, polled per (symbol, timeframe) in use.

    Parameters
    ----------
    exchange : str
        A ccxt exchange id (``binance``, ``kraken``, …).
    poll_s : float
        Seconds between two polls of one series.
    history : int
        Closed candles kept per series (also what a new bot is seeded from).
    base_url : str, optional
        Scheme and host replacing the venue's in every REST URL (tests point it at the venue
        simulator); default from ``NIJA_CCXT_BASE_URLS``.
    clock : Clock, optional
        Decides when the newest row's candle has closed.
    retry_delays : sequence of float
        Back-off after consecutive failures (the last one repeats).
    timeout_ms : int
        ccxt request timeout.
    idle_s : float
        A series the engine has not used for this long is not polled until subscribed again.
    usd_poll_s : float
        Seconds between two refreshes of the USD tickers.
    """

    def __init__(self, exchange: str, *, poll_s: float = 10.0, history: int = 1000, base_url: str | None = None,
                 clock=None, retry_delays: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
                 timeout_ms: int = 10_000, idle_s: float = 300.0, usd_poll_s: float = 60.0) -> None:
        try:
            import ccxt.async_support as ccxt_async
        except ImportError:  # pragma: no cover - ccxt ships with the ccxt broker distribution
            raise FailedPrecondition("ccxt market data needs the ccxt package (pip install ccxt)") from None
        exchange = exchange.strip().lower()
        if exchange not in ccxt_async.exchanges:
            raise InvalidArgument(f"unknown exchange {exchange!r} for market data (ccxt:EXCHANGE takes a ccxt id "
                                  f"such as binance, kraken, okx, coinbase)", field="market_data")
        if poll_s <= 0 or history < 2:
            raise InvalidArgument("market data: poll must be > 0 seconds and history at least 2 candles",
                                  field="market_data")
        self.exchange_id = exchange
        self.poll_s = float(poll_s)
        self.history = int(history)
        self.clock = clock or SystemClock()
        self.retry_delays = tuple(retry_delays) or (1.0,)
        self.usd_poll_s = usd_poll_s
        self.idle_s = idle_s
        self._ccxt = ccxt_async
        self._config = {"enableRateLimit": True, "timeout": int(timeout_ms),
                        "options": dict(EXCHANGE_OPTIONS.get(exchange, {}))}
        self._base_url = base_url or venue_base_url(exchange)
        self._exchange = None
        self._markets_lock = asyncio.Lock()
        self._streams: dict[tuple[str, str], _Stream] = {}
        # Subscriptions one at a time: two bots starting (or resuming) on one market at once
        # must share one stream, not each start a poller.
        self._subscribing = asyncio.Lock()
        self._usd_markets: dict[str, str] = {}  # asset -> "ASSET/USDT" listed on the venue
        self._usd_last: dict[str, Decimal] = {}
        self._usd_task: asyncio.Task | None = None
        self.now_ms: int | None = None  # time of the newest released candle (set by the engine)

    @classmethod
    def parse(cls, spec: str, clock=None) -> "LiveFeed":
        """``ccxt:EXCHANGE[,poll=S][,history=N]``."""
        if not spec.startswith("ccxt:"):
            raise InvalidArgument("live market data must be ccxt:EXCHANGE[,poll=S][,history=N]", field="market_data")
        exchange, *opts = spec[len("ccxt:"):].split(",")
        if not exchange.strip():
            raise InvalidArgument("ccxt:EXCHANGE needs an exchange id, e.g. ccxt:binance", field="market_data")
        kwargs: dict[str, Any] = {}
        for opt in opts:
            key, _, value = (p.strip() for p in opt.partition("="))
            try:
                if key == "poll":
                    kwargs["poll_s"] = float(value)
                elif key == "history":
                    kwargs["history"] = int(value)
                else:
                    raise InvalidArgument(f"unknown market data option {key!r} (ccxt feeds take poll=S, history=N)",
                                          field="market_data")
            except ValueError:
                raise InvalidArgument(f"market data option {key}={value!r} is not a number", field="market_data") from None
        return cls(exchange, clock=clock, **kwargs)

    # ------------------------------------------------------------------------ venue calls
    def _venue(self):
        if self._exchange is None:
            self._exchange = getattr(self._ccxt, self.exchange_id)(dict(self._config))
            if self._base_url:
                self._exchange.urls["api"] = rebase_urls(self._exchange.urls["api"], self._base_url)
        return self._exchange

    def _delay(self, exc: Exception, failures: int) -> float:
        delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
        if isinstance(exc, (self._ccxt.RateLimitExceeded, self._ccxt.DDoSProtection)):
            headers = getattr(self._exchange, "last_response_headers", None) or {}
            value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            try:
                delay = max(delay, float(value) if value is not None else 1.0)
            except ValueError:
                delay = max(delay, 1.0)
        return delay

    async def _retrying(self, what: str, call, attempts: int):
        """``await call()`` with back-off on network errors; raises Unavailable after ``attempts``."""
        for attempt in range(attempts):
            try:
                return await call()
            except (self._ccxt.NetworkError, self._ccxt.ExchangeNotAvailable) as exc:
                delay = self._delay(exc, attempt)
                log.warning("market data %s: %s failed (%s); retry %d/%d in %.1fs", self.exchange_id, what,
                            type(exc).__name__, attempt + 1, attempts - 1, delay)
                if attempt == attempts - 1:
                    raise Unavailable(f"market data from {self.exchange_id} is unavailable: {what} failed "
                                      f"({type(exc).__name__})") from None
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _markets(self) -> dict:
        async with self._markets_lock:
            venue = self._venue()
            if not venue.markets:
                await self._retrying("loading markets", venue.load_markets, attempts=4)
            return venue.markets

    # ------------------------------------------------------------------------ subscriptions
    async def subscribe(self, keys: Sequence[tuple[str, str]]) -> None:
        """Start polling ``keys`` (idempotent). Loads the venue's markets and each new series'
        recent history first, so a bot can be seeded at once.

        Raises
        ------
        InvalidArgument
            The venue does not list a market or offer a timeframe.
        Unavailable
            The venue could not be reached (after retries).
        """
        async with self._subscribing:
            await self._subscribe(keys)

    async def _subscribe(self, keys: Sequence[tuple[str, str]]) -> None:
        markets = await self._markets()
        venue = self._venue()
        for symbol, tf in keys:
            if symbol not in markets:
                raise InvalidArgument(f"{self.exchange_id} does not list the market {symbol}", field="markets")
            if tf not in TIMEFRAME_MS or (venue.timeframes and tf not in venue.timeframes):
                raise InvalidArgument(f"{self.exchange_id} has no {tf} candles for {symbol}", field="timeframe")
        for symbol, tf in keys:
            key = (symbol, tf)
            stream = self._streams.get(key)
            if stream is not None:
                if time.monotonic() - stream.asked > self.idle_s:  # it was idle: catch up now
                    try:
                        await self._fetch(stream)
                    except Exception as exc:  # noqa: BLE001 - the poller retries; the history stays
                        log.warning("market data %s %s %s: catching up failed (%s)", self.exchange_id, symbol, tf,
                                    type(exc).__name__)
                stream.asked = time.monotonic()
                continue
            stream = _Stream(symbol, tf, TIMEFRAME_MS[tf])
            await self._retrying(f"fetching {symbol} {tf} candles", lambda s=stream: self._fetch(s), attempts=4)
            self._streams[key] = stream
            stream.task = asyncio.create_task(self._poll(stream), name=f"marketdata-{self.exchange_id}-{symbol}-{tf}")
            for asset in symbol.split("/"):
                self._track_usd(asset, markets)
        if self._usd_markets and self._usd_task is None:
            await self._refresh_usd()
            self._usd_task = asyncio.create_task(self._poll_usd(), name=f"marketdata-{self.exchange_id}-usd")

    async def _fetch(self, stream: _Stream) -> int:
        """Fetch what is new for ``stream``; returns how many closed candles were added."""
        venue = self._venue()
        limit = min(self.history + 1, MAX_PAGE)  # + the candle still forming
        added = 0
        # A full page means more may follow (after an outage); at most history's worth.
        for _ in range(self.history // limit + 2):
            since = stream.closed_until  # None at first: the newest ``limit`` candles
            rows = await venue.fetch_ohlcv(stream.symbol, stream.timeframe, since, limit)
            n = self._merge(stream, rows)
            added += n
            if n == 0 or len(rows) < limit:
                break
        return added

    def _merge(self, stream: _Stream, rows: list) -> int:
        now = self.clock.now_ms()
        rows = sorted((r for r in rows if r and r[0] is not None), key=lambda r: r[0])
        last = stream.last_open
        new = []
        for i, r in enumerate(rows):
            ts = int(r[0])
            close = ts + stream.tf_ms
            closed = close <= now and (i < len(rows) - 1 or close + CLOSE_GRACE_MS <= now)
            if not closed:
                break  # the candle still forming (and anything after it)
            if last is not None and ts <= last:
                continue  # already released: never twice, never out of order
            new.append((ts, *(float(x) if x is not None else float("nan") for x in r[1:6])))
            last = ts
        if new:
            stream.rows.extend(new)
            if len(stream.rows) > self.history:
                del stream.rows[: len(stream.rows) - self.history]
            stream.rebuild()
        return len(new)

    async def _poll(self, stream: _Stream) -> None:
        wait = self.poll_s
        while True:
            await asyncio.sleep(wait)
            wait = self.poll_s
            due = stream.closed_until is None or self.clock.now_ms() >= stream.closed_until + stream.tf_ms
            if not due or time.monotonic() - stream.asked > self.idle_s:
                continue
            try:
                await self._fetch(stream)
                stream.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - polling must outlive any venue hiccup
                wait = self._delay(exc, stream.failures)
                stream.failures += 1
                # Public endpoints: no key or signature can be in the message; keep it short anyway.
                log.warning("market data %s %s %s: poll failed (%s: %s); retry %d in %.1fs", self.exchange_id,
                            stream.symbol, stream.timeframe, type(exc).__name__, str(exc)[:200], stream.failures, wait)

    def _track_usd(self, asset: str, markets: dict) -> None:
        if asset in USD_LIKE or asset in self._usd_markets:
            return
        for quote in USD_QUOTES:
            if f"{asset}/{quote}" in markets:
                self._usd_markets[asset] = f"{asset}/{quote}"
                return

    async def _refresh_usd(self) -> None:
        venue = self._venue()
        for asset, symbol in list(self._usd_markets.items()):
            try:
                ticker = await venue.fetch_ticker(symbol)
            except Exception as exc:  # noqa: BLE001 - a missing price is reported as None, never fatal
                log.warning("market data %s: %s ticker failed (%s)", self.exchange_id, symbol, type(exc).__name__)
                continue
            last = ticker.get("last") or ticker.get("close")
            if last:
                self._usd_last[asset] = Decimal(repr(float(last)))

    async def _poll_usd(self) -> None:
        while True:
            await asyncio.sleep(self.usd_poll_s)
            await self._refresh_usd()

    async def close(self) -> None:
        tasks = [s.task for s in self._streams.values() if s.task] + ([self._usd_task] if self._usd_task else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._usd_task = None
        if self._exchange is not None:
            await self._exchange.close()
            self._exchange = None

    # ------------------------------------------------------------------------ the feed interface
    def available(self) -> list[tuple[str, str]]:
        return sorted(self._streams)

    def symbols(self) -> list[str]:
        return sorted({s for s, _ in self._streams})

    def has(self, symbol: str, timeframe: str) -> bool:
        return (symbol, timeframe) in self._streams

    def series(self, symbol: str, timeframe: str) -> Series:
        stream = self._streams.get((symbol, timeframe))
        if stream is None:
            raise InvalidArgument(f"no market data for {symbol} at {timeframe}", field="markets")
        stream.asked = time.monotonic()
        if stream.series is None:
            stream.rebuild()
        return stream.series  # type: ignore[return-value]

    def _horizon(self, keys: Sequence[tuple[str, str]]) -> int | None:
        """Candles opening before this time are final in every one of ``keys``."""
        ends = [s.closed_until for k in keys if (s := self._streams.get(k)) is not None and s.rows]
        return min(ends) if ends else None

    def start_time(self, keys: Sequence[tuple[str, str]]) -> int:
        """The newest candle time final in all ``keys``: a bot started now trades from it on."""
        horizon = self._horizon(keys)
        best = None
        for k in keys:
            s = self.series(*k)
            i = bisect.bisect_left(s.times, horizon) - 1 if horizon is not None else -1
            if i >= 0:
                best = int(s.times[i]) if best is None else max(best, int(s.times[i]))
        if best is None:
            raise Unavailable(f"no closed candles yet from {self.exchange_id}")
        return best

    def next_time(self, keys: Sequence[tuple[str, str]]) -> int | None:
        """Time of the first candle after ``now_ms`` among ``keys`` that every one of them has
        closed past (None while the venue has nothing new)."""
        now = time.monotonic()
        for k in keys:
            if (stream := self._streams.get(k)) is not None:
                stream.asked = now
        horizon = self._horizon(keys)
        if horizon is None:
            return None
        best = None
        for k in keys:
            if k not in self._streams:
                continue
            s = self.series(*k)
            i = bisect.bisect_right(s.times, self.now_ms) if self.now_ms is not None else 0
            if i < len(s.times) and int(s.times[i]) < horizon:
                t = int(s.times[i])
                best = t if best is None else min(best, t)
        return best

    def index_at(self, symbol: str, timeframe: str, ts: int) -> int:
        """Index of the newest candle at or before ``ts`` (-1 when none)."""
        return bisect.bisect_right(self.series(symbol, timeframe).times, ts) - 1

    def last_candle(self, symbol: str, timeframe: str | None = None) -> Candle | None:
        if self.now_ms is None:
            return None
        tfs = [timeframe] if timeframe else sorted((tf for s, tf in self._streams if s == symbol),
                                                   key=lambda tf: TIMEFRAME_MS[tf])
        for tf in tfs:
            if (symbol, tf) in self._streams:
                i = self.index_at(symbol, tf, self.now_ms)
                if i >= 0:
                    return self.series(symbol, tf).candle(i)
        return None

    def usd_price(self, asset: str) -> Decimal | None:
        """USD value of one ``asset``: 1 for USD-like coins, the last released close of an
        ``ASSET/USDT``-like series in use, else the venue's last ``ASSET/USDT``-like ticker."""
        if asset in USD_LIKE:
            return Decimal(1)
        for quote in USD_QUOTES:
            if any(s == f"{asset}/{quote}" for s, _ in self._streams):
                candle = self.last_candle(f"{asset}/{quote}")
                if candle is not None:
                    return candle.close
        return self._usd_last.get(asset)

    async def pace(self, timeframe_ms: int) -> None:
        """Live candles arrive in real time: nothing to wait for beyond the engine's own idle."""
        await asyncio.sleep(0)
