"""Indicator values for a strategy's declaration, over whole series (2-D batch kernels)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nija.core import indicators as ta
from nija.core.indicators._streaming import KINDS


def _batch(kind: str, params: Mapping[str, Any], c: Mapping[str, np.ndarray]):
    full = {**KINDS[kind][0], **params}
    if kind == "atr":
        return ta.atr(c["high"], c["low"], c["close"], **full)
    fn = {"sma": ta.sma, "ema": ta.ema, "rsi": ta.rsi, "macd": ta.macd, "bbands": ta.bbands}[kind]
    return fn(c["close"], **full)


def _nan_like(kind: str, shape) -> Any:
    n_out = {"macd": 3, "bbands": 3}.get(kind, 1)
    outs = tuple(np.full(shape, np.nan) for _ in range(n_out))
    return outs if n_out > 1 else outs[0]


def compute_indicators(spec: Mapping[str, tuple[str, Mapping[str, Any]]],
                       candles: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Compute every declared indicator on 2-D (markets x time) candle arrays in one native
    call per indicator (no loop over markets).

    A series shorter than an indicator's lookback yields NaN (no decision) instead of an error,
    so a short backtest file simply trades nothing.
    """
    shape = candles["close"].shape
    out: dict[str, Any] = {}
    for name, (kind, params) in spec.items():
        if kind not in KINDS:
            raise ValueError(f"indicator {name}: unknown kind {kind!r}; one of {sorted(KINDS)}")
        try:
            out[name] = _batch(kind, params, candles)
        except ta.IndicatorError as exc:
            if "needs at least" not in exc.message:
                raise
            out[name] = _nan_like(kind, shape)
    return out
