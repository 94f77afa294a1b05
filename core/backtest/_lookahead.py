"""Catching strategies that look into the future.

A backtest evaluates a strategy once over a market's whole history. That is only honest if
the decision for column ``t`` is the one the strategy would have made live, when columns after
``t`` did not exist yet. :func:`check_lookahead` re-evaluates the strategy on the
``lookback``-column window ending at sampled columns (the live scanner's view: later candles
hidden) and compares. Any difference means the strategy used data it could not have had (or
needs more history than its declared ``lookback``), and the backtest is refused.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nija.core.errors import StrategyError
from nija.core.strategies import SignalFrame, StrategyContext, StrategyGuard


class LookAheadError(StrategyError):
    """The strategy's backtest decisions differ from what it decides with the future hidden."""

    reason = "STRATEGY_LOOKAHEAD"


def sample_columns(frame: SignalFrame, first: int, n_columns: int, samples: int) -> list[int]:
    """Deterministic columns to check: the earliest signalling columns (where peeking shows)
    and evenly spaced ones."""
    if n_columns <= first:
        return []
    sig = np.flatnonzero(frame.entry[0, first:] | frame.exit[0, first:]) + first
    even = np.linspace(first, n_columns - 1, num=max(2, samples // 2)).astype(np.int64)
    picked = np.unique(np.concatenate((sig[: samples // 2], sig[-(samples // 4):] if len(sig) else sig, even)))
    return [int(t) for t in picked]


def check_lookahead(strategy, guard: StrategyGuard, bot_id: str, symbol: str, times: np.ndarray,
                    candles: Mapping[str, np.ndarray], values: Mapping[str, Any], frame: SignalFrame,
                    samples: int = 32) -> int:
    """Compare the batch decisions with windowed ones at sampled columns.

    Returns
    -------
    int
        How many columns were checked.

    Raises
    ------
    LookAheadError
        At the first column whose decision changes once later candles are hidden.
    """
    w = max(1, int(strategy.lookback))
    cols = sample_columns(frame, w - 1, len(times), samples)
    for t in cols:
        lo = t - w + 1
        ctx = StrategyContext(
            (symbol,), times[lo:t + 1], {k: a[:, lo:t + 1] for k, a in candles.items()},
            {k: tuple(x[:, lo:t + 1] for x in v) if isinstance(v, tuple) else v[:, lo:t + 1] for k, v in values.items()},
        )
        guard.call(bot_id, strategy, "evaluate", ctx)
        if not ctx.frame().column(-1).equals(frame.column(t)):
            raise LookAheadError(
                f"strategy {strategy.name} looks ahead: on {symbol} its decision for the candle at "
                f"{int(times[t])} changes when later candles are hidden (or it needs more than its "
                f"declared lookback of {w} candles)", strategy=strategy.name)
    return len(cols)
