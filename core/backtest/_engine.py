"""The event-driven backtester.

How a run goes
--------------
1. For each market, the strategy's indicators are computed once over the whole series (2-D
   kernels) and :meth:`Strategy.evaluate` is called once over all columns, through the same
   :class:`~nija.core.strategies.StrategyGuard` the live engine uses. The result is checked
   for look-ahead (:func:`check_lookahead`) before anything trades.
2. A discrete-event loop then walks *time*, not candles: the events are entry decisions,
   exit decisions, protective-order triggers and the end of the data, popped in time order
   across every market (exits before entries at the same time, then market order), so all
   markets share one cash balance and one equity. Between two events nothing can change the
   account, so the loop only does work where something happens.
3. Orders are :class:`~nija.core.portfolio.Order` objects filled by the shared
   :class:`~nija.core.portfolio.FillModel` (a decision on candle ``t`` fills on ``t+1`` or
   later), sized by :func:`~nija.core.portfolio.quantity_for_fraction`, and booked in a Decimal
   :class:`~nija.core.portfolio.Portfolio`: the same code the live engine uses.

Protective orders: an entry's stop-loss and take-profit are placed with it (a bracket), so
they are live from the entry's fill candle on; when both trigger in one candle the stop is
assumed first (conservative). A position still open at the end is closed at the last close.

Gaps: every market advances on its own candles; "the next candle" after a gap is simply the
next one present, so a fill after a gap happens at that candle's open.
"""

from __future__ import annotations

import heapq
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Sequence

import numpy as np

from nija.core.errors import InvalidArgument
from nija.core.portfolio import (Candle, Fill, FillModel, Order, OrderType, Portfolio, Side,
                                 quantity_for_fraction, to_decimal)
from nija.core.strategies import Signal, SignalAction, Strategy, StrategyContext, StrategyGuard, compute_indicators

from ._data import MarketData
from ._lookahead import check_lookahead

ACCOUNT = "backtest"
EXIT, ENTRY = 0, 1  # event priorities at equal times: free cash first


@dataclass(frozen=True)
class BacktestConfig:
    """Knobs of a run. ``initial_cash`` is in the markets' (common) quote currency."""

    initial_cash: Decimal = Decimal(10_000)
    fill_model: FillModel = field(default_factory=FillModel)
    check_lookahead: bool = True
    #: Evenly spaced columns checked for look-ahead besides every signalling column.
    lookahead_samples: int = 64
    #: None: show a progress bar on stderr for runs of at least 200 000 candles.
    progress: bool | None = None


@dataclass
class Trade:
    """One round trip (entry fill(s) to the last exit fill)."""

    symbol: str
    entry_ts: int
    entry_price: Decimal
    quantity: Decimal
    exit_ts: int = 0
    exit_price: Decimal = Decimal(0)
    exit_reason: str = ""
    fees: Decimal = Decimal(0)
    pnl: Decimal = Decimal(0)
    bars: int = 0
    _exit_value: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        cost = self.entry_price * self.quantity
        return {"symbol": self.symbol, "entry_ts": self.entry_ts, "entry_price": str(self.entry_price),
                "quantity": str(self.quantity), "exit_ts": self.exit_ts, "exit_price": str(self.exit_price),
                "exit_reason": self.exit_reason, "fees": str(self.fees), "pnl": str(self.pnl),
                "return_pct": float(self.pnl / cost * 100) if cost else 0.0, "bars": self.bars}


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.shown = max(total, 1), enabled, -1

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        pct = min(100, done * 100 // self.total)
        if pct != self.shown:
            self.shown = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            sys.stderr.write(f"\rbacktest [{bar}] {pct:3d}%")
            if pct == 100:
                sys.stderr.write("\n")
            sys.stderr.flush()


@dataclass
class _Market:
    data: MarketData
    frame: Any
    entries: np.ndarray
    exits: np.ndarray
    qty_delta: np.ndarray  # signed quantity change effective at each candle's close (float, for the curve)
    trade: Trade | None = None
    fill_idx: int = 0
    stop: float = np.nan
    target: float = np.nan
    remaining: Decimal = Decimal(0)
    order_ts: int = 0
    seq: int = 0


def _candle(d: MarketData, j: int) -> Candle:
    # repr() of a Python float is the shortest round-tripping text: the CSV's own digits.
    return Candle(int(d.ts[j]), Decimal(repr(float(d.open[j]))), Decimal(repr(float(d.high[j]))),
                  Decimal(repr(float(d.low[j]))), Decimal(repr(float(d.close[j]))), Decimal(repr(float(d.volume[j]))))


def _first_hit(d: MarketData, start: int, stop_at: int, stop: float, target: float) -> int:
    """First candle in [start, stop_at] whose range reaches the stop or the target, else -1.

    Searched in growing chunks so a long-held position costs O(held candles), not O(series).
    """
    if np.isnan(stop) and np.isnan(target):
        return -1
    j, chunk = start, 64
    while j <= stop_at:
        end = min(stop_at + 1, j + chunk)
        hit = np.zeros(end - j, dtype=bool)
        if not np.isnan(stop):
            hit |= d.low[j:end] <= stop
        if not np.isnan(target):
            hit |= d.high[j:end] > target
        nz = np.flatnonzero(hit)
        if len(nz):
            return j + int(nz[0])
        j, chunk = end, chunk * 4
    return -1


class Backtester:
    """Runs one strategy over one or more markets sharing one equity.

    Parameters
    ----------
    strategy : Strategy
        A configured instance (parameters already applied).
    markets : sequence of MarketData
        All quoted in the same currency.
    config : BacktestConfig, optional
    """

    def __init__(self, strategy: Strategy, markets: Sequence[MarketData], config: BacktestConfig | None = None,
                 bot_id: str = "backtest") -> None:
        if not markets:
            raise InvalidArgument("a backtest needs at least one market", field="data")
        symbols = [m.symbol for m in markets]
        if len(set(symbols)) != len(symbols):
            raise InvalidArgument(f"the same market appears twice: {symbols}", field="data")
        quotes = {m.quote for m in markets}
        if len(quotes) > 1:
            raise InvalidArgument(f"markets share one equity, so they need one quote currency; got {sorted(quotes)}",
                                  field="data")
        self.strategy, self.markets = strategy, list(markets)
        self.config = config or BacktestConfig()
        self.guard = StrategyGuard()
        self.bot_id = bot_id
        self.portfolio = Portfolio(cash={ACCOUNT: self.config.initial_cash})
        self.trades: list[Trade] = []
        self.lookahead_checked = 0
        self._heap: list[tuple] = []
        # Skip the no-op default callback (thousands of calls on long runs).
        self._wants_fills = type(strategy).on_fill is not Strategy.on_fill
        self._cash_events: list[tuple[int, float]] = []

    # -- signals ---------------------------------------------------------------------------
    def _signals(self, d: MarketData) -> _Market:
        candles = d.candles_2d()
        values = compute_indicators(self.strategy.indicators(), candles)
        ctx = StrategyContext((d.symbol,), d.ts, candles, values)
        self.guard.call(self.bot_id, self.strategy, "evaluate", ctx)
        frame = ctx.frame()
        if self.config.check_lookahead:
            self.lookahead_checked += check_lookahead(self.strategy, self.guard, self.bot_id, d.symbol, d.ts,
                                                      candles, values, frame, self.config.lookahead_samples)
        return _Market(d, frame, np.flatnonzero(frame.entry[0]), np.flatnonzero(frame.exit[0]),
                       np.zeros(len(d), dtype=np.float64))

    # -- events ----------------------------------------------------------------------------
    def _push(self, ts: int, prio: int, m: int, kind: str, idx: int) -> None:
        mk = self._m[m]
        mk.seq += 1
        heapq.heappush(self._heap, (ts, prio, m, mk.seq, kind, idx))

    def _schedule_entry(self, m: int, start: int) -> None:
        mk = self._m[m]
        k = int(np.searchsorted(mk.entries, start))
        if k < len(mk.entries) and mk.entries[k] + 1 < len(mk.data):
            i = int(mk.entries[k])
            self._push(int(mk.data.ts[i]), ENTRY, m, "entry", i)

    def _schedule_exit(self, m: int, start: int, decisions_from: int | None = None) -> None:
        """Next thing that closes (part of) market ``m``'s position: a protective order
        triggering on candle ``start`` or later, or an exit decided at the close of candle
        ``decisions_from`` (default ``start``) or later."""
        mk = self._m[m]
        d = mk.data
        last = len(d) - 1
        k = int(np.searchsorted(mk.exits, start if decisions_from is None else decisions_from))
        decision = int(mk.exits[k]) if k < len(mk.exits) else last
        j = _first_hit(d, start, decision, mk.stop, mk.target)
        if j >= 0:
            self._push(int(d.ts[j]), EXIT, m, "protect", j)
        elif decision < last:
            self._push(int(d.ts[decision]), EXIT, m, "signal", decision)
        else:
            self._push(int(d.ts[last]), EXIT, m, "end", last)

    def _marks(self, ts: int) -> dict[str, Decimal]:
        marks = {}
        for mk in self._m:
            if mk.trade is not None:
                j = int(np.searchsorted(mk.data.ts, ts, side="right")) - 1
                marks[mk.data.symbol] = to_decimal(float(mk.data.close[max(j, 0)]))
        return marks

    def _book(self, mk: _Market, fill: Fill, j: int) -> None:
        self.portfolio.apply(fill)
        mk.qty_delta[j] += float(fill.quantity) * fill.side.sign
        self._cash_events.append((int(mk.data.ts[j]), float(-fill.side.sign * fill.notional - fill.fee)))
        if self._wants_fills:
            self.guard.call(self.bot_id, self.strategy, "on_fill", fill)

    def _enter(self, m: int, i: int) -> None:
        mk = self._m[m]
        d, f = mk.data, mk.frame
        ts = int(d.ts[i])
        sl, tp = float(f.stop_loss[0, i]), float(f.take_profit[0, i])
        signal = Signal(d.symbol, ts, SignalAction.ENTER_LONG, float(f.strength[0, i]),
                        None if np.isnan(sl) else sl, None if np.isnan(tp) else tp)
        fraction = self.guard.call(self.bot_id, self.strategy, "position_fraction", signal)
        model = self.config.fill_model
        price = to_decimal(float(d.close[i]))
        equity = self.portfolio.equity(ACCOUNT, self._marks(ts))
        qty = quantity_for_fraction(equity=equity, fraction=to_decimal(float(fraction)), price=price,
                                    cash=self.portfolio.cash[ACCOUNT],
                                    cost_bps=model.taker_fee_bps + model.slippage_bps * 2)
        if qty <= 0:
            self._schedule_entry(m, i + 1)
            return
        order = Order(f"{d.symbol}-{i}-entry", ACCOUNT, d.symbol, Side.BUY, qty, OrderType.MARKET,
                      submitted_ts_ms=ts)
        candle = _candle(d, i + 1)
        fill = model.execute(order, candle)
        cash = self.portfolio.cash[ACCOUNT]
        if fill.notional + fill.fee > cash:
            # The next open gapped above the sizing price: buy what the cash covers, as an
            # exchange would reject the rest for insufficient funds.
            qty = (cash / (fill.price * (1 + model.taker_fee_bps / 10_000))).quantize(Decimal("1e-8"), "ROUND_DOWN")
            if qty <= 0:
                self._schedule_entry(m, i + 1)
                return
            fill = model.execute(Order(order.order_id, ACCOUNT, d.symbol, Side.BUY, qty, OrderType.MARKET,
                                       submitted_ts_ms=ts), candle)
        self._book(mk, fill, i + 1)
        mk.trade = Trade(d.symbol, fill.ts_ms, fill.price, fill.quantity, fees=fill.fee)
        mk.fill_idx, mk.remaining, mk.order_ts = i + 1, fill.quantity, ts
        # Protective prices must sit on the right side of the entry to mean anything.
        mk.stop = sl if sl > 0 else np.nan
        mk.target = tp if tp > 0 else np.nan
        self._schedule_exit(m, i + 1)

    def _exit(self, m: int, kind: str, j: int) -> None:
        mk = self._m[m]
        d, model = mk.data, self.config.fill_model
        sym, tag = d.symbol, f"{d.symbol}-{mk.fill_idx - 1}"
        if kind == "protect":
            candle = _candle(d, j)
            stop_hit = not np.isnan(mk.stop) and d.low[j] <= mk.stop
            if stop_hit:
                order = Order(f"{tag}-sl", ACCOUNT, sym, Side.SELL, mk.remaining, OrderType.STOP,
                              stop_price=to_decimal(mk.stop), submitted_ts_ms=mk.order_ts)
                fill, reason = model.execute(order, candle), "stop_loss"
            else:
                order = Order(f"{tag}-tp", ACCOUNT, sym, Side.SELL, mk.remaining, OrderType.LIMIT,
                              limit_price=to_decimal(mk.target), submitted_ts_ms=mk.order_ts)
                fill = model.execute(order, candle, mk.remaining, first_candle=(j == mk.fill_idx))
                reason = "take_profit"
            exit_idx = j
        elif kind == "signal":
            exit_idx = j + 1
            order = Order(f"{tag}-exit", ACCOUNT, sym, Side.SELL, mk.remaining, OrderType.MARKET,
                          submitted_ts_ms=int(d.ts[j]))
            fill, reason = model.execute(order, _candle(d, exit_idx)), "signal"
        else:  # end of data: close at the last close, as a taker
            exit_idx = j
            price = to_decimal(float(d.close[j])) * (1 - model.slippage_bps / 10_000)
            fee = mk.remaining * price * model.taker_fee_bps / 10_000
            fill = Fill(ACCOUNT, sym, Side.SELL, mk.remaining, price, fee, int(d.ts[j]), f"{tag}-end")
            reason = "end"
        if fill is None:  # e.g. a take-profit touched but not traded through: look further
            self._schedule_exit(m, j + 1, decisions_from=j)
            return
        self._book(mk, fill, exit_idx)
        tr = mk.trade
        tr.fees += fill.fee
        tr._exit_value += fill.notional
        mk.remaining -= fill.quantity
        if mk.remaining > 0:
            # Partly filled inside candle j: its close may still decide an exit.
            self._schedule_exit(m, j + 1, decisions_from=j)
            return
        tr.exit_ts, tr.exit_reason = fill.ts_ms, reason
        tr.exit_price = tr._exit_value / tr.quantity
        tr.pnl = tr._exit_value - tr.entry_price * tr.quantity - tr.fees
        tr.bars = exit_idx - mk.fill_idx + 1
        self.trades.append(tr)
        mk.trade = None
        mk.stop = mk.target = np.nan
        # Flat from this candle on; a new decision needs a candle that closes flat.
        self._schedule_entry(m, exit_idx)

    # -- run -------------------------------------------------------------------------------
    def run(self):
        """Run the backtest and return a :class:`~nija.core.backtest.BacktestResult`."""
        from ._result import build_result

        total = sum(len(d) for d in self.markets)
        show = self.config.progress if self.config.progress is not None else total >= 200_000
        progress = _Progress(total, show)
        symbols = tuple(d.symbol for d in self.markets)
        self.guard.call(self.bot_id, self.strategy, "on_start", symbols)
        self._m = [self._signals(d) for d in self.markets]
        t0 = min(int(d.ts[0]) for d in self.markets)
        t1 = max(int(d.ts[-1]) for d in self.markets)
        for m in range(len(self._m)):
            self._schedule_entry(m, 0)
        span = max(t1 - t0, 1)
        n_events = 0
        while self._heap:
            ts, _, m, _, kind, idx = heapq.heappop(self._heap)
            if kind == "entry":
                self._enter(m, idx)
            else:
                self._exit(m, kind, idx)
            n_events += 1
            if n_events % 64 == 0:
                progress((ts - t0) * total // span)
        progress(total)
        return build_result(self)
