"""The paper fill model: orders against candles, deterministically.

The backtester and the paper broker share it, so a strategy sees the same fills in both.
It works on candles (OHLCV); order-book depth can refine it later without changing callers.

Rules
-----
An order decided on candle ``t`` (after ``t`` closed) is first offered candle ``t+1``; nothing
ever fills inside the candle that produced the decision (no look-ahead).

- **Market** orders fill completely at the next candle's open, worsened by
  ``slippage_bps`` plus ``impact_bps × quantity / candle volume`` (the share of the candle's
  volume the order takes; 0 extra when ``impact_bps`` is 0 or the volume is unknown).
  Taker fee.
- **Limit** orders: on the first candle after submission a limit that is already marketable
  at the open (buy limit ≥ open, sell limit ≤ open) crosses the book: it fills at the open
  as a taker (no worse than its limit). Otherwise it rests and fills at its limit price as a
  maker on a later candle whose range *trades through* it (buy: low < limit; sell: high >
  limit); a mere touch is not enough because queue position is unknown. Each candle fills at
  most ``participation × candle volume``; the rest stays open for the next candles (partial
  fills). ``participation = None`` removes the cap.
- **Stop** (stop-market, e.g. a stop-loss) orders trigger when the candle reaches the stop
  (sell: low ≤ stop; buy: high ≥ stop) and fill completely at the stop, or at the open when
  the candle gapped through it, worsened by ``slippage_bps``. Taker fee.
- Fees are ``notional × fee_bps / 10 000`` in quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from nija.core.portfolio._ledger import Fill, Side

ZERO = Decimal(0)
BPS = Decimal(10_000)


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


@dataclass(frozen=True)
class Candle:
    """One closed candle; prices and volume in Decimal."""

    ts_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class Order:
    """An order as the fill model sees it (the order state machine lives with trading)."""

    order_id: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    submitted_ts_ms: int = 0

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order quantity must be positive, got {self.quantity}")
        if self.type is OrderType.LIMIT and (self.limit_price is None or self.limit_price <= 0):
            raise ValueError("a limit order needs a positive limit_price")
        if self.type is OrderType.STOP and (self.stop_price is None or self.stop_price <= 0):
            raise ValueError("a stop order needs a positive stop_price")


@dataclass(frozen=True)
class FillModel:
    """Parameters of the paper fill model (see the module docstring for the rules).

    Parameters
    ----------
    slippage_bps : Decimal
        Adverse price move on market and stop fills, basis points.
    impact_bps : Decimal
        Extra adverse move per unit of candle volume taken by a market order.
    maker_fee_bps, taker_fee_bps : Decimal
        Fees on resting (maker) and crossing (taker) fills.
    participation : Decimal or None
        Largest share of a candle's volume one limit order may fill in that candle.
    """

    slippage_bps: Decimal = Decimal(5)
    impact_bps: Decimal = ZERO
    maker_fee_bps: Decimal = Decimal(10)
    taker_fee_bps: Decimal = Decimal(10)
    participation: Decimal | None = Decimal("0.1")

    def _fill(self, order: Order, candle: Candle, qty: Decimal, price: Decimal, maker: bool) -> Fill:
        fee_bps = self.maker_fee_bps if maker else self.taker_fee_bps
        return Fill(
            account=order.account, symbol=order.symbol, side=order.side, quantity=qty, price=price,
            fee=qty * price * fee_bps / BPS, ts_ms=candle.ts_ms, order_id=order.order_id,
            liquidity="maker" if maker else "taker",
        )

    def _worsen(self, side: Side, price: Decimal, bps: Decimal) -> Decimal:
        return price * (1 + side.sign * bps / BPS)

    def execute(self, order: Order, candle: Candle, remaining: Decimal | None = None,
                first_candle: bool = True) -> Fill | None:
        """What ``candle`` fills of ``order``.

        Parameters
        ----------
        order : Order
            Must have been submitted before ``candle`` opened (``submitted_ts_ms < ts_ms``).
        candle : Candle
            A candle after the order's submission.
        remaining : Decimal, optional
            Quantity still open (default: the whole order).
        first_candle : bool
            Whether this is the first candle the order meets (limit orders cross only then).

        Returns
        -------
        Fill or None
            ``None`` when nothing fills on this candle.
        """
        if candle.ts_ms <= order.submitted_ts_ms:
            raise ValueError(
                f"order {order.order_id} submitted at {order.submitted_ts_ms} cannot fill on the "
                f"candle of {candle.ts_ms}: fills happen on later candles only")
        qty = order.quantity if remaining is None else remaining
        if qty <= 0:
            return None
        side = order.side
        if order.type is OrderType.MARKET:
            bps = self.slippage_bps
            if self.impact_bps and candle.volume > 0:
                bps += self.impact_bps * qty / candle.volume
            return self._fill(order, candle, qty, self._worsen(side, candle.open, bps), maker=False)
        if order.type is OrderType.STOP:
            stop = order.stop_price
            if side is Side.SELL and candle.low <= stop:
                return self._fill(order, candle, qty, self._worsen(side, min(candle.open, stop), self.slippage_bps), False)
            if side is Side.BUY and candle.high >= stop:
                return self._fill(order, candle, qty, self._worsen(side, max(candle.open, stop), self.slippage_bps), False)
            return None
        limit = order.limit_price
        if first_candle and (candle.open <= limit if side is Side.BUY else candle.open >= limit):
            return self._fill(order, candle, qty, candle.open, maker=False)
        through = candle.low < limit if side is Side.BUY else candle.high > limit
        if not through:
            return None
        if self.participation is not None:
            qty = min(qty, self.participation * candle.volume)
            if qty <= 0:
                return None
        return self._fill(order, candle, qty, limit, maker=True)
