"""NIJA's paper broker: a simulated venue with per-user balances.

Fills come from the shared paper fill model (:class:`nija.core.portfolio.FillModel`, the one
the backtester uses): an order decided on a candle is offered the *next* candle — market
orders fill at its open plus slippage, limit orders cross or rest (maker, partial fills capped
by the candle's volume), stop orders trigger on the range. Maker/taker fees in the quote asset.

The venue lives in this process (``capabilities["in_process"]``): balances are persisted by
core from the fills this broker reports and handed back in ``context.state["balances"]``;
resting orders are handed back through :meth:`PaperBroker.restore_open_orders` after a restart.
Because the venue is in the process, core calls it inside the order's transaction; when that
transaction rolls back, :meth:`PaperBroker.discard_order` takes the order back out.
Time comes from the injected clock and the market data only, so runs are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Sequence

from nija.core.plugins import (
    Broker,
    BrokerBadRequest,
    BrokerOrderNotFound,
    Candle,
    MarketInfo,
    OrderSpec,
    VenueFill,
    VenueOrder,
    hookimpl,
)
from nija.core.portfolio import FillModel, Order, OrderType, Side
from nija.core.portfolio import Candle as ModelCandle

ZERO = Decimal(0)
#: Starting balances of a new paper account (the quote assets of the common markets), about
#: 3,600 USD in all: small enough that the default risk limits (100 USD per position, at least 2%
#: of equity per order) leave room to trade. ``options["balances"]`` overrides them.
DEFAULT_BALANCES = {"USDT": Decimal(1_000), "BTC": Decimal("0.1"), "ETH": Decimal(1)}
_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop_loss": OrderType.STOP}


@dataclass
class _Resting:
    spec: OrderSpec
    order: Order
    fills: list[VenueFill] = field(default_factory=list)
    status: str = "open"
    candles_seen: int = 0

    @property
    def filled(self) -> Decimal:
        return sum((f.amount for f in self.fills), ZERO)

    def view(self) -> VenueOrder:
        filled = self.filled
        avg = (sum((f.amount * f.price for f in self.fills), ZERO) / filled) if filled else None
        return VenueOrder(order_id=f"paper-{self.spec.client_order_id}", client_order_id=self.spec.client_order_id,
                          symbol=self.spec.symbol, side=self.spec.side, type=self.spec.type, amount=self.spec.amount,
                          status=self.status, filled=filled, price=self.spec.price, average=avg,
                          timestamp=self.order.submitted_ts_ms, fills=tuple(self.fills))


class PaperBroker(Broker):
    name = "paper"
    description = "Simulated trading with virtual balances (no exchange account needed)"
    capabilities = {
        "live": False, "order_types": ["market", "limit", "stop_loss"], "post_only": True, "reduce_only": True,
        "venue_stops": True, "permissions": False, "in_process": True, "rate_limit": None,
    }

    def __init__(self, context) -> None:
        super().__init__(context)
        opts = context.options or {}
        self.model: FillModel = opts.get("fill_model") or FillModel()
        balances = context.state.get("balances") if context.state else None
        start = opts.get("balances") or DEFAULT_BALANCES
        self.balances: dict[str, Decimal] = dict(balances) if balances else {k: Decimal(v) for k, v in start.items()}
        self._orders: dict[str, _Resting] = {}
        # The resting ones only (what matching and reservations look at): the book of every
        # order ever placed stays in ``_orders`` for fetches by client order id.
        self._open: dict[str, _Resting] = {}
        self._fills: list[VenueFill] = []

    # ---------------------------------------------------------------------------- reads
    async def load_markets(self) -> Mapping[str, MarketInfo]:
        md = self.context.market_data
        symbols = md.symbols() if md is not None and hasattr(md, "symbols") else []
        return {s: MarketInfo(symbol=s, base=s.split("/")[0], quote=s.split("/")[1]) for s in symbols}

    def _reserved(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for r in self._open.values():
            if r.status != "open":
                continue
            base, quote = r.spec.symbol.split("/")
            left = r.spec.amount - r.filled
            if r.spec.side == "buy":
                price = r.spec.price or self._last_price(r.spec.symbol) or ZERO
                out[quote] = out.get(quote, ZERO) + left * price
            else:
                out[base] = out.get(base, ZERO) + left
        return out

    async def fetch_balance(self) -> Mapping[str, tuple[Decimal, Decimal]]:
        reserved = self._reserved()
        return {a: (t, t - reserved.get(a, ZERO)) for a, t in sorted(self.balances.items())}

    def _last_price(self, symbol: str) -> Decimal | None:
        md = self.context.market_data
        candle = md.last_candle(symbol) if md is not None else None
        return candle.close if candle is not None else None

    # ---------------------------------------------------------------------------- orders
    async def place_order(self, spec: OrderSpec) -> VenueOrder:
        existing = self._orders.get(spec.client_order_id)
        if existing is not None:
            return existing.view()  # same client order id: the venue de-duplicates
        if spec.type not in _TYPES:
            raise BrokerBadRequest(f"paper trading does not support {spec.type} orders")
        md = self.context.market_data
        last = md.last_candle(spec.symbol) if md is not None else None
        if last is None:
            raise BrokerBadRequest(f"no market data for {spec.symbol}")
        base, quote = spec.symbol.split("/")
        _, free = (await self.fetch_balance()).get(quote if spec.side == "buy" else base, (ZERO, ZERO))
        price = spec.price if spec.type == "limit" else (spec.stop_price if spec.type == "stop_loss" else last.close)
        cost_bps = max(self.model.taker_fee_bps, self.model.maker_fee_bps) + self.model.slippage_bps
        need = spec.amount * price * (1 + cost_bps / Decimal(10_000)) if spec.side == "buy" else spec.amount
        if need > free:
            raise BrokerBadRequest(
                f"insufficient {quote if spec.side == 'buy' else base} balance: need {need.normalize()}, free {free.normalize()}")
        if spec.post_only and spec.type == "limit" and (
                (spec.side == "buy" and spec.price >= last.close) or (spec.side == "sell" and spec.price <= last.close)):
            raise BrokerBadRequest("post-only order would take liquidity")
        order = Order(order_id=spec.client_order_id, account=self.context.account_key, symbol=spec.symbol,
                      side=Side(spec.side), quantity=spec.amount, type=_TYPES[spec.type],
                      limit_price=spec.price if spec.type == "limit" else None,
                      stop_price=spec.stop_price if spec.type == "stop_loss" else None,
                      submitted_ts_ms=last.timestamp)
        resting = _Resting(spec, order)
        self._orders[spec.client_order_id] = resting
        self._open[spec.client_order_id] = resting
        return resting.view()

    async def discard_order(self, client_order_id: str) -> None:
        """Forget an order placed in a transaction that rolled back (it never existed)."""
        r = self._orders.get(client_order_id)
        if r is not None and not r.fills:
            del self._orders[client_order_id]
            self._open.pop(client_order_id, None)

    def _find(self, order_id: str | None, client_order_id: str | None) -> _Resting:
        if client_order_id and client_order_id in self._orders:
            return self._orders[client_order_id]
        if order_id and order_id.startswith("paper-") and order_id[6:] in self._orders:
            return self._orders[order_id[6:]]
        raise BrokerOrderNotFound(f"no paper order {client_order_id or order_id}")

    async def cancel_order(self, symbol: str, *, order_id: str | None = None,
                           client_order_id: str | None = None) -> VenueOrder:
        r = self._find(order_id, client_order_id)
        if r.status == "open":
            r.status = "canceled"
            self._open.pop(r.spec.client_order_id, None)
        return r.view()

    async def fetch_order(self, symbol: str, *, order_id: str | None = None,
                          client_order_id: str | None = None) -> VenueOrder:
        return self._find(order_id, client_order_id).view()

    async def fetch_open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        return [r.view() for r in self._open.values() if r.status == "open" and symbol in (None, r.spec.symbol)]

    async def fetch_fills(self, symbol: str, since: int) -> Sequence[VenueFill]:
        return [f for f in self._fills if f.symbol == symbol and f.timestamp >= since]

    # ---------------------------------------------------------------------------- matching
    async def on_market_data(self, symbol: str, candle: Candle) -> Sequence[VenueFill]:
        """Offer ``candle`` to every resting order of ``symbol``; returns the new fills."""
        mc = ModelCandle(candle.timestamp, candle.open, candle.high, candle.low, candle.close, candle.volume)
        out: list[VenueFill] = []
        for r in list(self._open.values()):
            if r.status != "open" or r.spec.symbol != symbol or candle.timestamp <= r.order.submitted_ts_ms:
                continue
            remaining = r.spec.amount - r.filled
            fill = self.model.execute(r.order, mc, remaining=remaining, first_candle=r.candles_seen == 0)
            r.candles_seen += 1
            if fill is None:
                continue
            quote = symbol.split("/")[1]
            vf = VenueFill(fill_id=f"{r.spec.client_order_id}-{len(r.fills) + 1}",
                           order_id=f"paper-{r.spec.client_order_id}", client_order_id=r.spec.client_order_id,
                           symbol=symbol, side=r.spec.side, price=fill.price, amount=fill.quantity, fee=fill.fee,
                           fee_asset=quote, timestamp=candle.timestamp, maker=fill.liquidity == "maker")
            r.fills.append(vf)
            self._fills.append(vf)
            self._book(vf)
            if r.filled >= r.spec.amount:
                r.status = "closed"
                del self._open[r.spec.client_order_id]
            out.append(vf)
        return out

    def _book(self, f: VenueFill) -> None:
        base, quote = f.symbol.split("/")
        sign = 1 if f.side == "buy" else -1
        self.balances[base] = self.balances.get(base, ZERO) + sign * f.amount
        self.balances[quote] = self.balances.get(quote, ZERO) - sign * f.amount * f.price - f.fee

    async def restore_open_orders(self, orders: Sequence[VenueOrder]) -> None:
        for o in orders:
            if o.client_order_id in self._orders:
                continue
            spec = OrderSpec(client_order_id=o.client_order_id, symbol=o.symbol, side=o.side, type=o.type,
                             amount=o.amount, price=o.price)
            order = Order(order_id=o.client_order_id, account=self.context.account_key, symbol=o.symbol,
                          side=Side(o.side), quantity=o.amount, type=_TYPES.get(o.type, OrderType.MARKET),
                          limit_price=o.price if o.type == "limit" else None,
                          stop_price=o.price if o.type == "stop_loss" else None, submitted_ts_ms=o.timestamp)
            resting = _Resting(spec, order, fills=list(o.fills), candles_seen=1 if o.filled else 0)
            self._orders[o.client_order_id] = resting
            if resting.status == "open":
                self._open[o.client_order_id] = resting
            self._fills.extend(o.fills)


@hookimpl
def register_brokers() -> list[type[Broker]]:
    return [PaperBroker]
