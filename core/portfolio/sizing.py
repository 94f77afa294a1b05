"""Turning a strategy's "share of equity" into an order quantity (Decimal).

Shared by the backtester and the live engine so both size the same way.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

BPS = Decimal(10_000)
DEFAULT_STEP = Decimal("0.00000001")


def quantity_for_fraction(*, equity: Decimal, fraction: Decimal, price: Decimal, cash: Decimal,
                          cost_bps: Decimal = Decimal(0), step: Decimal = DEFAULT_STEP) -> Decimal:
    """Quantity worth ``fraction`` of ``equity`` at ``price``, never more than ``cash`` buys.

    Parameters
    ----------
    equity : Decimal
        Account equity (cash plus marked positions) in quote currency.
    fraction : Decimal
        Share of equity to commit, in (0, 1].
    price : Decimal
        Expected execution price (e.g. the last close for a market order).
    cash : Decimal
        Free quote-currency cash; spot trading does not borrow.
    cost_bps : Decimal
        Fees plus expected slippage, reserved out of cash so the fill cannot overdraw it.
    step : Decimal
        Lot step; the quantity is rounded *down* to a multiple of it.

    Returns
    -------
    Decimal
        Zero when nothing affordable remains.
    """
    if price <= 0 or equity <= 0 or cash <= 0 or fraction <= 0:
        return Decimal(0)
    unit_cost = price * (1 + cost_bps / BPS)
    budget = min(equity * min(fraction, Decimal(1)), cash)
    qty = (budget / unit_cost).quantize(step, rounding=ROUND_DOWN) if step > 0 else budget / unit_cost
    return max(qty, Decimal(0))
