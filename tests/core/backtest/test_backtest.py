"""The backtester: fills after the decision candle, shared equity, accounting invariants,
metrics, gaps, determinism and the look-ahead guard."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest

from nija.core.backtest import BacktestConfig, Backtester, LookAheadError, from_arrays, run_backtest
from nija.core.errors import InvalidArgument, StrategyError
from nija.core.portfolio import FillModel, Side
from nija.core.strategies import Strategy, StrategyContext, compute_indicators
from nija_strategy_apex import Apex

CASH1 = BacktestConfig(initial_cash=Decimal(1))


class Peeking(Strategy):
    """Buys when the *next* candle closes higher: impossible live."""

    name = "peeking"

    def indicators(self):
        return {}

    def evaluate(self, ctx):
        close = ctx.candles("close")
        future = np.roll(close, -1, axis=1)
        ctx.emit(entry=future > close * 1.002, exit=future < close)


class Crashing(Strategy):
    name = "crashing"

    def indicators(self):
        return {}

    def evaluate(self, ctx):
        ctx.emit(entry=np.ones_like(ctx.candles("close"), dtype=bool))

    def position_fraction(self, signal, **kwargs):
        raise KeyError("sizing bug")


def same_money(a: Decimal, b: Decimal) -> bool:
    """Equal to Decimal's 28 significant digits (sums of products round in the last digit)."""
    return abs(a - b) <= abs(b) * Decimal("1e-25")


def by_ts(market):
    return {int(t): i for i, t in enumerate(market.ts)}


def test_a_peeking_strategy_is_caught(eth):
    with pytest.raises(LookAheadError) as info:
        run_backtest(Peeking, [eth])
    assert "looks ahead" in info.value.message and info.value.strategy == "peeking"
    # Only the check stops it: unchecked, the same run trades on future prices.
    cheat = run_backtest(Peeking, [eth], config=BacktestConfig(initial_cash=Decimal(1), check_lookahead=False))
    assert cheat.metrics["trades"] > 0 and cheat.metrics["lookahead_columns_checked"] == 0


def test_entries_fill_at_the_open_after_the_signal_candle(eth):
    res = run_backtest("apex", [eth], config=CASH1)
    strategy = Apex()
    candles = eth.candles_2d()
    ctx = StrategyContext((eth.symbol,), eth.ts, candles, compute_indicators(strategy.indicators(), candles))
    strategy.evaluate(ctx)
    signals = set(np.flatnonzero(ctx.frame().entry[0]).tolist())
    idx = by_ts(eth)
    assert res.trades
    for tr in res.trades:
        j = idx[tr["entry_ts"]]
        assert j - 1 in signals  # decided on the candle before, after it closed
        expected = Decimal(repr(float(eth.open[j]))) * (1 + Decimal(5) / 10_000)
        assert Decimal(tr["entry_price"]) == expected
        assert tr["exit_ts"] >= tr["entry_ts"]
        if tr["exit_reason"] == "stop_loss":
            # Filled at the stop, or at the open when the candle gapped through it, minus slippage.
            k = idx[tr["exit_ts"]]
            stop = ctx.frame().stop_loss[0, j - 1]
            assert eth.low[k] <= stop
            assert float(tr["exit_price"]) == pytest.approx(min(eth.open[k], stop) * (1 - 5 / 10_000), rel=1e-12)


def test_the_books_balance(markets):
    res = run_backtest("apex", markets[:3], params={"oversold": 35}, config=CASH1)
    m = res.metrics
    pnl = sum((Decimal(t["pnl"]) for t in res.trades), Decimal(0))
    # Every position is closed at the end, so equity is cash and equals start + net trade P&L.
    assert same_money(Decimal(m["final_equity"]), Decimal(1) + pnl)
    assert same_money(Decimal(m["net_pnl"]), pnl)
    assert same_money(sum(Decimal(t["fees"]) for t in res.trades), Decimal(m["fees"]))
    assert m["trades"] == len(res.trades) > 10
    assert {t["symbol"] for t in res.trades} == {mk.symbol for mk in markets[:3]}
    assert math.isclose(res.equity[-1], float(m["final_equity"]), rel_tol=1e-9)


def test_markets_share_one_cash_balance(markets):
    # Each entry asks for 70% of equity: a second market entering while the first is held
    # can only get what cash is left.
    bt = Backtester(Apex(oversold=40, position_fraction=0.7), markets[:3], CASH1)
    bt.run()
    cash, open_qty, capped = Decimal(1), {}, 0
    for f in bt.portfolio.fills:  # in the order they were booked
        if f.side is Side.BUY and any(q > 0 for s, q in open_qty.items() if s != f.symbol):
            capped += 1
            assert f.notional + f.fee <= cash  # never more than the free cash
        cash += -f.side.sign * f.notional - f.fee
        open_qty[f.symbol] = open_qty.get(f.symbol, Decimal(0)) + f.side.sign * f.quantity
        assert cash >= 0
    assert capped > 0
    assert len({f.symbol for f in bt.portfolio.fills}) == 3


def test_metrics_follow_their_definitions(eth):
    res = run_backtest("apex", [eth], params={"oversold": 35}, config=CASH1)
    m, eq = res.metrics, res.equity
    peak = np.maximum.accumulate(eq)
    assert m["max_drawdown"] == pytest.approx(float(np.max(1 - eq / peak)))
    pnls = [Decimal(t["pnl"]) for t in res.trades]
    assert m["win_rate"] == pytest.approx(sum(p > 0 for p in pnls) / len(pnls))
    wins, losses = sum(p for p in pnls if p > 0), -sum(p for p in pnls if p < 0)
    assert m["profit_factor"] == pytest.approx(float(wins / losses))
    assert m["total_return"] == pytest.approx(float(Decimal(m["final_equity"]) - 1))
    r = np.diff(eq) / eq[:-1]
    per_year = 365.25 * 24 * 12  # 5-minute candles
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(per_year))
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(per_year))
    held = sum(t["bars"] for t in res.trades)
    assert m["exposure"] == pytest.approx(held / len(eth), abs=len(res.trades) / len(eth))
    assert 0 < m["exposure"] < 1


def test_gaps_delay_fills_to_the_next_candle_present(eth):
    res = run_backtest("apex", [eth], params={"oversold": 35}, config=CASH1)
    # Cut out the candle right after each entry signal: the fill must move to the candle after the gap.
    idx = by_ts(eth)
    drop = {idx[t["entry_ts"]] for t in res.trades[:5]}
    keep = np.array([i not in drop for i in range(len(eth))])
    gapped = from_arrays(eth.symbol, eth.ts[keep], eth.open[keep], eth.high[keep], eth.low[keep],
                         eth.close[keep], eth.volume[keep])
    # The strategy sees a different series, so compare the decision candles, not the trade list.
    res2 = run_backtest("apex", [gapped], params={"oversold": 35}, config=CASH1)
    assert res2.markets[0]["gaps"] == len(drop)
    gidx = by_ts(gapped)
    for tr in res2.trades:
        j = gidx[tr["entry_ts"]]
        assert gapped.ts[j] > gapped.ts[j - 1]
        assert Decimal(tr["entry_price"]) == Decimal(repr(float(gapped.open[j]))) * (1 + Decimal(5) / 10_000)
    assert any(gapped.ts[gidx[t["entry_ts"]]] - gapped.ts[gidx[t["entry_ts"]] - 1] > 300_000 for t in res2.trades)


def test_same_inputs_give_byte_identical_json(markets, tmp_path):
    runs = [run_backtest("apex", markets[:2], params={"oversold": 35}, config=CASH1).to_json() for _ in range(2)]
    assert runs[0] == runs[1]
    doc = json.loads(runs[0])
    assert doc["strategy"] == "apex" and doc["parameters"]["oversold"] == 35.0
    assert set(doc["metrics"]) >= {"total_return", "cagr", "max_drawdown", "sharpe", "sortino", "win_rate",
                                   "profit_factor", "exposure", "trades"}
    assert len(doc["equity_curve"]["ts"]) == len(doc["equity_curve"]["equity"]) > 100


def test_report_is_self_contained(eth, tmp_path):
    res = run_backtest("apex", [eth], config=CASH1)
    j, h = res.write(tmp_path)
    html = h.read_text()
    assert html.count("<svg") == 2 and "<polyline" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert json.loads(j.read_text())["metrics"]["trades"] == len(res.trades)


def test_a_strategy_crash_is_a_strategy_error(eth):
    with pytest.raises(StrategyError) as info:
        run_backtest(Crashing, [eth], config=BacktestConfig(check_lookahead=False))
    assert isinstance(info.value.__cause__, KeyError) and "position_fraction" in info.value.message


def test_bad_inputs(eth, markets):
    with pytest.raises(InvalidArgument, match="unknown strategy"):
        run_backtest("no-such-strategy", [eth])
    with pytest.raises(InvalidArgument, match="twice"):
        run_backtest("apex", [eth, eth])
    xrp_eth = from_arrays("XRP/ETH", eth.ts, eth.open, eth.high, eth.low, eth.close, eth.volume)
    with pytest.raises(InvalidArgument, match="quote currency"):
        run_backtest("apex", [eth, xrp_eth])
    with pytest.raises(InvalidArgument, match="unknown parameter"):
        run_backtest("apex", [eth], params={"rsi": 3})


def test_short_series_trade_nothing(eth):
    short = from_arrays(eth.symbol, eth.ts[:50], eth.open[:50], eth.high[:50], eth.low[:50], eth.close[:50],
                        eth.volume[:50])
    res = run_backtest("apex", [short])
    assert res.trades == [] and res.metrics["final_equity"] == "10000"


def test_partial_take_profit_fills_respect_participation(eth):
    # A large account against thin candles: take-profits fill over several candles.
    cfg = BacktestConfig(initial_cash=Decimal(10_000), fill_model=FillModel(participation=Decimal("0.05")))
    bt = Backtester(Apex(oversold=35, take_profit_atr=1.0), [eth], cfg)
    res = bt.run()
    idx = by_ts(eth)
    tp = [f for f in bt.portfolio.fills if f.order_id.endswith("-tp")]
    assert tp and all(f.liquidity == "maker" for f in tp)
    for f in tp:
        assert f.quantity <= Decimal("0.05") * Decimal(repr(float(eth.volume[idx[f.ts_ms]])))
    per_order = {}
    for f in tp:
        per_order[f.order_id] = per_order.get(f.order_id, 0) + 1
    assert max(per_order.values()) > 1  # one take-profit order, several partial fills
    pnl = sum((Decimal(t["pnl"]) for t in res.trades), Decimal(0))
    assert same_money(Decimal(res.metrics["final_equity"]), Decimal(10_000) + pnl)
    assert all(p.is_flat for p in bt.portfolio.positions.values())


def test_progress_bar_on_request(eth, capsys):
    run_backtest("apex", [eth], config=BacktestConfig(initial_cash=Decimal(1), progress=True))
    err = capsys.readouterr().err
    assert "backtest [" in err and "100%" in err


def test_optional_callbacks_are_called(eth):
    calls = {"start": [], "fills": []}

    class Watching(Apex):
        def on_start(self, symbols, **kwargs):
            calls["start"].append(symbols)

        def on_fill(self, fill, **kwargs):
            calls["fills"].append(fill)

    bt = Backtester(Watching(oversold=35), [eth], CASH1)
    bt.run()
    assert calls["start"] == [("ETH/BTC",)]
    assert calls["fills"] == bt.portfolio.fills and len(calls["fills"]) >= 2


def test_broken_candles_become_gaps(eth):
    close = eth.close.copy()
    close[1000:1010] = np.nan  # a feed outage
    broken = from_arrays(eth.symbol, eth.ts, eth.open, eth.high, eth.low, close, eth.volume)
    assert len(broken) == len(eth) - 10 and broken.gaps() == 1
    res = run_backtest("apex", [broken], params={"oversold": 35}, config=CASH1)
    assert res.markets[0]["gaps"] == 1 and res.metrics["trades"] > 0
    assert all(np.isfinite(res.equity))


class RarePeek(Strategy):
    """Honest almost always; peeks only before big jumps (a handful of columns)."""

    name = "rare_peek"

    def indicators(self):
        return {"rsi": ("rsi", {"timeperiod": 14})}

    def evaluate(self, ctx):
        close = ctx.candles("close")
        future = np.roll(close, -3, axis=1)
        honest = ctx.indicator("rsi") < 20
        ctx.emit(entry=honest | (future > close * 1.03), exit=ctx.indicator("rsi") > 80)


class MorningsOnly(Strategy):
    """Reads ctx.times (time of day): legitimate, and must not be mistaken for look-ahead."""

    name = "mornings_only"

    def indicators(self):
        return {"rsi": ("rsi", {"timeperiod": 14})}

    def evaluate(self, ctx):
        rsi = ctx.indicator("rsi")
        morning = (ctx.times % 86_400_000) < 43_200_000
        ctx.emit(entry=(rsi < 35) & morning[None, :], exit=rsi > 65)


def test_every_signalling_column_is_checked(eth):
    with pytest.raises(LookAheadError):
        run_backtest(RarePeek, [eth], config=CASH1)
    res = run_backtest(MorningsOnly, [eth], config=CASH1)
    assert res.metrics["trades"] > 0
    assert res.metrics["lookahead_columns_checked"] >= res.markets[0]["entry_signals"] + res.markets[0]["exit_signals"]
    assert all((t["entry_ts"] - 300_000) % 86_400_000 < 43_200_000 for t in res.trades)
