"""The paper fill model: next-candle fills, slippage, fees, limit trade-through, partials, stops."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from nija.core.portfolio import Candle, FillModel, Order, OrderType, Side


def candle(ts, o, h, l, c, v="1000"):
    return Candle(ts, D(o), D(h), D(l), D(c), D(v))


def order(side, qty, type_=OrderType.MARKET, limit=None, stop=None, ts=0):
    return Order("o1", "acct", "BTC/USD", Side(side), D(qty), type_,
                 D(limit) if limit else None, D(stop) if stop else None, ts)


def test_market_order_fills_at_next_open_plus_slippage_and_taker_fee():
    model = FillModel(slippage_bps=D(10), taker_fee_bps=D(20))
    f = model.execute(order("buy", "2"), candle(1, "100", "110", "90", "105"))
    assert f.price == D("100.1") and f.quantity == D("2") and f.liquidity == "taker"
    assert f.fee == D("2") * D("100.1") * D("0.002")
    s = model.execute(order("sell", "2"), candle(1, "100", "110", "90", "105"))
    assert s.price == D("99.9")


def test_market_impact_scales_with_the_share_of_volume():
    model = FillModel(slippage_bps=D(0), impact_bps=D(100))
    f = model.execute(order("buy", "500"), candle(1, "100", "100", "100", "100", v="1000"))
    assert f.price == D("100.5")  # took half the candle's volume -> 50 bps


def test_no_fill_on_or_before_the_submission_candle():
    with pytest.raises(ValueError, match="later candles"):
        FillModel().execute(order("buy", "1", ts=5), candle(5, "1", "1", "1", "1"))


def test_limit_buy_needs_trade_through_and_fills_partially_by_participation():
    model = FillModel(participation=D("0.1"), maker_fee_bps=D(5))
    o = order("buy", "150", OrderType.LIMIT, limit="95")
    # Low touches 95 but does not trade through: no fill.
    assert model.execute(o, candle(1, "100", "101", "95", "99"), first_candle=True) is None
    f1 = model.execute(o, candle(2, "99", "100", "94", "96", v="1000"), first_candle=False)
    assert (f1.price, f1.quantity, f1.liquidity) == (D("95"), D("100"), "maker")
    assert f1.fee == D("100") * D("95") * D("0.0005")
    f2 = model.execute(o, candle(3, "96", "97", "90", "91", v="1000"), remaining=D("50"), first_candle=False)
    assert f2.quantity == D("50")
    assert FillModel(participation=None).execute(o, candle(2, "99", "100", "94", "96", v="1"), first_candle=False).quantity == D("150")


def test_marketable_limit_crosses_at_the_open_on_its_first_candle_only():
    o = order("sell", "1", OrderType.LIMIT, limit="100")
    f = FillModel().execute(o, candle(1, "103", "104", "99", "100"), first_candle=True)
    assert f.price == D("103") and f.liquidity == "taker"
    rest = FillModel().execute(o, candle(1, "103", "104", "99", "100"), first_candle=False)
    assert rest.price == D("100") and rest.liquidity == "maker"


def test_stop_loss_triggers_at_stop_or_gaps_to_the_open():
    model = FillModel(slippage_bps=D(0))
    o = order("sell", "1", OrderType.STOP, stop="95")
    assert model.execute(o, candle(1, "100", "101", "96", "97")) is None
    assert model.execute(o, candle(2, "97", "98", "94", "95")).price == D("95")
    assert model.execute(o, candle(3, "90", "92", "88", "91")).price == D("90")  # gapped through
    buy_stop = order("buy", "1", OrderType.STOP, stop="105")
    assert model.execute(buy_stop, candle(4, "100", "106", "99", "104")).price == D("105")


def test_deterministic():
    model = FillModel(impact_bps=D(7))
    c = candle(1, "100.123", "101", "99", "100", v="777.7")
    assert model.execute(order("buy", "3.3"), c) == model.execute(order("buy", "3.3"), c)
