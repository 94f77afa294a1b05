"""The strategy contract: the :class:`Strategy` ABC, the read-only :class:`StrategyContext`
and the :class:`Signal` it produces.

One code path from backtest to live: a strategy declares the indicators it needs and writes
:meth:`Strategy.evaluate` over arrays shaped ``(markets, columns)``, oldest column first. The
scanner hands it the last ``lookback`` columns of N markets (one decision per market per
cycle); the backtester hands it one market's whole history at once and reads a decision per
column. The rule that makes both agree, and that the backtester enforces
(:func:`nija.core.backtest.check_lookahead`): the value emitted for column ``t`` may depend on
columns ``t - lookback + 1 … t`` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import numpy as np

from nija.core.errors import StrategyError
from nija.core.strategies._params import Parameter, resolve


class SignalAction(str, Enum):
    ENTER_LONG = "enter_long"
    EXIT_LONG = "exit_long"


@dataclass(frozen=True)
class Signal:
    """A strategy's decision for one market after a candle closed.

    ``strength`` is float64 in [0, 1] (a preference, not a size); prices for the protective
    orders are float64 too and become Decimal when orders are built.
    """

    symbol: str
    ts_ms: int
    action: SignalAction
    strength: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None


@dataclass(frozen=True)
class PositionView:
    """What a strategy may know of one of its positions."""

    symbol: str
    quantity: Decimal
    avg_entry_price: Decimal


@dataclass(frozen=True)
class SignalFrame:
    """Decisions for every (market, column) of one evaluation.

    ``entry`` and ``exit`` are boolean; ``strength``, ``stop_loss`` and ``take_profit`` are
    float64 with NaN for "none". All have the context's ``(markets, columns)`` shape.
    """

    entry: np.ndarray
    exit: np.ndarray
    strength: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray

    def column(self, t: int) -> "SignalFrame":
        """Column ``t`` (negative counts from the end) as a ``(markets, 1)`` frame."""
        t = t % self.entry.shape[1]
        return SignalFrame(*(a[:, t:t + 1] for a in (self.entry, self.exit, self.strength,
                                                     self.stop_loss, self.take_profit)))

    def equals(self, other: "SignalFrame") -> bool:
        return (np.array_equal(self.entry, other.entry) and np.array_equal(self.exit, other.exit)
                and all(np.array_equal(a, b, equal_nan=True) for a, b in (
                    (self.strength, other.strength), (self.stop_loss, other.stop_loss),
                    (self.take_profit, other.take_profit))))


@dataclass(frozen=True)
class _FrozenClock:
    _now: int

    def now_ms(self) -> int:
        return self._now


def _frozen(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class StrategyContext:
    """The narrow, read-only world a strategy sees during :meth:`Strategy.evaluate`.

    Parameters
    ----------
    symbols : sequence of str
        One row per market.
    times : array of int64
        Close-time index of each column (UTC ms of the candle's open, as in the data).
    candles : mapping
        ``open``, ``high``, ``low``, ``close``, ``volume`` arrays of shape (markets, columns).
    indicators : mapping
        The strategy's declared indicators, same shape (tuples for ``macd`` and ``bbands``).
    positions : mapping, optional
        symbol -> :class:`PositionView` of the strategy's open positions.
    """

    def __init__(self, symbols, times, candles: Mapping[str, np.ndarray],
                 indicators: Mapping[str, Any], positions: Mapping[str, PositionView] | None = None) -> None:
        self._symbols = tuple(symbols)
        self._times = _frozen(np.asarray(times, dtype=np.int64))
        self._candles = {k: _frozen(np.asarray(v)) for k, v in candles.items()}
        self._indicators = {k: tuple(_frozen(x) for x in v) if isinstance(v, tuple) else _frozen(v)
                            for k, v in indicators.items()}
        self._positions = MappingProxyType(dict(positions or {}))
        self._shape = (len(self._symbols), len(self._times))
        self._frame: SignalFrame | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def times(self) -> np.ndarray:
        return self._times

    @property
    def now_ms(self) -> int:
        """Time of the newest closed candle (UTC ms): a strategy's "now", live or in a backtest."""
        return int(self._times[-1])

    @property
    def clock(self) -> "_FrozenClock":
        """A :class:`nija.core.clock.Clock` stopped at :attr:`now_ms` (never wall time, so
        backtests and live runs agree)."""
        return _FrozenClock(self.now_ms)

    @property
    def positions(self) -> Mapping[str, PositionView]:
        return self._positions

    def candles(self, field: str) -> np.ndarray:
        """``open``/``high``/``low``/``close``/``volume`` as a read-only (markets, columns) array."""
        try:
            return self._candles[field]
        except KeyError:
            raise KeyError(f"no candle field {field!r}; have {sorted(self._candles)}") from None

    def indicator(self, name: str):
        """A declared indicator's values (read-only; a tuple for multi-output kinds)."""
        try:
            return self._indicators[name]
        except KeyError:
            raise KeyError(f"indicator {name!r} was not declared; have {sorted(self._indicators)}") from None

    @staticmethod
    def previous(values: np.ndarray, k: int = 1) -> np.ndarray:
        """``values`` shifted ``k`` columns into the future: column t holds column t-k.

        The first ``k`` columns are NaN (False for booleans). The causal way to say "the
        previous candle's value".
        """
        out = np.empty_like(values)
        out[:, :k] = False if values.dtype == bool else np.nan
        out[:, k:] = values[:, :-k] if k else values
        return out

    def emit(self, *, entry=None, exit=None, strength=None, stop_loss=None, take_profit=None) -> None:
        """The signal sink: decisions for every (market, column), broadcast to that shape.

        Parameters
        ----------
        entry, exit : array-like of bool
            Enter long / exit long after this column's candle closed.
        strength : array-like of float, optional
            In [0, 1]; default 1.
        stop_loss, take_profit : array-like of float, optional
            Absolute prices for the protective orders placed with an entry; NaN for none.
        """
        if self._frame is not None:
            raise RuntimeError("emit() may be called once per evaluation")
        shape = self._shape

        def arr(v, dtype, fill):
            if v is None:
                return np.full(shape, fill, dtype=dtype)
            return np.broadcast_to(np.asarray(v, dtype=dtype), shape).copy()

        strength_a = arr(strength, np.float64, 1.0)
        self._frame = SignalFrame(arr(entry, bool, False), arr(exit, bool, False),
                                  np.clip(strength_a, 0.0, 1.0), arr(stop_loss, np.float64, np.nan),
                                  arr(take_profit, np.float64, np.nan))

    def frame(self) -> SignalFrame:
        """What was emitted (an empty frame when the strategy emitted nothing)."""
        if self._frame is None:
            self.emit()
        return self._frame

    def signals(self, column: int = -1) -> list[Signal]:
        """The emitted decisions of one column as :class:`Signal` objects (scanner output)."""
        f = self.frame()
        t = column % self._shape[1]
        out: list[Signal] = []
        ts = int(self._times[t])
        for action, mask in ((SignalAction.EXIT_LONG, f.exit[:, t]), (SignalAction.ENTER_LONG, f.entry[:, t])):
            for m in np.flatnonzero(mask):
                sl, tp = f.stop_loss[m, t], f.take_profit[m, t]
                out.append(Signal(self._symbols[m], ts, action, float(f.strength[m, t]),
                                  None if np.isnan(sl) else float(sl), None if np.isnan(tp) else float(tp)))
        return out


class Strategy(ABC):
    """Base class of every strategy plugin.

    Subclasses set ``name``, ``parameters`` and implement :meth:`indicators` and
    :meth:`evaluate`; the other methods are optional callbacks with defaults that accept
    ``**kwargs`` so new arguments can be added without breaking plugins.

    Parameters
    ----------
    **params
        Values for the declared ``parameters``; missing ones take their defaults.

    Raises
    ------
    nija.core.errors.InvalidArgument
        For an unknown parameter or a value of the wrong type or out of range.
    """

    #: Bumped when the contract grows; plugins declare the version they were written for.
    INTERFACE_VERSION: ClassVar[int] = 1
    #: Unique registry name, e.g. "apex".
    name: ClassVar[str]
    #: One-line description for listings.
    description: ClassVar[str] = ""
    #: Tunables with types, defaults and ranges.
    parameters: ClassVar[Mapping[str, Parameter]] = {}
    #: How many most recent columns :meth:`evaluate` needs to decide the newest one.
    lookback: ClassVar[int] = 2

    def __init__(self, **params: Any) -> None:
        if type(self).INTERFACE_VERSION > Strategy.INTERFACE_VERSION:
            raise StrategyError(
                f"strategy {getattr(self, 'name', type(self).__name__)} needs strategy interface "
                f"{type(self).INTERFACE_VERSION}; this NIJA provides {Strategy.INTERFACE_VERSION}: upgrade NIJA",
                strategy=getattr(self, "name", ""))
        self.params: Mapping[str, Any] = MappingProxyType(resolve(self.parameters, params))

    @abstractmethod
    def indicators(self) -> Mapping[str, tuple[str, Mapping[str, Any]]]:
        """Indicators to compute: ``{name: (kind, params)}``.

        Kinds are those :class:`nija.core.indicators.IndicatorStream` updates in O(1):
        ``sma``, ``ema``, ``rsi``, ``macd``, ``bbands``, ``atr``, with TA-Lib's parameter names.
        """

    @abstractmethod
    def evaluate(self, ctx: StrategyContext) -> None:
        """Decide, for every market and column of ``ctx``, and call ``ctx.emit`` once."""

    def on_start(self, symbols: tuple[str, ...], **kwargs: Any) -> None:
        """Called once before the first evaluation (optional)."""

    def on_fill(self, fill, **kwargs: Any) -> None:
        """Called after each fill of this strategy's orders (optional, informational)."""

    def position_fraction(self, signal: Signal, **kwargs: Any) -> float:
        """Share of equity to commit to an entry; default the ``position_fraction``
        parameter when declared, else 0.1."""
        return float(self.params.get("position_fraction", 0.1))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, description and parameter form, JSON-ready."""
        return {"name": cls.name, "description": cls.description, "interface_version": cls.INTERFACE_VERSION,
                "parameters": [p.describe(n) for n, p in cls.parameters.items()]}
