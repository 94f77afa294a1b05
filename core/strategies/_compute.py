"""Indicator values for a strategy's declaration, over whole series (2-D batch kernels)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nija.core import indicators as ta
from nija.core.indicators._batch import BATCH_KINDS, _native as _batch_native
from nija.core.indicators._streaming import KINDS

Spec = Mapping[str, tuple[str, Mapping[str, Any]]]


def _n_out(kind: str) -> int:
    return {"macd": 3, "bbands": 3}.get(kind, 1)


def _single(kind: str, params: Mapping[str, Any], c: Mapping[str, np.ndarray], out=None):
    full = {**KINDS[kind][0], **params}
    if kind == "atr":
        return ta.atr(c["high"], c["low"], c["close"], **full, out=out)
    fn = {"sma": ta.sma, "ema": ta.ema, "rsi": ta.rsi, "macd": ta.macd, "bbands": ta.bbands}[kind]
    return fn(c["close"], **full, out=out)


def _nan_like(kind: str, shape, out=None) -> Any:
    if out is None:
        outs = tuple(np.full(shape, np.nan) for _ in range(_n_out(kind)))
    else:
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            o.fill(np.nan)
    return outs if len(outs) > 1 else outs[0]


def _too_short(exc: ta.IndicatorError) -> bool:
    return "needs at least" in exc.message


class IndicatorBuffers:
    """``out=`` buffers for :func:`compute_indicators`, reused from one cycle to the next.

    One set per number of candles, sized for the largest block of markets seen; a smaller
    block (the last one of a scan) writes into the leading rows, which are C-contiguous.
    Reusing them matters because an output above glibc's mmap threshold is fresh, zeroed
    pages on every allocation (see docs/indicators.md, ``out=``).

    Results written here are overwritten by the next :func:`compute_indicators` call that
    uses the same buffers: callers copy what they keep.
    """

    def __init__(self, spec: Spec) -> None:
        self._kinds = {name: kind for name, (kind, _) in spec.items()}
        self._sets: dict[int, tuple[int, dict[str, Any]]] = {}

    def get(self, shape: tuple[int, ...]) -> dict[str, Any]:
        """``{name: buffer or tuple of buffers}`` of exactly ``shape`` (markets x time)."""
        if len(shape) != 2:
            raise ValueError(f"indicator buffers are for 2-D blocks, got shape {shape}")
        rows, cols = shape
        held = self._sets.get(cols)
        if held is None or held[0] < rows:
            bufs = {name: tuple(np.empty((rows, cols)) for _ in range(_n_out(kind)))
                    for name, kind in self._kinds.items()}
            held = self._sets[cols] = (rows, bufs)
        return {name: (tuple(b[:rows] for b in parts) if len(parts) > 1 else parts[0][:rows])
                for name, parts in held[1].items()}


def compute_indicators(spec: Spec, candles: Mapping[str, np.ndarray], *,
                       buffers: IndicatorBuffers | None = None) -> dict[str, Any]:
    """Compute every declared indicator on 2-D (markets x time) candle arrays, no loop over
    markets: the ``rsi``/``macd``/``bbands``/``atr`` specs in one :func:`ta.batch` call (each
    block of markets read once for all of them), the others in one native call each.

    A series shorter than an indicator's lookback yields NaN (no decision) instead of an error,
    so a short backtest file simply trades nothing. Results are bit for bit those of the
    single functions.

    Parameters
    ----------
    spec : mapping
        ``{name: (kind, params)}``, the strategy's :meth:`Strategy.indicators`.
    candles : mapping
        ``close`` (and ``high``/``low`` for ``atr``) arrays of one shape.
    buffers : IndicatorBuffers, optional
        Output buffers to fill instead of allocating (2-D candles only); the returned arrays
        are views of them, valid until the next call with the same buffers.
    """
    shape = candles["close"].shape
    for name, (kind, _) in spec.items():
        if kind not in KINDS:
            raise ValueError(f"indicator {name}: unknown kind {kind!r}; one of {sorted(KINDS)}")
    bufs = buffers.get(shape) if buffers is not None else {}
    out: dict[str, Any] = {}
    batched = {name: (kind, {**KINDS[kind][0], **params}) for name, (kind, params) in spec.items()
               if kind in BATCH_KINDS}
    if 1 < len(batched) <= _batch_native().MAX_SPECS:
        needs_hl = any(kind == "atr" for kind, _ in batched.values())
        try:
            out.update(ta.batch(batched, close=candles["close"],
                                high=candles["high"] if needs_hl else None,
                                low=candles["low"] if needs_hl else None,
                                out={name: bufs[name] for name in batched if name in bufs}))
        except ta.IndicatorError as exc:
            # One spec too long for the series fails the whole call; the single calls
            # below give that one NaN and the others their values.
            if not _too_short(exc):
                raise
    for name, (kind, params) in spec.items():
        if name in out:
            continue
        try:
            out[name] = _single(kind, params, candles, bufs.get(name))
        except ta.IndicatorError as exc:
            if not _too_short(exc):
                raise
            out[name] = _nan_like(kind, shape, bufs.get(name))
    return {name: out[name] for name in spec}
