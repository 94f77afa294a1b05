"""Streaming indicators: one new candle per market at a time, O(1) per market.

An :class:`IndicatorStream` holds the state of a set of indicators for N markets.
After warm-up every value equals what the batch function returns for the same
candles (the update steps repeat the batch kernels' arithmetic), so a live engine
and a backtest agree. The state can be seeded from history and serialised, so a
restarted engine resumes without recomputing everything.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np

from nija.core.errors import IndicatorError

from . import _validate as v
from ._functions import _load_kernels

_stream = _load_kernels("_stream")

#: Below this many markets a streaming update runs on one thread. One indicator's
#: step over 10,000 markets takes ~0.1 ms on one core; each parallel update is a
#: fork/join of the OpenMP team per indicator, which costs about that on an idle
#: machine and whole scheduler slices (tens of ms measured) when other processes
#: hold the cores. Threads only pay off far above that size.
PARALLEL_MIN_MARKETS = 65536

# kind -> (parameter defaults, inputs it reads)
KINDS: dict[str, tuple[dict[str, float], tuple[str, ...]]] = {
    "sma": ({"timeperiod": 30}, ("close",)),
    "ema": ({"timeperiod": 30}, ("close",)),
    "rsi": ({"timeperiod": 14}, ("close",)),
    "macd": ({"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, ("close",)),
    "bbands": ({"timeperiod": 5, "nbdevup": 2.0, "nbdevdn": 2.0}, ("close",)),
    "atr": ({"timeperiod": 14}, ("high", "low", "close")),
}


def _build(kind: str, n: int, params: dict):
    if kind == "sma":
        return _stream.SmaStream(n, v.period("timeperiod", params["timeperiod"], 1))
    if kind == "ema":
        return _stream.EmaStream(n, v.period("timeperiod", params["timeperiod"], 1))
    if kind == "rsi":
        return _stream.RsiStream(n, v.period("timeperiod", params["timeperiod"], 2))
    if kind == "atr":
        return _stream.AtrStream(n, v.period("timeperiod", params["timeperiod"], 1))
    if kind == "macd":
        return _stream.MacdStream(
            n,
            v.period("fastperiod", params["fastperiod"], 2),
            v.period("slowperiod", params["slowperiod"], 2),
            v.period("signalperiod", params["signalperiod"], 1),
        )
    return _stream.BbandsStream(
        n,
        v.period("timeperiod", params["timeperiod"], 2),
        v.real("nbdevup", params["nbdevup"]),
        v.real("nbdevdn", params["nbdevdn"]),
    )


class IndicatorStream:
    """State of several indicators over ``n_markets`` markets.

    Parameters
    ----------
    n_markets : int
        Number of markets; every update passes arrays of this length.
    indicators : mapping
        ``{output name: (kind, {parameter: value})}``, kinds being ``sma``, ``ema``,
        ``rsi``, ``macd``, ``bbands`` (SMA middle band) and ``atr`` with the batch
        functions' parameter names and defaults.

    Examples
    --------
    >>> s = IndicatorStream(3, {"rsi": ("rsi", {"timeperiod": 14}), "ema50": ("ema", {"timeperiod": 50})})
    >>> out = s.update(close=np.array([1.0, 2.0, 3.0]))
    >>> out["rsi"].shape
    (3,)
    """

    def __init__(self, n_markets: int, indicators: Mapping[str, tuple[str, Mapping]]) -> None:
        if isinstance(n_markets, bool) or not isinstance(n_markets, int) or n_markets < 1:
            raise IndicatorError(f"n_markets must be a positive integer, got {n_markets!r}", field="n_markets")
        self.n_markets = n_markets
        self._specs: dict[str, tuple[str, dict]] = {}
        self._states: dict[str, object] = {}
        for name, spec in indicators.items():
            try:
                kind, params = spec
            except (TypeError, ValueError) as exc:
                raise IndicatorError(f"{name}: expected (kind, params), got {spec!r}", field="indicators") from exc
            if kind not in KINDS:
                raise IndicatorError(
                    f"{name}: unknown streaming indicator {kind!r}; one of {sorted(KINDS)}", field="indicators"
                )
            defaults, _ = KINDS[kind]
            unknown = set(params) - set(defaults)
            if unknown:
                raise IndicatorError(f"{name}: unknown parameters {sorted(unknown)} for {kind}", field="indicators")
            full = {**defaults, **dict(params)}
            self._specs[name] = (kind, full)
            self._states[name] = _build(kind, n_markets, full)
        self._inputs = sorted({i for kind, _ in self._specs.values() for i in KINDS[kind][1]})

    @property
    def inputs(self) -> list[str]:
        """The candle fields :meth:`update` needs (e.g. ``["close", "high", "low"]``)."""
        return list(self._inputs)

    def _candle(self, fields: Mapping[str, object], ndim: int) -> dict[str, np.ndarray]:
        out = {}
        for name in self._inputs:
            if fields.get(name) is None:
                raise IndicatorError(f"{name} is required by the configured indicators", field=name)
            arr = v.as_float64(name, fields[name])
            if arr.ndim != ndim or arr.shape[0] != self.n_markets:
                want = f"({self.n_markets},)" if ndim == 1 else f"({self.n_markets}, T)"
                raise IndicatorError(f"{name} must have shape {want}, got {arr.shape}", field=name)
            out[name] = arr
        shapes = {a.shape for a in out.values()}
        if len(shapes) > 1:
            raise IndicatorError(f"inputs have different shapes: {sorted(shapes)}", field=self._inputs[-1])
        return out

    def update(self, **candle: object) -> dict[str, object]:
        """Feed one candle per market (arrays of length ``n_markets``).

        Returns ``{name: values}`` with an array of length ``n_markets`` per
        indicator (a tuple of arrays for ``macd`` and ``bbands``), NaN where a
        market is still warming up. The arrays are read-only views that the next
        update overwrites: copy them to keep them.
        """
        c = self._candle(candle, 1)
        # see PARALLEL_MIN_MARKETS: smaller streams stay serial
        threads = v.num_threads() if self.n_markets >= PARALLEL_MIN_MARKETS else 1
        result: dict[str, object] = {}
        for name, (kind, _) in self._specs.items():
            state = self._states[name]
            if kind == "atr":
                res = state.update(c["high"], c["low"], c["close"], threads)
            else:
                res = state.update(c["close"], threads)
            result[name] = tuple(_readonly(r) for r in res) if isinstance(res, tuple) else _readonly(res)
        return result

    def seed(self, **history: object) -> dict[str, object]:
        """Warm the state up from history: 2-D arrays (markets x time), oldest first.

        Equivalent to calling :meth:`update` for every column; returns the last
        update's values.
        """
        h = self._candle(history, 2)
        last: dict[str, object] = {}
        for t in range(next(iter(h.values())).shape[1]):
            last = self.update(**{k: np.ascontiguousarray(a[:, t]) for k, a in h.items()})
        return last

    def to_bytes(self) -> bytes:
        """Serialise specs and state (NumPy ``.npz``; no pickle)."""
        arrays = {"__spec__": np.frombuffer(json.dumps(
            {"n_markets": self.n_markets, "indicators": self._specs}).encode(), dtype=np.uint8)}
        for name, state in self._states.items():
            for key, value in state.get_state().items():
                arrays[f"{name}\x1f{key}"] = value
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> IndicatorStream:
        """Restore a stream saved with :meth:`to_bytes`."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                spec = json.loads(npz["__spec__"].tobytes().decode())
                stream = cls(spec["n_markets"], {k: tuple(s) for k, s in spec["indicators"].items()})
                per: dict[str, dict[str, np.ndarray]] = {}
                for key in npz.files:
                    if key != "__spec__":
                        name, field = key.split("\x1f")
                        per.setdefault(name, {})[field] = npz[key]
        except (ValueError, KeyError, OSError) as exc:
            raise IndicatorError(f"not a serialised IndicatorStream: {exc}", field="data") from exc
        for name, state in per.items():
            try:
                stream._states[name].set_state(state)
            except (ValueError, KeyError) as exc:
                raise IndicatorError(f"cannot restore {name!r}: {exc}", field="data") from exc
        return stream


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view
