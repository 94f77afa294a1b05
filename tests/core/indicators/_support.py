"""Helpers shared by the 2-D, lane-block and batch tests."""

from __future__ import annotations

import numpy as np


def random_markets(rows: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """``rows`` random-walk markets of ``n`` candles (high, low, close)."""
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, (rows, n)), axis=1)
    spread = rng.random((rows, n))
    return {"high": close + spread, "low": close - spread, "close": close}


def assert_rows_equal_1d(call, data: dict[str, np.ndarray]) -> None:
    """Every row of the 2-D call equals the 1-D call on that row, bit for bit (same kernel,
    same row)."""
    batch = call(data)
    batch = batch if isinstance(batch, tuple) else (batch,)
    for row in range(data["close"].shape[0]):
        one = call({k: v[row] for k, v in data.items()})
        one = one if isinstance(one, tuple) else (one,)
        for b, o in zip(batch, one):
            assert b.shape == data["close"].shape
            np.testing.assert_array_equal(b[row], o, err_msg=f"row {row}")
