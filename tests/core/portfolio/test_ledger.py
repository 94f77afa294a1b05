"""Decimal accounting: fills, partial fills, fees, average entry, flips, equity and exposure."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from nija.core.portfolio import Fill, Portfolio, Side, to_decimal


def fill(side, qty, price, fee="0", symbol="BTC/USD", ts=0):
    return Fill("acct", symbol, Side(side), D(qty), D(price), D(fee), ts_ms=ts)


def test_buy_in_two_partial_fills_averages_the_entry_and_charges_fees():
    pf = Portfolio(cash={"acct": D("10000")})
    pf.apply(fill("buy", "0.5", "100", fee="0.05", ts=1))
    pf.apply(fill("buy", "1.5", "120", fee="0.18", ts=2))
    pos = pf.position("acct", "BTC/USD")
    assert pos.quantity == D("2")
    assert pos.avg_entry_price == D("115")  # (0.5*100 + 1.5*120) / 2
    assert pos.opened_ts_ms == 1
    assert pos.fees == D("0.23")
    assert pf.cash["acct"] == D("10000") - D("50") - D("180") - D("0.23")
    assert pos.unrealized_pnl(D("130")) == D("30")
    assert pf.equity("acct", {"BTC/USD": D("130")}) == pf.cash["acct"] + D("260")


def test_partial_close_realizes_on_the_closed_part_only_and_keeps_the_entry():
    pf = Portfolio(cash={"acct": D("0")})
    pf.apply(fill("buy", "2", "100"))
    realized = pf.apply(fill("sell", "0.5", "110", fee="0.055"))
    pos = pf.position("acct", "BTC/USD")
    assert realized == D("5")
    assert pos.quantity == D("1.5") and pos.avg_entry_price == D("100")
    assert pf.realized_pnl("acct") == D("5") and pf.fees("acct") == D("0.055")


def test_flip_long_to_flat_then_through_zero_to_short():
    pf = Portfolio(cash={"acct": D("1000")})
    pf.apply(fill("buy", "1", "100", ts=1))
    pf.apply(fill("sell", "1", "90", ts=2))
    pos = pf.position("acct", "BTC/USD")
    assert pos.is_flat and pos.avg_entry_price == 0 and pos.opened_ts_ms is None
    assert pos.realized_pnl == D("-10")
    assert pf.open_positions() == []
    assert pf.cash["acct"] == D("990")
    # Long 1, then sell 3: closes the long at a profit, opens a short of 2 at the fill price.
    pf.apply(fill("buy", "1", "100", ts=3))
    assert pf.apply(fill("sell", "3", "105", ts=4)) == D("5")
    assert pos.quantity == D("-2") and pos.avg_entry_price == D("105") and pos.opened_ts_ms == 4
    assert pos.unrealized_pnl(D("100")) == D("10")  # a short gains when the price falls
    assert pf.apply(fill("buy", "2", "100")) == D("10")
    assert pos.is_flat


def test_equity_and_exposure_across_symbols_and_a_missing_mark_is_an_error():
    pf = Portfolio(cash={"acct": D("500")})
    pf.apply(fill("buy", "2", "50", symbol="ETH/USD"))
    pf.apply(fill("sell", "1", "10", symbol="XRP/USD"))
    marks = {"ETH/USD": D("60"), "XRP/USD": D("12")}
    assert pf.equity("acct", marks) == D("500") - 100 + 10 + 120 - 12
    assert pf.exposure("acct", marks) == D("132")
    assert pf.unrealized_pnl("acct", marks) == D("20") + D("-2")
    with pytest.raises(KeyError):
        pf.equity("acct", {"ETH/USD": D("60")})


def test_accounts_are_kept_apart():
    pf = Portfolio(cash={"a": D("100"), "b": D("100")})
    pf.apply(Fill("a", "X", Side.BUY, D("1"), D("10")))
    assert pf.cash == {"a": D("90"), "b": D("100")}
    assert pf.open_positions("b") == [] and len(pf.open_positions("a")) == 1


def test_invalid_fills_and_float_conversion():
    with pytest.raises(ValueError):
        fill("buy", "0", "1")
    with pytest.raises(ValueError):
        fill("buy", "1", "-1")
    assert to_decimal(0.1) == D("0.1")
    assert to_decimal(5.2900000000000005e-05) == D("0.000052900000000000005")


def test_sizing_by_fraction_of_equity_is_capped_by_cash_and_rounded_down():
    from nija.core.portfolio import quantity_for_fraction

    q = quantity_for_fraction(equity=D("1000"), fraction=D("0.1"), price=D("3"), cash=D("1000"))
    assert q == D("33.33333333")
    # Only 50 in cash: buys what 50 covers after 20 bps of costs.
    q = quantity_for_fraction(equity=D("1000"), fraction=D("0.1"), price=D("3"), cash=D("50"), cost_bps=D("20"))
    assert q == D("16.63339986") and q * D("3") * D("1.002") <= D("50")
    assert quantity_for_fraction(equity=D("1000"), fraction=D("0.1"), price=D("3"), cash=D("0")) == 0
    assert quantity_for_fraction(equity=D("1000"), fraction=D("5"), price=D("1"), cash=D("2000"), step=D("1")) == D("1000")
