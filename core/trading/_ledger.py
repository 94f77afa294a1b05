"""Bridges from venue fills to the shared accounting (:mod:`nija.core.portfolio`).

Position arithmetic (average entry, realised P&L, fees) is :class:`nija.core.portfolio.Position`
— the same model the backtester uses; this module only converts units and computes how a spot
fill moves a paper account's asset totals.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


def fee_in_quote(fee: Decimal, fee_asset: str, base: str, price: Decimal) -> Decimal:
    """Fees charged in the base asset are converted at the fill price; others count as quote
    (a venue token such as BNB has no price here and is counted at face value)."""
    return fee * price if fee_asset == base else fee


def balance_changes(side: str, amount: Decimal, price: Decimal, fee: Decimal, fee_asset: str,
                    base: str, quote: str) -> dict[str, Decimal]:
    """How a spot fill moves the account's asset totals."""
    changes = {base: amount if side == "buy" else -amount, quote: -(amount * price) if side == "buy" else amount * price}
    changes[fee_asset] = changes.get(fee_asset, ZERO) - fee
    return changes
