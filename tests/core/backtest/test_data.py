"""Loading candle files: columns, order, duplicates, names, tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nija.core.backtest import load_csv, symbol_from_path, tile
from nija.core.errors import InvalidArgument


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_unsorted_and_duplicate_rows_are_put_in_order(tmp_path):
    p = write(tmp_path / "BTC_USD-1m.csv", "timestamp_ms,open,high,low,close,volume\n"
              "120000,2,3,1,2.5,10\n60000,1,2,0.5,1.5,5\n120000,9,9,9,9,9\n180000,3,4,2,3.5,1\n")
    d = load_csv(p)
    assert d.symbol == "BTC/USD" and d.source == "BTC_USD-1m.csv"
    assert d.ts.tolist() == [60000, 120000, 180000]
    assert d.close.tolist() == [1.5, 2.5, 3.5]  # the first of duplicate times is kept
    assert d.interval_ms == 60000 and d.gaps() == 0


def test_columns_may_come_in_any_order(tmp_path):
    p = write(tmp_path / "x.csv", "close,volume,timestamp_ms,open,high,low\n2,10,60000,1,3,0.5\n")
    d = load_csv(p, symbol="X/Y")
    assert (d.symbol, d.open[0], d.close[0], d.volume[0]) == ("X/Y", 1.0, 2.0, 10.0)


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("timestamp_ms,open,high,low,close\n1,1,1,1,1\n", "missing column(s) volume"),
    ("timestamp_ms,open,high,low,close,volume\n1,a,1,1,1,1\n", "x.csv"),
])
def test_bad_files_are_clear_errors(tmp_path, text, message):
    with pytest.raises(InvalidArgument) as info:
        load_csv(write(tmp_path / "x.csv", text))
    assert message in info.value.message and info.value.field == "data"


def test_names_and_tiling():
    assert symbol_from_path(Path("eth_btc-5m.csv")) == "ETH/BTC"
    assert symbol_from_path(Path("weird name.csv")) == "weird name"
    data = load_csv(Path(__file__).resolve().parents[2] / "data" / "ohlcv" / "UNITTEST_BTC-30m.csv")
    long = tile(data, 3 * len(data) + 7)
    assert len(long) == 3 * len(data) + 7
    assert np.all(np.diff(long.ts) > 0)
    np.testing.assert_array_equal(long.close[len(data):2 * len(data)], data.close)
