"""Real candles shared by the strategy, scanner and backtest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from nija.core.backtest import load_csv

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"


@pytest.fixture(scope="session")
def eth():
    return load_csv(DATA / "ETH_BTC-5m.csv")


@pytest.fixture(scope="session")
def markets():
    """Four real markets cut to a common length (the scanner's (markets, time) layout)."""
    files = ["ETH_BTC-5m.csv", "LTC_BTC-5m.csv", "ADA_BTC-5m.csv", "XLM_BTC-5m.csv"]
    return [load_csv(DATA / f) for f in files]
