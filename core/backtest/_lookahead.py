"""Catching strategies that look into the future.

A backtest evaluates a strategy once over a market's whole history. That is only honest if
the decision for column ``t`` is the one the strategy would have made live, when columns after
``t`` did not exist yet. :func:`check_lookahead` re-evaluates the strategy on the
``lookback``-column window ending at every column where it signalled and at evenly spaced
others (the live scanner's view: later candles hidden) and compares. Any difference means the strategy used data it could not have had (or
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


def sample_columns(frame: SignalFrame, first: int, n_columns: int, samples: int,
                   max_columns: int = 100_000) -> np.ndarray:
    """Columns to check: every column with an entry or exit (the decisions a backtest acts
    on) plus ``samples`` evenly spaced ones (a peek can also *suppress* a signal); evenly
    thinned to ``max_columns``."""
    if n_columns <= first:
        return np.zeros(0, dtype=np.int64)
    sig = np.flatnonzero(frame.entry[0, first:] | frame.exit[0, first:]) + first
    even = np.linspace(first, n_columns - 1, num=max(2, samples)).astype(np.int64)
    cols = np.union1d(sig, even)
    if len(cols) > max_columns:
        cols = cols[np.linspace(0, len(cols) - 1, max_columns).astype(np.int64)]
    return cols


def _window_ctx(symbols, times, candles, values, idx) -> StrategyContext:
    def take(a):
        return a[0][idx]
    return StrategyContext(
        symbols, times, {k: take(a) for k, a in candles.items()},
        {k: tuple(take(x) for x in v) if isinstance(v, tuple) else take(v) for k, v in values.items()})


def check_lookahead(strategy, guard: StrategyGuard, bot_id: str, symbol: str, times: np.ndarray,
                    candles: Mapping[str, np.ndarray], values: Mapping[str, Any], frame: SignalFrame,
                    samples: int = 64) -> int:
    """Compare the batch decisions with the ones made on ``lookback``-column windows that end
    at each checked column (later candles hidden).

    All windows are evaluated in one call, stacked as rows (``(columns, lookback)`` arrays,
    as if each were a market of the scanner); a difference there is confirmed by evaluating
    that window alone, so strategies that compare markets or read ``ctx.times`` are not
    falsely accused.

    Returns
    -------
    int
        How many columns were checked.

    Raises
    ------
    LookAheadError
        When a decision changes once later candles are hidden.
    """
    w = max(1, int(strategy.lookback))
    # Bound the stacked windows to ~2M cells per field, whatever the lookback.
    cols = sample_columns(frame, w - 1, len(times), samples, max_columns=max(samples, min(100_000, 2_000_000 // w)))
    if len(cols) == 0:
        return 0
    offsets = np.arange(-w + 1, 1)
    idx = cols[:, None] + offsets[None, :]
    ctx = _window_ctx((symbol,) * len(cols), times[cols[0] - w + 1:cols[0] + 1], candles, values, idx)
    guard.call(bot_id, strategy, "evaluate", ctx)
    got, want = ctx.frame(), frame
    same = ((got.entry[:, -1] == want.entry[0, cols]) & (got.exit[:, -1] == want.exit[0, cols]))
    for a, b in ((got.strength, want.strength), (got.stop_loss, want.stop_loss),
                 (got.take_profit, want.take_profit)):
        x, y = a[:, -1], b[0, cols]
        same &= (x == y) | (np.isnan(x) & np.isnan(y))
    for r in np.flatnonzero(~same)[:8]:
        t = int(cols[r])
        alone = _window_ctx((symbol,), times[t - w + 1:t + 1], candles, values, idx[r:r + 1])
        guard.call(bot_id, strategy, "evaluate", alone)
        if not alone.frame().column(-1).equals(frame.column(t)):
            raise LookAheadError(
                f"strategy {strategy.name} looks ahead: on {symbol} its decision for the candle at "
                f"{int(times[t])} changes when later candles are hidden (or it needs more than its "
                f"declared lookback of {w} candles)", strategy=strategy.name)
    return len(cols)
