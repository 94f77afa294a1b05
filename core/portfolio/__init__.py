"""Decimal accounting shared by the backtester and the live engine.

Pure, framework-free: positions per ``(account, symbol)``, fills (partial, fees), realized
and unrealized P&L, average entry price, equity given marks, exposure; and the paper fill
model (:mod:`nija.core.portfolio.fills`) that turns orders plus candles into fills.

Every amount is a :class:`decimal.Decimal`. Quote-currency cash per account; fees are
charged in the quote currency.
"""

from nija.core.portfolio._ledger import Fill, Portfolio, Position, Side, to_decimal
from nija.core.portfolio.fills import Candle, FillModel, Order, OrderType
from nija.core.portfolio.sizing import quantity_for_fraction

__all__ = [
    "Candle",
    "Fill",
    "FillModel",
    "Order",
    "OrderType",
    "Portfolio",
    "Position",
    "Side",
    "quantity_for_fraction",
    "to_decimal",
]
