"""Candle series for backtests: loading, validation, gaps, tiling."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nija.core.errors import InvalidArgument

COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class MarketData:
    """One market's candles, oldest first; ``ts`` is each candle's open time (UTC ms)."""

    symbol: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def interval_ms(self) -> int:
        """The usual spacing between candles (the median difference)."""
        return int(np.median(np.diff(self.ts))) if len(self.ts) > 1 else 0

    def gaps(self) -> int:
        """How many times the series skips one or more candles."""
        if len(self.ts) < 2:
            return 0
        return int(np.count_nonzero(np.diff(self.ts) > self.interval_ms))

    def candles_2d(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k).reshape(1, -1) for k in ("open", "high", "low", "close", "volume")}

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[-1] if "/" in self.symbol else ""


def symbol_from_path(path: Path) -> str:
    """``ETH_BTC-5m.csv`` -> ``ETH/BTC``; anything else -> the file's stem."""
    m = re.match(r"^([A-Za-z0-9]+)[_-]([A-Za-z0-9]+)(?:-\w+)?$", path.stem)
    return f"{m.group(1).upper()}/{m.group(2).upper()}" if m else path.stem


def from_arrays(symbol: str, ts, open_, high, low, close, volume, source: str = "") -> MarketData:
    """Validate and build a :class:`MarketData` (sorted, unique times; finite positive prices)."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (open_, high, low, close, volume)]
    t = np.ascontiguousarray(ts, dtype=np.int64)
    if any(len(a) != len(t) for a in arrays):
        raise InvalidArgument(f"{symbol}: columns have different lengths", field="data")
    if len(t) == 0:
        raise InvalidArgument(f"{symbol}: no candles", field="data")
    if np.any(np.diff(t) <= 0):
        order = np.argsort(t, kind="stable")
        t = t[order]
        arrays = [a[order] for a in arrays]
        keep = np.concatenate(([True], np.diff(t) > 0))  # duplicate times: keep the first
        t = t[keep]
        arrays = [a[keep] for a in arrays]
    o, h, l, c, v = arrays
    bad = ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c)) | (l <= 0)
    if bad.any():
        # A missing or broken candle is a gap, not a zero price.
        t, o, h, l, c, v = (a[~bad] for a in (t, o, h, l, c, v))
    v = np.where(np.isfinite(v), v, 0.0)
    return MarketData(symbol, t, o, h, l, c, v, source)


def load_csv(path: str | Path, symbol: str | None = None) -> MarketData:
    """Read ``timestamp_ms,open,high,low,close,volume`` (a header line is required).

    Raises
    ------
    InvalidArgument
        Missing file, missing columns or unparsable numbers, naming the file.
    """
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            header = next(csv.reader(fh), None)
    except OSError as exc:
        raise InvalidArgument(f"cannot read {p}: {exc.strerror}", field="data") from None
    if header is None:
        raise InvalidArgument(f"{p} is empty", field="data")
    header = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidArgument(f"{p}: missing column(s) {', '.join(missing)}; need {', '.join(COLUMNS)}",
                              field="data")
    try:
        raw = np.loadtxt(p, delimiter=",", skiprows=1, ndmin=2, usecols=[header.index(c) for c in COLUMNS])
    except ValueError as exc:
        raise InvalidArgument(f"{p}: {exc}", field="data") from None
    return from_arrays(symbol or symbol_from_path(p), raw[:, 0], *(raw[:, i] for i in range(1, 6)), source=p.name)


def tile(data: MarketData, n: int) -> MarketData:
    """Repeat a series until it has ``n`` candles, continuing time (a long series of real
    candles for benchmarks; prices jump back at each seam like a gap would)."""
    reps = -(-n // len(data))
    span = int(data.ts[-1] - data.ts[0]) + max(data.interval_ms, 1)
    ts = np.concatenate([data.ts + i * span for i in range(reps)])[:n]
    return MarketData(data.symbol, ts, *(np.tile(getattr(data, k), reps)[:n]
                                         for k in ("open", "high", "low", "close", "volume")), data.source)
