"""Fixtures for the indicator tests: real candles, synthetic series and a comparison
helper with the project's accuracy contract (1e-9 relative or 1e-12 absolute, NaN in
exactly the same places)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "ohlcv"
REAL_FILES = sorted(DATA.glob("*.csv"))


def _load(path: Path) -> dict[str, np.ndarray]:
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    return {"open": raw[:, 1], "high": raw[:, 2], "low": raw[:, 3], "close": raw[:, 4], "volume": raw[:, 5]}


def _random_walk(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    spread = rng.random(n) * 2.0
    high = close + spread * rng.random(n)
    low = close - spread * rng.random(n)
    return {"open": close, "high": high, "low": low, "close": close, "volume": rng.random(n) * 1000.0}


def _constant(n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, 0.0123) for k in ("open", "high", "low", "close")} | {"volume": np.full(n, 7.0)}


def _with_nan(base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Leading NaN (skipped, as TA-Lib's wrapper does) and NaN in the middle."""
    out = {k: v.copy() for k, v in base.items()}
    out["close"][:3] = np.nan
    out["high"][:5] = np.nan
    out["close"][700] = np.nan
    out["volume"][1200] = np.nan
    out["low"][1500:1504] = np.nan
    return out


def series_cases() -> dict[str, dict[str, np.ndarray]]:
    cases = {p.stem: _load(p) for p in REAL_FILES}
    cases["random_walk"] = _random_walk(3000, 1)
    cases["random_walk_small_prices"] = {
        k: (v * 1e-6 if k != "volume" else v) for k, v in _random_walk(2000, 2).items()
    }
    cases["constant"] = _constant(400)
    return cases


SERIES = series_cases()
NAN_SERIES = {"random_walk_nan": _with_nan(_random_walk(3000, 3))}


def _assert_close(actual, expected, label: str = "") -> None:
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, label
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if not np.array_equal(nan_a, nan_e):
        where = np.flatnonzero(nan_a != nan_e)[:5]
        raise AssertionError(f"{label}: NaN positions differ at {where.tolist()}")
    ok = np.isclose(actual, expected, rtol=1e-9, atol=1e-12, equal_nan=True)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise AssertionError(
            f"{label}: {int((~ok).sum())} values differ; first at {i}: {actual[i]!r} != {expected[i]!r}"
        )


@pytest.fixture
def assert_close():
    return _assert_close


def pytest_generate_tests(metafunc):
    # Parametrise over the data sets by name so that failures say which series broke.
    if "series" in metafunc.fixturenames:
        metafunc.parametrize("series", sorted(SERIES), indirect=True)
    if "nan_series" in metafunc.fixturenames:
        metafunc.parametrize("nan_series", sorted(NAN_SERIES), indirect=True)


@pytest.fixture
def series(request) -> dict[str, np.ndarray]:
    return SERIES[request.param]


@pytest.fixture
def nan_series(request) -> dict[str, np.ndarray]:
    return NAN_SERIES[request.param]


@pytest.fixture(scope="session")
def market_matrix() -> dict[str, np.ndarray]:
    """Ten real markets cut to a common length: a 2-D (markets x time) input."""
    loaded = [_load(p) for p in REAL_FILES if "UNITTEST" not in p.stem][:8]
    loaded.append(_random_walk(5000, 7))
    loaded.append(_with_nan(_random_walk(5000, 8)))
    n = min(len(d["close"]) for d in loaded)
    return {k: np.vstack([d[k][:n] for d in loaded]) for k in loaded[0]}


@pytest.fixture(params=[1, 2], ids=["serial", "threads"])
def threads(request):
    """Run the test single-threaded and with two threads (the kernels' thread knob)."""
    from nija.core import indicators as ta

    before = ta.get_num_threads()
    ta.set_num_threads(request.param)
    yield request.param
    ta.set_num_threads(before)
