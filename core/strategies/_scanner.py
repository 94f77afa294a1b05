"""The market scanner: one strategy over N markets per cycle, vectorised across markets.

Indicators come from the 2-D batch kernels (:meth:`Scanner.scan`, stateless: the whole
history every cycle) or from an :class:`~nija.core.indicators.IndicatorStream`
(:meth:`Scanner.update`, O(1) per market per candle after :meth:`Scanner.seed`). Either way
there is one native call per indicator per cycle and one :meth:`Strategy.evaluate` call over
a ``(markets, lookback)`` window: no Python loop over markets.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from nija.core.errors import StrategyError
from nija.core.indicators import IndicatorStream
from nija.core.strategies._base import PositionView, Signal, Strategy, StrategyContext
from nija.core.strategies._compute import IndicatorBuffers, compute_indicators
from nija.core.strategies._guard import StrategyGuard

FIELDS = ("open", "high", "low", "close", "volume")
#: Markets per batch call in :meth:`Scanner.scan`.
SCAN_BLOCK = 4096


def _tail(value: Any, w: int) -> Any:
    if isinstance(value, tuple):
        return tuple(np.ascontiguousarray(v[:, -w:]) for v in value)
    return np.ascontiguousarray(value[:, -w:])


def _copy_tail(dst: Any, lo: int, value: Any, w: int) -> None:
    if isinstance(value, tuple):
        for d, v in zip(dst, value):
            d[lo:lo + len(v)] = v[:, -w:]
    else:
        dst[lo:lo + len(value)] = value[:, -w:]


class Scanner:
    """Evaluates one strategy for one bot over many markets.

    Parameters
    ----------
    strategy : Strategy
        The configured strategy instance.
    symbols : sequence of str
        Market names, one row of every array passed in.
    bot_id : str
        Whose strategy this is (a crash disables it for this bot only).
    guard : StrategyGuard, optional
        Shared wrapper; a private one by default.
    """

    def __init__(self, strategy: Strategy, symbols: Sequence[str], *, bot_id: str = "scanner",
                 guard: StrategyGuard | None = None) -> None:
        self.strategy = strategy
        self.symbols = tuple(symbols)
        self.bot_id = bot_id
        self.guard = guard or StrategyGuard()
        self.spec = dict(strategy.indicators())
        self.window = max(1, int(strategy.lookback))
        # out= buffers of the scan's indicator calls, kept from cycle to cycle
        self._scan_buffers = IndicatorBuffers(self.spec)
        self._stream: IndicatorStream | None = None
        self._buf: dict[str, Any] = {}
        self._times = np.zeros(self.window, dtype=np.int64)
        self._filled = 0

    def position_fraction(self, signal: Signal) -> float:
        """The strategy's share of equity for ``signal``, through the guard (a crash disables
        the strategy for this bot and raises :class:`~nija.core.errors.StrategyError`)."""
        value = float(self.guard.call(self.bot_id, self.strategy, "position_fraction", signal))
        if not 0.0 <= value <= 1.0:
            raise StrategyError(f"strategy {self.strategy.name} asked for {value} of equity; must be in [0, 1]",
                                strategy=self.strategy.name)
        return value

    def _evaluate(self, times, candles, values, positions) -> list[Signal]:
        ctx = StrategyContext(self.symbols, times, candles, values, positions)
        self.guard.call(self.bot_id, self.strategy, "evaluate", ctx)
        return ctx.signals(-1)

    def scan(self, candles: Mapping[str, np.ndarray], times: np.ndarray,
             positions: Mapping[str, PositionView] | None = None) -> list[Signal]:
        """One stateless cycle over full histories.

        Parameters
        ----------
        candles : mapping
            ``open``/``high``/``low``/``close``/``volume`` arrays of shape (markets, T).
        times : array of int64, shape (T,)
            Candle times; the last column is the candle that just closed.

        Returns
        -------
        list of Signal
            Decisions for the newest candle (exits first).
        """
        w = min(self.window, len(times))
        n = len(self.symbols)
        values: dict[str, Any] = {}
        # Blocks of markets keep each indicator's output (4096 x 500 x 8 B = 16 MB) under
        # glibc's largest mmap threshold (32 MB), and the block's outputs live in buffers
        # reused every cycle (fresh pages would be zeroed by the kernel on every call, which
        # costs more than the arithmetic). Still one native call per block for the batched
        # kinds (see compute_indicators). The strategy gets fresh copies of the last w
        # columns: the buffers are overwritten by the next block and the next cycle.
        for lo in range(0, n, SCAN_BLOCK):
            block = {k: candles[k][lo:lo + SCAN_BLOCK] for k in FIELDS if k in candles}
            for name, v in compute_indicators(self.spec, block, buffers=self._scan_buffers).items():
                dst = values.get(name)
                if dst is None:
                    dst = values[name] = (tuple(np.empty((n, w)) for _ in v) if isinstance(v, tuple)
                                          else np.empty((n, w)))
                _copy_tail(dst, lo, v, w)
        return self._evaluate(np.asarray(times)[-w:], {k: _tail(candles[k], w) for k in FIELDS if k in candles},
                              values, positions)

    def seed(self, candles: Mapping[str, np.ndarray], times: np.ndarray) -> None:
        """Warm the streaming state up from history (markets x T, oldest first)."""
        self._stream = IndicatorStream(len(self.symbols), self.spec)
        self._buf = {}
        self._filled = 0
        for t in range(len(times)):
            self._push({k: np.ascontiguousarray(candles[k][:, t]) for k in FIELDS if k in candles}, int(times[t]))

    def _push(self, candle: Mapping[str, np.ndarray], ts_ms: int) -> None:
        if self._stream is None:
            self._stream = IndicatorStream(len(self.symbols), self.spec)
        values = self._stream.update(**{k: candle[k] for k in self._stream.inputs})
        cols = dict(candle)
        for name, v in values.items():
            if isinstance(v, tuple):
                for i, part in enumerate(v):
                    cols[f"{name}\x1f{i}"] = part
            else:
                cols[name] = v
        w = self.window
        for key, col in cols.items():
            buf = self._buf.get(key)
            if buf is None:
                buf = self._buf[key] = np.full((len(self.symbols), w), np.nan)
            # Shift one column left; w is small (the strategy's lookback), so this is cheap.
            buf[:, :-1] = buf[:, 1:]
            buf[:, -1] = col
        self._times[:-1] = self._times[1:]
        self._times[-1] = ts_ms
        self._filled = min(w, self._filled + 1)

    def update(self, candle: Mapping[str, np.ndarray], ts_ms: int,
               positions: Mapping[str, PositionView] | None = None) -> list[Signal]:
        """One streaming cycle: the newest closed candle of every market (arrays of length N)."""
        self._push(candle, ts_ms)
        w = self._filled
        candles = {k: self._buf[k][:, -w:] for k in FIELDS if k in self._buf}
        values: dict[str, Any] = {}
        for name in self.spec:
            if name in self._buf:
                values[name] = self._buf[name][:, -w:]
            else:
                parts = sorted(k for k in self._buf if k.startswith(name + "\x1f"))
                values[name] = tuple(self._buf[k][:, -w:] for k in parts)
        return self._evaluate(self._times[-w:], candles, values, positions)
