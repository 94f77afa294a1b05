"""Decimal helpers for money and quantities (never floats in orders or accounting)."""

from __future__ import annotations

from decimal import Decimal


def decimal_to_str(value: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal("10.0000") → "10", Decimal("1E+1") → "10",
    Decimal("0.00012300") → "0.000123". This is how decimals travel in the proto messages."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
