"""Bollinger-band mean reversion: buy the snap-back into the band, sell at the mean.

Rules (column ``t`` is the candle that just closed):

- **Entry (long)**: the close was below the lower band on ``t-1`` and is back inside on ``t``
  (``close[t-1] < lower[t-1]`` and ``close[t] > lower[t]``).
- **Exit**: the close reaches the middle band (``exit_at = "middle"``) or the upper band
  (``exit_at = "upper"``).
- **Protection**: a stop-loss ``stop_atr`` ATRs below the close; a take-profit at the upper
  band of the entry candle.
- **Size**: ``position_fraction`` of equity.
"""

from __future__ import annotations

import numpy as np

from nija.core.plugins import hookimpl
from nija.core.strategies import Parameter, Strategy, StrategyContext


class BollingerReversion(Strategy):
    name = "bollinger_reversion"
    description = "Buys a close back inside the lower Bollinger band, exits at the middle band"
    lookback = 2
    parameters = {
        "period": Parameter("int", 20, 2, 500, "SMA period of the bands"),
        "nbdev": Parameter("float", 2.0, 0.1, 10.0, "Band width in standard deviations"),
        "exit_at": Parameter("str", "middle", description="Band that takes profit", choices=("middle", "upper")),
        "atr_period": Parameter("int", 14, 1, 200, "ATR period for the stop"),
        "stop_atr": Parameter("float", 2.0, 0.1, 20.0, "Stop-loss distance below the close, in ATRs"),
        "position_fraction": Parameter("float", 0.1, 0.001, 1.0, "Share of equity committed per entry"),
    }

    def indicators(self):
        p = self.params
        return {"bb": ("bbands", {"timeperiod": p["period"], "nbdevup": p["nbdev"], "nbdevdn": p["nbdev"]}),
                "atr": ("atr", {"timeperiod": p["atr_period"]})}

    def evaluate(self, ctx: StrategyContext) -> None:
        upper, middle, lower = ctx.indicator("bb")
        close = ctx.candles("close")
        entry = (ctx.previous(close) < ctx.previous(lower)) & (close > lower)
        target = middle if self.params["exit_at"] == "middle" else upper
        exit_ = close >= target
        width = upper - lower
        strength = np.clip(np.nan_to_num((middle - close) / np.where(width > 0, width, np.inf) * 2), 0.0, 1.0)
        ctx.emit(entry=entry, exit=exit_, strength=strength, take_profit=upper,
                 stop_loss=close - self.params["stop_atr"] * ctx.indicator("atr"))


@hookimpl
def register_strategies():
    return [BollingerReversion]
