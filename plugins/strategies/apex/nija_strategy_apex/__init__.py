"""APEX V7.2: dual-RSI reversal entries inside an uptrend, ATR-scaled protective orders.

Rules (column ``t`` is the candle that just closed, ``t-1`` the one before):

- **Entry (long)**: both RSIs were oversold on ``t-1`` (``rsi_fast[t-1] < oversold`` and
  ``rsi_slow[t-1] < oversold``), both turned up on ``t`` (``rsi[t] > rsi[t-1]`` for each), and,
  with ``trend_filter`` on, the trend is up: ``EMA(ema_fast)[t] > EMA(ema_slow)[t]``.
- **Exit**: either RSI was overbought on ``t-1`` (``> overbought``) and turned down on ``t``.
- **Protection**: a stop-loss at ``close - stop_atr × ATR`` and a take-profit at
  ``close + take_profit_atr × ATR`` (prices of candle ``t``), placed with the entry.
- **Size**: ``position_fraction`` of equity per entry.
- **Strength**: how deep the slower RSI was below the oversold line, scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

from nija.core.plugins import hookimpl
from nija.core.strategies import Parameter, Strategy, StrategyContext


class Apex(Strategy):
    name = "apex"
    description = "APEX V7.2 dual RSI (9/14) reversal with EMA(50/200) trend filter and ATR stops"
    lookback = 2
    parameters = {
        "rsi_fast": Parameter("int", 9, 2, 100, "Period of the fast RSI"),
        "rsi_slow": Parameter("int", 14, 2, 200, "Period of the slow RSI"),
        "oversold": Parameter("float", 30.0, 1.0, 50.0, "Both RSIs below this on the previous candle arm an entry"),
        "overbought": Parameter("float", 70.0, 50.0, 99.0, "Either RSI above this, then turning down, exits"),
        "trend_filter": Parameter("bool", True, description="Only enter when EMA(ema_fast) > EMA(ema_slow)"),
        "ema_fast": Parameter("int", 50, 2, 500, "Fast EMA of the trend filter"),
        "ema_slow": Parameter("int", 200, 3, 1000, "Slow EMA of the trend filter"),
        "atr_period": Parameter("int", 14, 1, 200, "ATR period for the stop and target"),
        "stop_atr": Parameter("float", 2.0, 0.1, 20.0, "Stop-loss distance below the entry candle's close, in ATRs"),
        "take_profit_atr": Parameter("float", 3.0, 0.1, 50.0, "Take-profit distance above the close, in ATRs"),
        "position_fraction": Parameter("float", 0.1, 0.001, 1.0, "Share of equity committed per entry"),
    }

    def indicators(self):
        p = self.params
        return {
            "rsi_fast": ("rsi", {"timeperiod": p["rsi_fast"]}),
            "rsi_slow": ("rsi", {"timeperiod": p["rsi_slow"]}),
            "ema_fast": ("ema", {"timeperiod": p["ema_fast"]}),
            "ema_slow": ("ema", {"timeperiod": p["ema_slow"]}),
            "atr": ("atr", {"timeperiod": p["atr_period"]}),
        }

    def evaluate(self, ctx: StrategyContext) -> None:
        p = self.params
        fast, slow = ctx.indicator("rsi_fast"), ctx.indicator("rsi_slow")
        fast_prev, slow_prev = ctx.previous(fast), ctx.previous(slow)
        # NaN comparisons are False, so warm-up columns never signal.
        entry = (fast_prev < p["oversold"]) & (slow_prev < p["oversold"]) & (fast > fast_prev) & (slow > slow_prev)
        if p["trend_filter"]:
            entry &= ctx.indicator("ema_fast") > ctx.indicator("ema_slow")
        exit_ = ((fast_prev > p["overbought"]) & (fast < fast_prev)) | ((slow_prev > p["overbought"]) & (slow < slow_prev))
        close, atr = ctx.candles("close"), ctx.indicator("atr")
        strength = np.clip((p["oversold"] - slow_prev) / p["oversold"], 0.0, 1.0)
        ctx.emit(entry=entry, exit=exit_, strength=np.nan_to_num(strength),
                 stop_loss=close - p["stop_atr"] * atr, take_profit=close + p["take_profit_atr"] * atr)


@hookimpl
def register_strategies():
    return [Apex]
