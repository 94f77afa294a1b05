"""MACD trend follower: ride the trend while the MACD line is above its signal line.

Rules (column ``t`` is the candle that just closed):

- **Entry (long)**: the MACD histogram crosses above zero (``hist[t-1] <= 0 < hist[t]``), i.e.
  the MACD line crosses above its signal line; with ``require_positive`` the MACD line must
  also be above zero (the fast EMA above the slow one: an established uptrend).
- **Exit**: the histogram crosses below zero.
- **Protection**: a stop-loss ``stop_atr`` ATRs below the close; no take-profit (trends run).
- **Size**: ``position_fraction`` of equity.
"""

from __future__ import annotations

import numpy as np

from nija.core.plugins import hookimpl
from nija.core.strategies import Parameter, Strategy, StrategyContext


class MacdTrend(Strategy):
    name = "macd_trend"
    description = "MACD signal-line crossover trend follower with an ATR stop"
    lookback = 2
    parameters = {
        "fast": Parameter("int", 12, 2, 200, "Fast EMA period of the MACD"),
        "slow": Parameter("int", 26, 3, 400, "Slow EMA period of the MACD"),
        "signal": Parameter("int", 9, 1, 100, "Signal-line EMA period"),
        "require_positive": Parameter("bool", True, description="Enter only while the MACD line is above zero"),
        "atr_period": Parameter("int", 14, 1, 200, "ATR period for the stop"),
        "stop_atr": Parameter("float", 3.0, 0.1, 20.0, "Stop-loss distance below the close, in ATRs"),
        "position_fraction": Parameter("float", 0.1, 0.001, 1.0, "Share of equity committed per entry"),
    }

    def indicators(self):
        p = self.params
        return {"macd": ("macd", {"fastperiod": p["fast"], "slowperiod": p["slow"], "signalperiod": p["signal"]}),
                "atr": ("atr", {"timeperiod": p["atr_period"]})}

    def evaluate(self, ctx: StrategyContext) -> None:
        line, _, hist = ctx.indicator("macd")
        prev = ctx.previous(hist)
        entry = (prev <= 0) & (hist > 0)
        if self.params["require_positive"]:
            entry &= line > 0
        exit_ = (prev >= 0) & (hist < 0)
        strength = np.clip(np.nan_to_num(hist / np.abs(line)), 0.0, 1.0)
        ctx.emit(entry=entry, exit=exit_, strength=strength,
                 stop_loss=ctx.candles("close") - self.params["stop_atr"] * ctx.indicator("atr"))


@hookimpl
def register_strategies():
    return [MacdTrend]
