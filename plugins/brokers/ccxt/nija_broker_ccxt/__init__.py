"""NIJA's exchange broker through ccxt's async classes.

One instance per exchange account (API key). Calls that only read are retried with
exponential back-off on retryable errors; ``place_order`` is never retried here — core resends
only when the venue certainly refused it (429), always with the same client order id, and
resolves any other unknown outcome by fetching by client order id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Mapping, Sequence

import ccxt
import ccxt.async_support as ccxt_async

from nija.core.plugins import (
    Broker,
    BrokerBadRequest,
    BrokerOrderNotFound,
    BrokerRetryable,
    Candle,
    MarketInfo,
    OrderBook,
    OrderSpec,
    VenueFill,
    VenueOrder,
    hookimpl,
    rebase_urls,
    venue_base_url,
)
from nija_broker_ccxt._budget import budget_for
from nija_broker_ccxt._errors import map_error
from nija_broker_ccxt._venues import VENUES

log = logging.getLogger(__name__)
ZERO = Decimal(0)
_STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
           "rejected": "rejected", "expired": "expired"}


def _d(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


class CcxtBroker(Broker):
    name = "ccxt"
    description = "Exchange accounts through ccxt (Coinbase, Kraken, Binance, OKX, Alpaca)"
    #: The union over venues; each instance narrows it to its venue's facts (``_venues.py``).
    capabilities = {
        "live": True, "order_types": ["market", "limit", "stop_loss", "stop_limit"], "post_only": True,
        "reduce_only": False, "venue_stops": any(v["venue_stops"] for v in VENUES.values()), "permissions": True, "in_process": False, "exchanges": sorted(VENUES),
        "rate_limit": {v: VENUES[v]["rate_limit_per_s"] for v in VENUES},
    }

    def __init__(self, context) -> None:
        super().__init__(context)
        opts = dict(context.options or {})
        self.exchange_id = str(opts.get("exchange", "")).lower()
        if self.exchange_id not in VENUES:
            raise BrokerBadRequest(f"exchange {self.exchange_id!r} is not supported; choose from {', '.join(sorted(VENUES))}")
        self.venue = VENUES[self.exchange_id]
        # Per instance: what this account's venue can do (the class attribute lists the union).
        self.capabilities = {**type(self).capabilities, "order_types": list(self.venue["order_types"]),
                             "venue_stops": bool(self.venue["venue_stops"]), "post_only": self.venue["post_only"]}
        creds = dict(context.credentials or {})
        config: dict[str, Any] = {
            "apiKey": creds.get("api_key", ""), "secret": creds.get("secret", ""),
            # Our budget paces calls (shared per key across instances); ccxt's own throttle is per instance.
            "enableRateLimit": False, "timeout": int(opts.get("timeout_ms", 10_000)),
            "options": dict(self.venue["options"]),
        }
        if creds.get("password"):
            config["password"] = creds["password"]
        self.exchange = getattr(ccxt_async, self.venue["ccxt_class"])(config)
        base = opts.get("base_url") or venue_base_url(self.exchange_id)
        if base:
            self.exchange.urls["api"] = rebase_urls(self.exchange.urls["api"], base)
        key_id = hashlib.sha256(f"{self.exchange_id}\x00{creds.get('api_key', '')}".encode()).hexdigest()
        self.budget = budget_for(key_id, float(opts.get("rate_limit_per_s", self.venue["rate_limit_per_s"])))
        self.retry_delays = tuple(opts.get("retry_delays", (0.25, 0.5, 1.0, 2.0)))
        self._markets: dict[str, MarketInfo] | None = None

    # ---------------------------------------------------------------------------- calling
    async def _call(self, method: str, *args, idempotent: bool, **kwargs):
        attempts = len(self.retry_delays) + 1 if idempotent else 1
        for attempt in range(attempts):
            await self.budget.acquire()
            try:
                return await getattr(self.exchange, method)(*args, **kwargs)
            except ccxt.BaseError as exc:
                retry_after = self._retry_after(exc)
                if retry_after is not None:
                    self.budget.pause(retry_after)
                error = map_error(exc, submit=not idempotent, retry_after_s=retry_after)
                if not idempotent or not isinstance(error, BrokerRetryable) or attempt == attempts - 1:
                    raise error from None
                await asyncio.sleep(retry_after or self.retry_delays[attempt])
        raise AssertionError("unreachable")

    def _retry_after(self, exc: Exception) -> float | None:
        if not isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
            return None
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else 1.0
        except ValueError:
            return 1.0

    # ---------------------------------------------------------------------------- reads
    async def load_markets(self) -> Mapping[str, MarketInfo]:
        if self._markets is None:
            markets = await self._call("load_markets", idempotent=True)
            out = {}
            for symbol, m in markets.items():
                if not m.get("spot", True):
                    continue
                limits = m.get("limits") or {}
                precision = m.get("precision") or {}
                out[symbol] = MarketInfo(
                    symbol=symbol, base=m["base"], quote=m["quote"], price_increment=_d(precision.get("price")),
                    amount_increment=_d(precision.get("amount")), min_amount=_d((limits.get("amount") or {}).get("min")),
                    min_notional=_d((limits.get("cost") or {}).get("min")), active=m.get("active") is not False)
            self._markets = out
        return self._markets

    async def fetch_balance(self) -> Mapping[str, tuple[Decimal, Decimal]]:
        raw = await self._call("fetch_balance", idempotent=True)
        return {a: (_d(v) or ZERO, _d((raw.get("free") or {}).get(a)) or ZERO)
                for a, v in (raw.get("total") or {}).items() if v}

    async def check_credentials(self) -> Mapping[str, Any]:
        await self.fetch_balance()
        can_withdraw = None
        if self.venue["permissions"] == "binance_api_restrictions":
            r = await self._call("sapi_get_account_apirestrictions", idempotent=True)
            can_withdraw = bool(r.get("enableWithdrawals"))
        return {"can_withdraw": can_withdraw}

    # ---------------------------------------------------------------------------- orders
    def _order(self, o: dict) -> VenueOrder:
        # Trades embedded in an order answer may lack side/symbol/order id: they are this order's.
        fills = tuple(self._fill({**t, "side": t.get("side") or o["side"], "symbol": t.get("symbol") or o["symbol"],
                                  "order": t.get("order") or o["id"]})
                      for t in (o.get("trades") or []) if t.get("id"))
        return VenueOrder(
            order_id=str(o["id"]), client_order_id=o.get("clientOrderId"), symbol=o["symbol"], side=o["side"],
            type=o.get("type") or "market", amount=_d(o.get("amount")) or ZERO,
            status=_STATUS.get(o.get("status") or "open", "open"), filled=_d(o.get("filled")) or ZERO,
            price=_d(o.get("price")) or None, average=_d(o.get("average")), timestamp=o.get("timestamp") or 0,
            fills=fills)

    def _fill(self, t: dict) -> VenueFill:
        fee = t.get("fee") or {}
        return VenueFill(
            fill_id=str(t["id"]), order_id=str(t.get("order") or ""), client_order_id=t.get("clientOrderId"),
            symbol=t["symbol"], side=t["side"], price=_d(t["price"]), amount=_d(t["amount"]),
            fee=_d(fee.get("cost")) or ZERO, fee_asset=fee.get("currency") or t["symbol"].split("/")[1],
            timestamp=t.get("timestamp") or 0, maker=t.get("takerOrMaker") == "maker")

    async def place_order(self, spec: OrderSpec) -> VenueOrder:
        if spec.type not in self.venue["order_types"]:
            raise BrokerBadRequest(f"{self.exchange_id} orders of type {spec.type} are not supported here")
        markets = await self.load_markets()
        params: dict[str, Any] = {"clientOrderId": spec.client_order_id}
        if spec.post_only:
            params["postOnly"] = True
        ccxt_type, price = spec.type, spec.price
        stop = (self.venue.get("stop_orders") or {}).get(spec.type)
        if spec.type in ("stop_loss", "stop_limit"):
            if stop is None or spec.stop_price is None or spec.stop_price <= 0:
                raise BrokerBadRequest(f"{spec.type} orders on {self.exchange_id} need a stop price")
            ccxt_type = stop["ccxt_type"]
            params[stop["param"]] = str(spec.stop_price)
            if spec.type == "stop_loss":
                price = _protective_limit(spec, stop.get("limit_offset_bps", 0), markets.get(spec.symbol))
            elif price is None:
                raise BrokerBadRequest("a stop_limit order needs a limit price")
        raw = await self._call("create_order", spec.symbol, ccxt_type, spec.side, float(spec.amount),
                               float(price) if price is not None else None, params, idempotent=False)
        return self._order(raw)

    async def cancel_order(self, symbol: str, *, order_id: str | None = None,
                           client_order_id: str | None = None) -> VenueOrder:
        params = {} if order_id else {"clientOrderId": client_order_id}
        try:
            raw = await self._call("cancel_order", order_id, symbol, params, idempotent=False)
        except (BrokerBadRequest, BrokerOrderNotFound):
            # Binance answers -2011 for an order that is already final: report what it is
            # (fetch_order raises BrokerOrderNotFound when the venue really has no such order).
            return await self.fetch_order(symbol, order_id=order_id, client_order_id=client_order_id)
        return self._order(raw)

    async def fetch_order(self, symbol: str, *, order_id: str | None = None,
                          client_order_id: str | None = None) -> VenueOrder:
        params = {} if order_id else {"clientOrderId": client_order_id}
        return self._order(await self._call("fetch_order", order_id, symbol, params, idempotent=True))

    async def fetch_open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        return [self._order(o) for o in await self._call("fetch_open_orders", symbol, idempotent=True)]

    async def fetch_fills(self, symbol: str, since: int) -> Sequence[VenueFill]:
        return [self._fill(t) for t in await self._call("fetch_my_trades", symbol, since, idempotent=True)]

    async def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        raw = await self._call("fetch_order_book", symbol, depth, idempotent=True)
        return OrderBook(symbol, raw.get("timestamp") or 0, tuple((_d(p), _d(a)) for p, a, *_ in raw["bids"]),
                         tuple((_d(p), _d(a)) for p, a, *_ in raw["asks"]))

    async def fetch_candles(self, symbol: str, timeframe: str, since: int | None = None,
                            limit: int = 500) -> Sequence[Candle]:
        rows = await self._call("fetch_ohlcv", symbol, timeframe, since, limit, idempotent=True)
        return [Candle(int(r[0]), *(_d(x) for x in r[1:6])) for r in rows]

    async def close(self) -> None:
        await self.exchange.close()


def _protective_limit(spec: OrderSpec, offset_bps: int, market: MarketInfo | None) -> Decimal:
    """The limit price of a stop-loss placed as a stop-limit: ``offset_bps`` beyond the stop
    (below it for a sell), rounded away from the stop to the venue's tick."""
    assert spec.stop_price is not None
    sign = -1 if spec.side == "sell" else 1
    price = spec.stop_price * (1 + sign * Decimal(offset_bps) / Decimal(10_000))
    tick = market.price_increment if market is not None else None
    if tick:
        price = (price / tick).to_integral_value(ROUND_FLOOR if spec.side == "sell" else ROUND_CEILING) * tick
    return price


@hookimpl
def register_brokers() -> list[type[Broker]]:
    return [CcxtBroker]
