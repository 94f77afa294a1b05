"""The backtester's speed (``make bench``): apex on one market, the whole pipeline.

Rows, each with its peer measured in the same run:

- NIJA over a 1,000,000-candle series (``tests/data/ohlcv/ETH_BTC-5m.csv`` tiled):
  indicators, evaluate, the look-ahead check, the event loop with Decimal fills and the
  result (metrics, JSON). Peer: a plain-Python reference loop, one iteration per candle with
  the same rules on precomputed TA-Lib indicators and float accounting (how a naive
  event-driven backtester runs).
- NIJA vs backtrader (PyPI) running the same dual-RSI rules (bracket stop/take-profit at
  2/3 ATR, 10% of equity, fills at the next open) on the same data, shorter series because
  backtrader needs ~1 minute per million candles; prints the speed ratio and both trade counts.

Target (issue 4): >= 1,000,000 candles/s for apex on one market over 1M candles.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import talib

from nija.core.backtest import BacktestConfig, load_csv, run_backtest, tile

RUNS = int(os.environ.get("NIJA_BENCH_RUNS", "5"))
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "ohlcv" / "ETH_BTC-5m.csv"
CONFIG = BacktestConfig(initial_cash=Decimal(1), progress=False)


def median_s(fn, runs: int = RUNS):
    result = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def nija_pipeline(market):
    result = run_backtest("apex", [market], config=CONFIG)
    result.to_json()
    return result


def reference_loop(m):
    """Apex in a per-candle Python loop (same rules, float accounting)."""
    c = m.close
    r9, r14 = talib.RSI(c, 9).tolist(), talib.RSI(c, 14).tolist()
    e50, e200 = talib.EMA(c, 50).tolist(), talib.EMA(c, 200).tolist()
    atr = talib.ATR(m.high, m.low, c, 14).tolist()
    o, h, lo, cl = m.open.tolist(), m.high.tolist(), m.low.tolist(), c.tolist()
    cash, qty, stop, target, trades, pending = 1.0, 0.0, 0.0, 0.0, 0, None
    fee, slip = 0.001, 0.0005
    for t in range(1, len(cl)):
        if pending == "buy":
            price = o[t] * (1 + slip)
            qty = 0.1 * cash / price
            cash -= qty * price * (1 + fee)
            pending = None
        elif pending == "sell":
            cash += qty * o[t] * (1 - slip) * (1 - fee)
            qty, pending, trades = 0.0, None, trades + 1
        if qty > 0 and pending is None:
            if lo[t] <= stop:
                cash += qty * min(o[t], stop) * (1 - slip) * (1 - fee)
                qty, trades = 0.0, trades + 1
                continue
            if h[t] > target:
                cash += qty * target * (1 - fee)
                qty, trades = 0.0, trades + 1
                continue
            if (r9[t - 1] > 70 and r9[t] < r9[t - 1]) or (r14[t - 1] > 70 and r14[t] < r14[t - 1]):
                pending = "sell"
        elif qty == 0 and pending is None:
            if (r9[t - 1] < 30 and r14[t - 1] < 30 and r9[t] > r9[t - 1] and r14[t] > r14[t - 1]
                    and e50[t] > e200[t] and t + 1 < len(cl)):
                pending, stop, target = "buy", cl[t] - 2 * atr[t], cl[t] + 3 * atr[t]
    return trades


def backtrader_run(m):
    import backtrader as bt

    class DualRsi(bt.Strategy):
        def __init__(self):
            self.r9 = bt.ind.RSI(self.data.close, period=9, safediv=True)
            self.r14 = bt.ind.RSI(self.data.close, period=14, safediv=True)
            self.e50 = bt.ind.EMA(self.data.close, period=50)
            self.e200 = bt.ind.EMA(self.data.close, period=200)
            self.atr = bt.ind.ATR(self.data, period=14)
            self.bracket = None

        def next(self):
            if self.position:
                if (self.r9[-1] > 70 and self.r9[0] < self.r9[-1]) or (self.r14[-1] > 70 and self.r14[0] < self.r14[-1]):
                    for o in self.bracket[1:]:
                        self.cancel(o)
                    self.close()
            elif self.bracket is None or not any(o.alive() for o in self.bracket):
                if (self.r9[-1] < 30 and self.r14[-1] < 30 and self.r9[0] > self.r9[-1] and self.r14[0] > self.r14[-1]
                        and self.e50[0] > self.e200[0]):
                    close, atr = self.data.close[0], self.atr[0]
                    size = 0.1 * self.broker.getvalue() / close
                    self.bracket = self.buy_bracket(size=size, exectype=bt.Order.Market,
                                                    stopprice=close - 2 * atr, limitprice=close + 3 * atr)

    class ArrayFeed(bt.feed.DataBase):
        """Candles straight from the arrays (no pandas needed)."""

        def start(self):
            super().start()
            d = self.p.dataname
            self._rows = iter(zip((bt.date2num(datetime.fromtimestamp(t / 1000, tz=timezone.utc).replace(tzinfo=None))
                                   for t in d.ts.tolist()), d.open.tolist(), d.high.tolist(), d.low.tolist(),
                                  d.close.tolist(), d.volume.tolist()))

        def _load(self):
            row = next(self._rows, None)
            if row is None:
                return False
            (self.lines.datetime[0], self.lines.open[0], self.lines.high[0], self.lines.low[0],
             self.lines.close[0], self.lines.volume[0]) = row
            self.lines.openinterest[0] = 0.0
            return True

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(ArrayFeed(dataname=m))
    cerebro.addstrategy(DualRsi)
    cerebro.broker.setcash(1.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.broker.set_slippage_perc(0.0005)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    strat = cerebro.run()[0]
    return strat.analyzers.trades.get_analysis().get("total", {}).get("closed", 0)


def main() -> int:
    base = load_csv(DATA)
    big = tile(base, 1_000_000)
    ours, res = median_s(lambda: nija_pipeline(big))
    ref, ref_trades = median_s(lambda: reference_loop(big), runs=max(1, RUNS // 2))
    print(f"backtest: apex, one market, {len(big):,} candles (ETH/BTC 5m tiled), whole pipeline, "
          f"median of {RUNS} runs; target >= 1,000,000 candles/s")
    print(f"{'row':<52}{'seconds':>9}{'candles/s':>13}{'trades':>8}")
    print(f"{'nija run_backtest + JSON':<52}{ours:>9.3f}{len(big) / ours:>13,.0f}{res.metrics['trades']:>8}")
    print(f"{'plain-Python reference loop (peer)':<52}{ref:>9.3f}{len(big) / ref:>13,.0f}{ref_trades:>8}")
    print(f"nija / reference speed: {ref / ours:.1f}x; target "
          f"{'met' if len(big) / ours >= 1_000_000 else 'NOT met'} ({len(big) / ours:,.0f} candles/s)")
    try:
        import backtrader  # noqa: F401
    except ImportError:
        print("backtrader row skipped: pip install backtrader (requirements-test.txt)")
        return 0
    small = tile(base, 57_600)
    bt_s, bt_trades = median_s(lambda: backtrader_run(small), runs=1)
    ours_s, res_s = median_s(lambda: nija_pipeline(small))
    print(f"{'nija, same rules, ' + format(len(small), ',') + ' candles':<52}{ours_s:>9.3f}{len(small) / ours_s:>13,.0f}"
          f"{res_s.metrics['trades']:>8}")
    print(f"{'backtrader ' + backtrader.__version__ + ', ' + format(len(small), ',') + ' candles':<52}{bt_s:>9.3f}"
          f"{len(small) / bt_s:>13,.0f}{bt_trades:>8}")
    print(f"nija / backtrader speed: {bt_s / ours_s:.0f}x; trades nija {res_s.metrics['trades']} vs backtrader {bt_trades}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
