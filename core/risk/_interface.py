from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.errors import FailedPrecondition


class RiskRejected(FailedPrecondition):
    """A pre-trade rule refused the order. ``rule`` is the rule's stable name
    (e.g. "max_positions", "kill_switch.global"), recorded with the rejected order."""

    reason = "RISK_REJECTED"

    def __init__(self, rule: str, message: str, *, flatten: bool = False) -> None:
        super().__init__(message)
        self.rule = rule
        #: True when the rule also asks the order path to stop the user's bots and flatten
        #: their positions (``hard.max_drawdown``); reduce-only orders still pass risk then.
        self.flatten = flatten


@dataclass(frozen=True)
class OrderRequest:
    """What risk needs to know about an order about to be placed."""

    user_id: str
    bot_id: str | None
    broker_connection_id: str | None
    exchange: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    #: Best estimate of the execution price (limit price, or last price for market orders).
    price: Decimal
    #: quantity × price in USD (converted by the caller when the quote is not USD).
    notional_usd: Decimal
    #: Whether the order can only shrink an existing position.
    reduce_only: bool
    #: False for paper trading.
    live: bool
    #: Equity of the account the order trades in, USD; sizing rules are relative to it.
    account_equity_usd: Decimal
    #: False when the order adds to a position already open in this symbol: it then does not
    #: count against the max-positions limits (it still counts as a trade and adds exposure).
    #: Ignored for reduce-only orders, which never open a position.
    opens_position: bool = True
    #: The trade-only permission's input: what the venue last said of the key this live order
    #: goes through (True = it can withdraw or transfer funds off the venue, None = the venue
    #: does not say). Checked when the account is opened (bot start, restart).
    key_can_withdraw: bool | None = None


class PreTradeCheck(Protocol):
    async def pre_trade(self, conn: AsyncConnection, request: OrderRequest) -> None:
        """Raise :class:`RiskRejected` to refuse ``request``; return to let it through."""

    async def on_broker_result(self, user_id: str, bot_id: str | None, ok: bool) -> None:
        """Told after every broker call of an order (consecutive-error rules)."""
