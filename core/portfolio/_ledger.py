"""Positions, fills and P&L in Decimal.

Conventions
-----------
- A position's ``quantity`` is signed: positive long, negative short, zero flat.
- ``avg_entry_price`` is the volume-weighted price of the open quantity; reducing a position
  leaves it unchanged, crossing through zero resets it to the crossing fill's price.
- Realized P&L is booked on the reducing part of a fill, *before* fees; fees are tracked
  separately (``fees``) and taken from cash, so ``net_realized = realized_pnl - fees``.
- Cash moves by ``-side * quantity * price - fee`` on each fill (spot semantics: buying spends
  quote currency, selling returns it; a short sale credits cash and owes the asset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Mapping

ZERO = Decimal(0)


def to_decimal(value: object) -> Decimal:
    """Convert a price or quantity to Decimal without binary-float noise.

    Floats go through ``repr`` (the shortest string that round-trips), so ``0.1`` becomes
    ``Decimal("0.1")``, not ``Decimal(0.1000000000000000055…)``.
    """
    kind = type(value)
    if kind is float:
        return Decimal(repr(value))
    if kind is Decimal:
        return value
    if isinstance(value, float):  # NumPy float64 and other float subclasses
        return Decimal(repr(float(value)))
    return Decimal(str(value))


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return _SIGN[self]


_SIGN = {Side.BUY: 1, Side.SELL: -1}


@dataclass(frozen=True)
class Fill:
    """One execution (a whole or partial fill of an order).

    Attributes
    ----------
    account, symbol : str
        Where it books.
    side : Side
    quantity : Decimal
        Always positive.
    price : Decimal
        Execution price in quote currency.
    fee : Decimal
        Fee paid in quote currency (positive; a maker rebate would be negative).
    ts_ms : int
        Execution time, UTC milliseconds.
    order_id : str
        Client order id the fill belongs to.
    liquidity : str
        ``"maker"`` or ``"taker"``.
    """

    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    ts_ms: int = 0
    order_id: str = ""
    liquidity: str = "taker"

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"fill quantity must be positive, got {self.quantity}")
        if self.price <= 0:
            raise ValueError(f"fill price must be positive, got {self.price}")

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@dataclass
class Position:
    """Open quantity and P&L of one symbol in one account."""

    account: str
    symbol: str
    quantity: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ts_ms: int | None = None

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open quantity at ``mark``."""
        return (mark - self.avg_entry_price) * self.quantity

    def market_value(self, mark: Decimal) -> Decimal:
        return self.quantity * mark

    def apply(self, fill: Fill) -> Decimal:
        """Book ``fill``; return the realized P&L (before fees) it produced."""
        signed = fill.quantity * fill.side.sign
        realized = ZERO
        q = self.quantity
        if q == 0 or (q > 0) == (signed > 0):
            # Opening or adding: blend the average entry.
            new_q = q + signed
            self.avg_entry_price = (self.avg_entry_price * abs(q) + fill.price * abs(signed)) / abs(new_q)
            if q == 0:
                self.opened_ts_ms = fill.ts_ms
            self.quantity = new_q
        else:
            closed = min(abs(q), abs(signed))
            # Long closes gain (exit - entry); short closes gain (entry - exit).
            direction = 1 if q > 0 else -1
            realized = (fill.price - self.avg_entry_price) * closed * direction
            new_q = q + signed
            if new_q == 0:
                self.avg_entry_price = ZERO
                self.opened_ts_ms = None
            elif (new_q > 0) != (q > 0):
                # Crossed through zero: the remainder opens at this fill's price.
                self.avg_entry_price = fill.price
                self.opened_ts_ms = fill.ts_ms
            self.quantity = new_q
        self.realized_pnl += realized
        self.fees += fill.fee
        return realized


@dataclass
class Portfolio:
    """Cash per account and positions per ``(account, symbol)``.

    Parameters
    ----------
    cash : mapping of account -> Decimal
        Starting quote-currency balances.
    """

    cash: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)

    def position(self, account: str, symbol: str) -> Position:
        """The position (created flat on first use)."""
        key = (account, symbol)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(account, symbol)
        return pos

    def apply(self, fill: Fill) -> Decimal:
        """Book a fill: position, realized P&L, fee and cash. Returns realized P&L (pre-fee)."""
        realized = self.position(fill.account, fill.symbol).apply(fill)
        self.cash[fill.account] = self.cash.get(fill.account, ZERO) - fill.side.sign * fill.notional - fill.fee
        self.fills.append(fill)
        return realized

    def open_positions(self, account: str | None = None) -> list[Position]:
        return [p for (a, _), p in sorted(self.positions.items())
                if not p.is_flat and (account is None or a == account)]

    def equity(self, account: str, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus open positions valued at ``marks`` (symbol -> price).

        Raises
        ------
        KeyError
            When an open position's symbol has no mark (valuing it at 0 would hide a bug).
        """
        total = self.cash.get(account, ZERO)
        for pos in self.open_positions(account):
            total += pos.market_value(marks[pos.symbol])
        return total

    def exposure(self, account: str, marks: Mapping[str, Decimal]) -> Decimal:
        """Gross exposure: sum of ``|quantity × mark|`` over open positions."""
        return sum((abs(p.market_value(marks[p.symbol])) for p in self.open_positions(account)), ZERO)

    def unrealized_pnl(self, account: str, marks: Mapping[str, Decimal]) -> Decimal:
        return sum((p.unrealized_pnl(marks[p.symbol]) for p in self.open_positions(account)), ZERO)

    def realized_pnl(self, account: str) -> Decimal:
        """Realized P&L before fees over every symbol of ``account``."""
        return sum((p.realized_pnl for (a, _), p in self.positions.items() if a == account), ZERO)

    def fees(self, account: str) -> Decimal:
        return sum((p.fees for (a, _), p in self.positions.items() if a == account), ZERO)
