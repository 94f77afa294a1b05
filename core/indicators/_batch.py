"""Several indicators over the same candles in one native call (:func:`batch`)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nija.core.errors import IndicatorError

from . import _validate as v
from ._functions import _load_kernels

_native_module = None


def _native():
    """The compiled batch module, imported on first use (the AVX-512 build where the CPU
    has it, else the FMA3 build where it has that)."""
    global _native_module
    if _native_module is None:
        _native_module = _load_kernels("_batch", avx512=True)
    return _native_module

Array = np.ndarray

#: kind -> (defaults, number of outputs); defaults are those of the single functions
BATCH_KINDS: dict[str, tuple[dict[str, Any], int]] = {
    "rsi": ({"timeperiod": 14}, 1),
    "macd": ({"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, 3),
    "bbands": ({"timeperiod": 5, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0}, 3),
    "atr": ({"timeperiod": 14}, 1),
}


def _params(name: str, kind: str, params: Mapping[str, Any], x: np.ndarray):
    """Validated (native kind, int params, real params) of one spec, with its length check."""
    defaults, _ = BATCH_KINDS[kind]
    unknown = set(params) - set(defaults)
    if unknown:
        raise IndicatorError(f"{name}: unknown parameters {sorted(unknown)} for {kind}", field="indicators")
    full = {**defaults, **dict(params)}
    if kind == "rsi":
        p = v.period("timeperiod", full["timeperiod"], 2)
        v.length(name, "close", x, p)
        return _native().RSI, (p,), ()
    if kind == "atr":
        p = v.period("timeperiod", full["timeperiod"], 1)
        v.length(name, "high", x, p)
        return _native().ATR, (p,), ()
    if kind == "macd":
        f = v.period("fastperiod", full["fastperiod"], 2)
        s = v.period("slowperiod", full["slowperiod"], 2)
        g = v.period("signalperiod", full["signalperiod"], 1)
        v.length(name, "close", x, max(f, s) - 1 + g - 1)
        return _native().MACD, (f, s, g), ()
    p = v.period("timeperiod", full["timeperiod"], 2)
    up = v.real("nbdevup", full["nbdevup"])
    dn = v.real("nbdevdn", full["nbdevdn"])
    mt = v.matype("matype", full["matype"])
    v.length(name, "close", x, p - 1)
    return _native().BBANDS, (p, mt), (up, dn)


def batch(
    indicators: Mapping[str, tuple[str, Mapping[str, Any]]],
    *,
    close: Array,
    high: Array | None = None,
    low: Array | None = None,
    out: Mapping[str, Array | tuple[Array, ...]] | None = None,
) -> dict[str, Array | tuple[Array, ...]]:
    """Compute several indicators over the same candles in one native call.

    Equal, bit for bit, to calling each function on its own (``rsi``, ``macd``,
    ``bbands``, ``atr``); faster on 2-D input because each block of markets is read
    from memory once for all of them instead of once per indicator.

    Parameters
    ----------
    indicators : mapping
        ``{name: (kind, params)}`` as for :class:`IndicatorStream`, e.g.
        ``{"rsi9": ("rsi", {"timeperiod": 9}), "bb": ("bbands", {"timeperiod": 20})}``.
        Kinds: ``rsi``, ``macd``, ``bbands``, ``atr``; parameters and defaults are
        those of the single functions.
    close, high, low : array
        1-D (time) or 2-D (markets x time) candles of one shape; ``high`` and ``low``
        are needed only by ``atr``.
    out : mapping, optional
        ``{name: buffer}`` (a tuple of 3 for ``macd`` and ``bbands``) for some or all
        of the indicators, filled instead of allocating (see the ``out`` argument of
        the single functions). No two buffers may share memory.

    Returns
    -------
    dict
        ``{name: array or tuple of arrays}``, in the order of ``indicators``.
    """
    if not isinstance(indicators, Mapping) or not indicators:
        raise IndicatorError("indicators must be a non-empty mapping of name -> (kind, params)", field="indicators")
    if len(indicators) > _native().MAX_SPECS:
        raise IndicatorError(f"at most {_native().MAX_SPECS} indicators per batch call", field="indicators")
    specs = []
    for name, spec in indicators.items():
        try:
            kind, params = spec
        except (TypeError, ValueError):
            raise IndicatorError(f"{name}: expected (kind, params), got {spec!r}", field="indicators") from None
        if kind not in BATCH_KINDS:
            raise IndicatorError(f"{name}: kind {kind!r} is not batched; one of {sorted(BATCH_KINDS)}",
                                 field="indicators")
        specs.append((str(name), kind, params or {}))
    needs_hl = any(kind == "atr" for _, kind, _ in specs)
    if needs_hl:
        if high is None:
            raise IndicatorError("high is required by atr", field="high")
        if low is None:
            raise IndicatorError("low is required by atr", field="low")
        arrays = v.as_inputs(close=close, high=high, low=low)
    else:
        arrays = v.as_inputs(close=close)
    x = arrays[0]
    out = {} if out is None else out
    if not isinstance(out, Mapping):
        raise IndicatorError("out must be a mapping of indicator name -> buffer(s)", field="out")
    extra = set(out) - {name for name, _, _ in specs}
    if extra:
        raise IndicatorError(f"out has buffers for unknown indicators {sorted(extra)}", field="out")
    kinds, ip, dp, native_outs, streams, results, seen = [], [], [], [], [], {}, []
    for name, kind, params in specs:
        k, ints, reals = _params(name, kind, params, x)
        count = BATCH_KINDS[kind][1]
        bufs = v.outputs(name, out.get(name), count, arrays)
        # caller buffers are written with streaming stores (see build_ext/_common.pxi)
        streams.append(bufs is not None)
        if bufs is None:
            bufs = tuple(np.empty(x.shape) for _ in range(count))
        for b in bufs:
            if any(np.may_share_memory(b, other) for other in seen):
                raise IndicatorError(f"{name}: out shares memory with another indicator's out", field="out")
            seen.append(b)
        kinds.append(k)
        ip.append(ints)
        dp.append(reals)
        native_outs.append(tuple(v.as_2d(b) for b in bufs))
        results[name] = bufs if count > 1 else bufs[0]
    c2 = v.as_2d(x)
    h2 = v.as_2d(arrays[1]) if needs_hl else c2
    l2 = v.as_2d(arrays[2]) if needs_hl else c2
    _native().batch(c2, h2, l2, kinds, ip, dp, native_outs, streams, v.num_threads())
    return results
