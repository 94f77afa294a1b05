"""The streaming state equals the batch functions after warm-up, and survives a
serialisation round trip."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.errors import IndicatorError

SPECS = {
    "rsi9": ("rsi", {"timeperiod": 9}),
    "rsi14": ("rsi", {"timeperiod": 14}),
    "macd": ("macd", {}),
    "bbands": ("bbands", {"timeperiod": 20}),
    "atr": ("atr", {"timeperiod": 14}),
    "atr1": ("atr", {"timeperiod": 1}),
    "ema50": ("ema", {"timeperiod": 50}),
    "ema200": ("ema", {"timeperiod": 200}),
    "sma": ("sma", {"timeperiod": 10}),
}


def _batch(d):
    h, l, c = d["high"], d["low"], d["close"]
    return {
        "rsi9": ta.rsi(c, 9),
        "rsi14": ta.rsi(c, 14),
        "macd": ta.macd(c),
        "bbands": ta.bbands(c, 20),
        "atr": ta.atr(h, l, c, 14),
        "atr1": ta.atr(h, l, c, 1),
        "ema50": ta.ema(c, 50),
        "ema200": ta.ema(c, 200),
        "sma": ta.sma(c, 10),
    }


def _run(stream, d, start=0, stop=None):
    n_t = d["close"].shape[1]
    outs = {}
    for t in range(start, n_t if stop is None else stop):
        res = stream.update(close=d["close"][:, t], high=d["high"][:, t], low=d["low"][:, t])
        for name, val in res.items():
            vals = val if isinstance(val, tuple) else (val,)
            outs.setdefault(name, [[] for _ in vals])
            for i, x in enumerate(vals):
                outs[name][i].append(x.copy())
    return {k: [np.stack(col, axis=1) for col in v] for k, v in outs.items()}


@pytest.fixture(scope="module")
def small_matrix(market_matrix):
    return {k: np.ascontiguousarray(v[:, :1500]) for k, v in market_matrix.items()}


def test_stream_equals_batch(small_matrix):
    stream = ta.IndicatorStream(small_matrix["close"].shape[0], SPECS)
    got = _run(stream, small_matrix)
    want = _batch(small_matrix)
    for name, ref in want.items():
        ref = ref if isinstance(ref, tuple) else (ref,)
        for g, r in zip(got[name], ref):
            np.testing.assert_array_equal(g, r, err_msg=name)


def test_seed_then_serialise_resumes(small_matrix):
    n = small_matrix["close"].shape[0]
    live = ta.IndicatorStream(n, SPECS)
    live.seed(**{k: small_matrix[k][:, :1000] for k in ("close", "high", "low")})
    restored = ta.IndicatorStream.from_bytes(live.to_bytes())
    got = _run(restored, small_matrix, start=1000)
    want = _batch(small_matrix)
    for name, ref in want.items():
        ref = ref if isinstance(ref, tuple) else (ref,)
        for g, r in zip(got[name], ref):
            np.testing.assert_array_equal(g, r[:, 1000:], err_msg=name)


def test_stream_outputs_are_read_only():
    s = ta.IndicatorStream(2, {"e": ("ema", {"timeperiod": 2})})
    out = s.update(close=np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        out["e"][0] = 3.0


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: ta.IndicatorStream(0, {}), "n_markets"),
        (lambda: ta.IndicatorStream(2, {"x": ("nope", {})}), "indicators"),
        (lambda: ta.IndicatorStream(2, {"x": ("rsi", {"period": 3})}), "indicators"),
        (lambda: ta.IndicatorStream(2, {"x": ("rsi", {"timeperiod": 1})}), "timeperiod"),
    ],
)
def test_bad_configuration(build, field):
    with pytest.raises(IndicatorError) as err:
        build()
    assert err.value.field == field


def test_bad_update_and_bad_bytes():
    s = ta.IndicatorStream(3, {"a": ("atr", {})})
    with pytest.raises(IndicatorError) as err:
        s.update(close=np.ones(3), high=np.ones(3))
    assert err.value.field == "low"
    with pytest.raises(IndicatorError) as err:
        s.update(close=np.ones(3), high=np.ones(3), low=np.ones(2))
    assert err.value.field == "low"
    with pytest.raises(IndicatorError):
        ta.IndicatorStream.from_bytes(b"not a stream")


def _atr_npz(stream, drop_pend=False, acc=None):
    """The stream's bytes, optionally rewritten as a state saved before the
    two-bar atr step (no ``pend``; ``acc`` the last ATR value)."""
    import io

    with np.load(io.BytesIO(stream.to_bytes()), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if drop_pend:
        del arrays["a\x1fpend"]
    if acc is not None:
        arrays["a\x1facc"] = acc
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("split", [13, 14, 15, 16, 17, 1000, 1001])
def test_atr_serialised_at_either_parity_resumes_bit_for_bit(small_matrix, split):
    # the NaN row of the matrix starts later, so its pairs have the other parity
    n = small_matrix["close"].shape[0]
    live = ta.IndicatorStream(n, {"a": ("atr", {"timeperiod": 14})})
    live.seed(**{k: small_matrix[k][:, :split] for k in ("close", "high", "low")})
    restored = ta.IndicatorStream.from_bytes(live.to_bytes())
    got = _run(restored, small_matrix, start=split, stop=split + 40)["a"][0]
    want = ta.atr(small_matrix["high"], small_matrix["low"], small_matrix["close"], 14)
    np.testing.assert_array_equal(got, want[:, split:split + 40])


def test_atr_state_of_the_single_step_version_loads_or_fails_clearly():
    rng = np.random.default_rng(5)
    c = 100.0 + np.cumsum(rng.normal(0.0, 1.0, (2, 60)), axis=1)
    h, l = c + 0.5, c - 0.5
    want = ta.atr(h, l, c, 14)

    def seeded(t):
        s = ta.IndicatorStream(2, {"a": ("atr", {"timeperiod": 14})})
        s.seed(close=c[:, :t], high=h[:, :t], low=l[:, :t])
        return s

    # warming up, or the last bar at an even offset from the first ATR (bar 14):
    # the old acc (the last ATR) is the chain value, so the state loads and resumes
    for t in (10, 15, 17, 19):
        old = _atr_npz(seeded(t), drop_pend=True)
        restored = ta.IndicatorStream.from_bytes(old)
        got = _run(restored, {"close": c, "high": h, "low": l}, start=t)["a"][0]
        np.testing.assert_array_equal(got, want[:, t:], err_msg=str(t))
    # the last bar at an odd offset: the chain value is not in the old state
    for t in (16, 20):
        old = _atr_npz(seeded(t), drop_pend=True, acc=want[:, t - 1].copy())
        with pytest.raises(IndicatorError) as err:
            ta.IndicatorStream.from_bytes(old)
        assert err.value.field == "data"
        assert "older version" in str(err.value)
