"""The scanner's fast path (one ta.batch call per block, out= buffers kept across cycles)
hands the strategy the same bits as one single indicator call per indicator on fresh arrays."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.indicators._streaming import KINDS
from nija.core.strategies import Scanner, Strategy, compute_indicators
from nija.core.strategies._compute import IndicatorBuffers
from nija.core.strategies._scanner import SCAN_BLOCK

FIELDS = ("open", "high", "low", "close", "volume")

SPECS = {
    "batched and not": {
        "rsi9": ("rsi", {"timeperiod": 9}),
        "rsi14": ("rsi", {}),
        "macd": ("macd", {}),
        "bb": ("bbands", {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 1.5}),
        "atr": ("atr", {"timeperiod": 14}),
        "ema50": ("ema", {"timeperiod": 50}),
        "sma10": ("sma", {"timeperiod": 10}),
    },
    # one batched spec longer than the series: NaN for it, values for the others
    "one too long": {
        "rsi9": ("rsi", {"timeperiod": 9}),
        "rsi_long": ("rsi", {"timeperiod": 5000}),
        "atr": ("atr", {}),
        "ema_long": ("ema", {"timeperiod": 5000}),
    },
    "one batched": {"atr": ("atr", {"timeperiod": 7}), "ema": ("ema", {"timeperiod": 20})},
}


class Recording(Strategy):
    """Keeps a copy of every indicator window the scanner hands to evaluate."""

    name = "recording"

    def __init__(self, spec, lookback, **params):
        super().__init__(**params)
        self._spec = spec
        self.lookback = lookback
        self.seen: list[dict] = []

    def indicators(self):
        return self._spec

    def evaluate(self, ctx):
        self.seen.append({name: (tuple(np.array(x) for x in v) if isinstance(v, tuple) else np.array(v))
                          for name in self._spec for v in [ctx.indicator(name)]})
        ctx.emit(entry=np.zeros(ctx.candles("close").shape, dtype=bool))


def reference(spec, candles, w):
    """The slow path: one single call per indicator over every market, fresh outputs."""
    out = {}
    for name, (kind, params) in spec.items():
        full = {**KINDS[kind][0], **params}
        fn = getattr(ta, kind)
        args = (candles["high"], candles["low"], candles["close"]) if kind == "atr" else (candles["close"],)
        try:
            v = fn(*args, **full)
        except ta.IndicatorError:
            n_out = 3 if kind in ("macd", "bbands") else 1
            v = tuple(np.full(candles["close"].shape, np.nan) for _ in range(n_out))
            v = v if n_out > 1 else v[0]
        out[name] = tuple(x[:, -w:] for x in v) if isinstance(v, tuple) else v[:, -w:]
    return out


def same_bits(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b))
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def many_markets(markets, rows, length, seed):
    """rows markets of length candles: windows of the real series, scaled per row so no two
    rows are equal (blocks of 8 and the block edges then see different data)."""
    rng = np.random.default_rng(seed)
    out = {k: np.empty((rows, length)) for k in FIELDS}
    for r in range(rows):
        m = markets[r % len(markets)]
        start = int(rng.integers(0, len(m) - length))
        scale = 1.0 + rng.random()
        for k in FIELDS:
            out[k][r] = getattr(m, k)[start:start + length] * scale
    return out


@pytest.mark.parametrize("case", sorted(SPECS))
def test_scan_indicators_equal_the_single_calls_bit_for_bit(markets, case):
    spec, w = SPECS[case], 5
    rows, length = SCAN_BLOCK + 21, 300  # two blocks: a full one and a short one
    strategy = Recording(spec, w)
    scanner = Scanner(strategy, [f"M{i}" for i in range(rows)])
    # Three cycles on different candles: buffers reused from one cycle to the next must not
    # leak an earlier cycle's values (NaN prefixes, a too-short indicator's NaN).
    for cycle in range(3):
        candles = many_markets(markets, rows, length, seed=cycle)
        if cycle == 1:
            candles["close"][3, :40] = np.nan  # leading NaN: that block runs row by row
        times = np.arange(length, dtype=np.int64) * 300_000
        scanner.scan(candles, times)
        want = reference(spec, candles, w)
        got = strategy.seen[-1]
        assert set(got) == set(want)
        for name in spec:
            assert same_bits(got[name], want[name]), (case, cycle, name)


def test_compute_indicators_with_buffers_equals_without(markets):
    spec = SPECS["batched and not"]
    candles = many_markets(markets, 37, 400, seed=7)
    buffers = IndicatorBuffers(spec)
    fresh = compute_indicators(spec, candles)
    for _ in range(2):
        filled = compute_indicators(spec, candles, buffers=buffers)
        for name in spec:
            assert same_bits(filled[name], fresh[name]), name
    # a smaller block writes into the leading rows of the same buffers
    small = {k: np.ascontiguousarray(v[:5]) for k, v in candles.items()}
    got = compute_indicators(spec, small, buffers=buffers)
    for name, v in compute_indicators(spec, small).items():
        assert same_bits(got[name], v), name
