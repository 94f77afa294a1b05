"""Orders as data: the state machine, client order ids, and the order a bot asks for.

Leaf module for the trading package: no database, no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from nija.core.errors import FailedPrecondition, InvalidArgument


class OrderState(str, Enum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES

    @property
    def open(self) -> bool:
        return self in (OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED)


FINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED})

S = OrderState
#: Every allowed transition. ``submitted`` is also the "outcome unknown" state: the order was
#: (maybe) sent and no answer arrived; only a fetch by client order id moves it on.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.NEW: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(FailedPrecondition):
    """An order was asked to move to a state its current state does not allow."""

    reason = "ILLEGAL_ORDER_TRANSITION"


def check_transition(current: OrderState, target: OrderState) -> None:
    if target == current and target != S.PARTIALLY_FILLED:
        return  # re-applying the same venue answer is a no-op, not an error
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"order cannot go from {current.value} to {target.value}")


def state_from_venue(status: str, filled: Decimal, amount: Decimal) -> OrderState:
    """Map a venue status (ccxt vocabulary) and fill progress to our state."""
    if status == "closed":
        return S.FILLED if filled >= amount else (S.PARTIALLY_FILLED if filled > 0 else S.CANCELLED)
    if status == "open":
        return S.PARTIALLY_FILLED if filled > 0 else S.ACCEPTED
    if status == "canceled":
        return S.CANCELLED
    if status == "rejected":
        return S.REJECTED
    if status == "expired":
        return S.EXPIRED
    raise ValueError(f"unknown venue status {status!r}")


def client_order_id(bot_id: str, signal_id: str) -> str:
    """Deterministic from (bot, signal): the same signal after a retry or a restart yields the
    same id, which the unique index and the venue both refuse to take twice.

    35 characters of ``[a-z0-9-]``: within Binance's 36, Coinbase's, Kraken's (userref aside)
    and OKX's 32 after the broker trims the prefix.
    """
    digest = hashlib.sha256(f"{bot_id}\x00{signal_id}".encode()).hexdigest()
    return f"nj-{digest[:32]}"


SIDES = ("buy", "sell")
TYPES = ("market", "limit", "stop_loss", "stop_limit")


@dataclass(frozen=True)
class OrderIntent:
    """What a bot (or an emergency stop) asks to trade. ``signal_id`` identifies the decision
    (e.g. ``"ETH/BTC:5m:1515560100000:buy"``) and with the bot id makes the client order id."""

    user_id: str
    bot_id: str
    signal_id: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    post_only: bool = False
    reduce_only: bool = False
    #: Best estimate of the execution price, for risk (limit price or last price).
    reference_price: Decimal | None = None

    def validate(self) -> None:
        if self.side not in SIDES:
            raise InvalidArgument(f"side must be one of {', '.join(SIDES)}", field="side")
        if self.type not in TYPES:
            raise InvalidArgument(f"type must be one of {', '.join(TYPES)}", field="type")
        if "/" not in self.symbol:
            raise InvalidArgument("symbol must be BASE/QUOTE, e.g. ETH/BTC", field="symbol")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise InvalidArgument("amount must be a positive decimal", field="amount")
        if self.type in ("limit", "stop_limit") and (self.price is None or self.price <= 0):
            raise InvalidArgument(f"a {self.type} order needs a positive price", field="price")
        if self.type in ("stop_loss", "stop_limit") and (self.stop_price is None or self.stop_price <= 0):
            raise InvalidArgument(f"a {self.type} order needs a positive stop price", field="stop_price")
        if self.post_only and self.type != "limit":
            raise InvalidArgument("post-only applies to limit orders", field="post_only")


def paper_account_key(user_id: str) -> str:
    """The account key of a user's paper account (one per user, shared by their paper bots)."""
    return f"paper:{user_id}"


def split_symbol(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote.split(":")[0]
