"""A venue simulator speaking the part of Binance's spot REST API the ccxt broker uses.

Real wire protocol (so the real ``ccxt.async_support.binance`` class talks to it unchanged once
its ``urls["api"]`` point here): ``GET /api/v3/exchangeInfo``, ``klines``, ``depth``,
``account``, ``order`` (POST/GET/DELETE), ``openOrders``, ``myTrades``, ``ticker/24hr`` and
``/sapi/v1/account/apiRestrictions``; HMAC-SHA256 signatures checked like Binance (over the
query string for GET/DELETE, the form body for POST, ``signature`` last); Binance's error
codes and bodies.

A small matching engine keeps the venue's book of record: market orders take the best ask/bid,
limit orders cross or rest and fill when :meth:`VenueSim.set_price` moves the market through
them; ``STOP_LOSS_LIMIT``/``TAKE_PROFIT_LIMIT`` orders rest untriggered until the price crosses
their ``stopPrice`` and then behave as limit orders (``STOP_LOSS``/``TAKE_PROFIT`` as market
orders). Klines come from candles the test adds (:meth:`VenueSim.add_candle`; the newest one is
the candle still forming, as on Binance), else flat candles at the current price. Fault injection (:meth:`VenueSim.inject`): ``429`` (with Retry-After; a request inside
that window is answered 418, as Binance bans clients that ignore it), ``418``, ``500``,
``accept_then_timeout`` (the order is taken, the answer comes too late), ``drop`` (taken,
connection closed without an answer). :meth:`VenueSim.restart` stops and restarts the HTTP
server on the same port with the book kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

STEP = Decimal("0.0001")
SPREAD = Decimal("0.0005")


@dataclass
class SimOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal | None
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    time: int = 0
    update_time: int = 0
    stop_price: Decimal | None = None
    triggered: bool = True  # stop orders start untriggered

    def json(self) -> dict:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1, "clientOrderId": self.client_order_id,
            "price": str(self.price or Decimal(0)), "origQty": str(self.qty), "executedQty": str(self.executed),
            "cummulativeQuoteQty": str(self.quote), "status": self.status, "timeInForce": "GTC", "type": self.type,
            "side": self.side, "stopPrice": str(self.stop_price or Decimal("0.00000000")), "icebergQty": "0.00000000",
            "time": self.time, "updateTime": self.update_time, "isWorking": self.triggered, "workingTime": self.time, "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }


@dataclass
class VenueSim:
    api_key: str
    secret: str
    prices: dict[str, Decimal]  # "ETHBTC" -> price
    balances: dict[str, Decimal]
    can_withdraw: bool = False
    fee_rate: Decimal = Decimal("0.001")
    markets: dict[str, tuple[str, str]] = field(default_factory=dict)  # "ETHBTC" -> ("ETH", "BTC")
    orders: dict[int, SimOrder] = field(default_factory=dict)
    trades: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    faults: list[tuple[str, str, str]] = field(default_factory=list)
    bans: int = 0
    port: int = 0
    #: ("ETHBTC", "1m") -> [[open_ms, open, high, low, close, volume], …], oldest first.
    candles: dict[tuple[str, str], list[list]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._banned_until = 0.0
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    # -------------------------------------------------------------------- server
    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/ping", self.ping)
        r.add_get("/api/v3/time", self.server_time)
        r.add_get("/api/v3/klines", self.klines)
        r.add_get("/api/v3/depth", self.depth)
        r.add_get("/api/v3/ticker/24hr", self.ticker)
        r.add_get("/api/v3/account", self.account)
        r.add_post("/api/v3/order", self.new_order)
        r.add_get("/api/v3/order", self.get_order)
        r.add_delete("/api/v3/order", self.cancel_order)
        r.add_get("/api/v3/openOrders", self.open_orders)
        r.add_get("/api/v3/myTrades", self.my_trades)
        r.add_get("/sapi/v1/account/apiRestrictions", self.api_restrictions)
        return app

    async def start(self, port: int = 0) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port or 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Venue restart: connections drop, the book of record stays."""
        await self.stop()
        await self.start(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, method: str, path: str, kind: str, times: int = 1) -> None:
        self.faults.extend([(method, path, kind)] * times)

    # -------------------------------------------------------------------- helpers
    @staticmethod
    def _json(body, status: int = 200, headers=None) -> web.Response:
        import json

        return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)

    def _error(self, status: int, code: int, msg: str) -> web.Response:
        return self._json({"code": code, "msg": msg}, status)

    def _fault(self, request: web.Request) -> str | None:
        for i, (method, path, kind) in enumerate(self.faults):
            if method == request.method and path == request.path:
                del self.faults[i]
                return kind
        return None

    async def _gate(self, request: web.Request, signed: bool) -> tuple[dict, str | None, web.Response | None]:
        """Rate-limit window, injected faults, API key and signature. Returns params, the fault to
        apply after processing, or an early response."""
        self.requests.append((request.method, request.path, _now()))
        if time.monotonic() < self._banned_until:
            self.bans += 1
            return {}, None, self._error(418, -1003, "Way too many requests; IP banned until later.")
        fault = self._fault(request)
        if fault == "429":
            self._banned_until = time.monotonic() + 1.0
            return {}, None, self._json({"code": -1003, "msg": "Too many requests."}, 429, {"Retry-After": "1"})
        if fault == "418":
            return {}, None, self._error(418, -1003, "IP banned.")
        if fault == "500":
            return {}, None, web.Response(status=500, text="Internal error")
        raw = request.query_string if request.method in ("GET", "DELETE") else (await request.text())
        params = dict(parse_qsl(raw, keep_blank_values=True))
        if signed:
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                return params, None, self._error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            payload, sep, signature = raw.rpartition("&signature=")
            expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if not sep or not hmac.compare_digest(signature, expected):
                return params, None, self._error(400, -1022, "Signature for this request is not valid.")
        return params, fault, None

    async def _finish(self, request: web.Request, fault: str | None, response: web.Response) -> web.Response:
        if fault == "accept_then_timeout":
            await asyncio.sleep(30)  # far beyond the client's timeout
        elif fault == "drop":
            request.transport.close()
        return response

    def _book(self, symbol: str) -> tuple[Decimal, Decimal]:
        p = self.prices[symbol]
        return (p * (1 - SPREAD)).quantize(Decimal("1e-8")), (p * (1 + SPREAD)).quantize(Decimal("1e-8"))

    # -------------------------------------------------------------------- public
    async def ping(self, request):
        return self._json({})

    async def server_time(self, request):
        return self._json({"serverTime": _now()})

    async def exchange_info(self, request):
        _, _, early = await self._gate(request, signed=False)
        if early:
            return early
        symbols = []
        for sym, (base, quote) in sorted(self.markets.items()):
            symbols.append({
                "symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8, "quoteAsset": quote,
                "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "922327.00000000",
                     "tickSize": "0.00000100"},
                    {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "100000.00000000",
                     "stepSize": "0.00010000"},
                    {"filterType": "NOTIONAL", "minNotional": "0.00001000", "applyMinToMarket": True,
                     "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                ],
                "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            })
        return self._json({"timezone": "UTC", "serverTime": _now(), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "symbols": symbols})

    async def klines(self, request):
        params, _, early = await self._gate(request, signed=False)
        if early:
            return early
        if params.get("symbol") not in self.markets:
            return self._error(400, -1121, "Invalid symbol.")
        stored = self.candles.get((params["symbol"], params.get("interval", "")))
        if stored is not None:
            limit = int(params.get("limit", 500))
            rows = [c for c in stored if c[0] >= int(params.get("startTime", 0))
                    and c[0] <= int(params.get("endTime", 2**62))]
            rows = rows[:limit] if "startTime" in params else rows[-limit:]
            ms = _INTERVAL_MS[params["interval"]]
            return self._json([[c[0], *(str(x) for x in c[1:6]), c[0] + ms - 1, "0", 1, "0", "0", "0"] for c in rows])
        p = str(self.prices[params["symbol"]])
        start = int(params.get("startTime", _now() - 300_000 * 10)) // 300_000 * 300_000
        return self._json([[start + i * 300_000, p, p, p, p, "1.0", start + (i + 1) * 300_000 - 1, p, 1, "0", "0", "0"]
                           for i in range(int(params.get("limit", 10)))])

    async def depth(self, request):
        params, _, early = await self._gate(request, signed=False)
        if early:
            return early
        bid, ask = self._book(params["symbol"])
        return self._json({"lastUpdateId": 1, "bids": [[str(bid), "10.0"]], "asks": [[str(ask), "10.0"]]})

    async def ticker(self, request):
        params, _, early = await self._gate(request, signed=False)
        if early:
            return early
        sym = params.get("symbol")
        if sym not in self.markets:
            return self._error(400, -1121, "Invalid symbol.")
        p, (bid, ask), now = str(self.prices[sym]), self._book(sym), _now()
        return self._json({"symbol": sym, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": p,
                           "prevClosePrice": p, "lastPrice": p, "lastQty": "1", "bidPrice": str(bid), "bidQty": "10",
                           "askPrice": str(ask), "askQty": "10", "openPrice": p, "highPrice": p, "lowPrice": p,
                           "volume": "1", "quoteVolume": p, "openTime": now - 86_400_000, "closeTime": now,
                           "firstId": 1, "lastId": 1, "count": 1})

    def add_candle(self, symbol: str, interval: str, open_ms: int, open_, high, low, close, volume=1) -> None:
        """Append a candle (the newest stands for the one still forming); the market moves to
        its close only through :meth:`set_price`."""
        rows = self.candles.setdefault((symbol, interval), [])
        rows.append([open_ms, *(Decimal(str(x)) for x in (open_, high, low, close, volume))])

    # -------------------------------------------------------------------- private
    async def account(self, request):
        _, _, early = await self._gate(request, signed=True)
        if early:
            return early
        return self._json({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "canTrade": True, "canWithdraw": self.can_withdraw, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": _now(), "accountType": "SPOT",
            "balances": [{"asset": a, "free": str(v - self._locked(a)), "locked": str(self._locked(a))}
                         for a, v in sorted(self.balances.items())],
            "permissions": ["SPOT"], "uid": 1})

    async def api_restrictions(self, request):
        _, _, early = await self._gate(request, signed=True)
        if early:
            return early
        return self._json({"ipRestrict": False, "createTime": _now(), "enableWithdrawals": self.can_withdraw,
                           "enableInternalTransfer": False, "permitsUniversalTransfer": False,
                           "enableVanillaOptions": False, "enableReading": True, "enableFutures": False,
                           "enableMargin": False, "enableSpotAndMarginTrading": True})

    def _locked(self, asset: str) -> Decimal:
        total = Decimal(0)
        for o in self.orders.values():
            if o.status in ("NEW", "PARTIALLY_FILLED") and (o.price or o.stop_price or o.side == "SELL"):
                base, quote = self.markets[o.symbol]
                if o.side == "BUY" and asset == quote:
                    total += (o.qty - o.executed) * (o.price or o.stop_price)
                elif o.side == "SELL" and asset == base:
                    total += o.qty - o.executed
        return total

    def _fill(self, o: SimOrder, price: Decimal, qty: Decimal, maker: bool) -> dict:
        base, quote = self.markets[o.symbol]
        fee = (qty * price * self.fee_rate).quantize(Decimal("1e-8"))
        sign = 1 if o.side == "BUY" else -1
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * qty
        self.balances[quote] = self.balances.get(quote, Decimal(0)) - sign * qty * price - fee
        o.executed += qty
        o.quote += qty * price
        o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"
        o.update_time = _now()
        trade = {"symbol": o.symbol, "id": next(self._trade_ids), "orderId": o.order_id, "orderListId": -1,
                 "price": str(price), "qty": str(qty), "quoteQty": str(qty * price), "commission": str(fee),
                 "commissionAsset": quote, "time": o.update_time, "isBuyer": o.side == "BUY", "isMaker": maker,
                 "isBestMatch": True}
        self.trades.append(trade)
        return trade

    async def new_order(self, request):
        params, fault, early = await self._gate(request, signed=True)
        if early:
            return early
        async with self._lock:
            symbol = params.get("symbol", "")
            if symbol not in self.markets:
                return self._error(400, -1121, "Invalid symbol.")
            cid = params.get("newClientOrderId") or f"sim-{next(self._ids)}"
            if any(o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
                return self._error(400, -2010, "Duplicate order sent.")
            side, otype = params["side"], params["type"]
            qty = Decimal(params["quantity"])
            price = Decimal(params["price"]) if "price" in params else None
            stop = Decimal(params["stopPrice"]) if "stopPrice" in params else None
            base, quote = self.markets[symbol]
            bid, ask = self._book(symbol)
            if otype not in _ORDER_TYPES:
                return self._error(400, -1116, "Invalid orderType.")
            if otype in _STOP_TYPES:
                if stop is None or (otype.endswith("_LIMIT") and (price is None or "timeInForce" not in params)):
                    return self._error(400, -1102, "Mandatory parameter was not sent, was empty/null, or malformed.")
                if _stop_crossed(otype, side, self.prices[symbol], stop):
                    return self._error(400, -2010, "Stop price would trigger immediately.")
            need = qty * (price or ask) * (1 + self.fee_rate) if side == "BUY" else qty
            asset = quote if side == "BUY" else base
            if need > self.balances.get(asset, Decimal(0)) - self._locked(asset):
                return self._error(400, -2010, "Account has insufficient balance for requested action.")
            now = _now()
            o = SimOrder(next(self._ids), cid, symbol, side, otype, qty, price, time=now, update_time=now,
                         stop_price=stop, triggered=otype not in _STOP_TYPES)
            self.orders[o.order_id] = o
            fills = [self._cross(o)] if o.triggered else []
            fills = [f for f in fills if f]
            body = {**o.json(), "transactTime": now, "fills": [
                {"price": f["price"], "qty": f["qty"], "commission": f["commission"],
                 "commissionAsset": f["commissionAsset"], "tradeId": f["id"]} for f in fills]}
        return await self._finish(request, fault, self._json(body))

    def _find(self, params) -> SimOrder | None:
        if "orderId" in params:
            o = self.orders.get(int(params["orderId"]))
            return o if o and o.symbol == params.get("symbol") else None
        cid = params.get("origClientOrderId")
        matches = [o for o in self.orders.values() if o.client_order_id == cid and o.symbol == params.get("symbol")]
        return matches[-1] if matches else None

    async def get_order(self, request):
        params, fault, early = await self._gate(request, signed=True)
        if early:
            return early
        o = self._find(params)
        if o is None:
            return self._error(400, -2013, "Order does not exist.")
        return await self._finish(request, fault, self._json(o.json()))

    async def cancel_order(self, request):
        params, fault, early = await self._gate(request, signed=True)
        if early:
            return early
        async with self._lock:
            o = self._find(params)
            if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
                return self._error(400, -2011, "Unknown order sent.")
            o.status = "CANCELED"
            o.update_time = _now()
        return await self._finish(request, fault, self._json(o.json()))

    async def open_orders(self, request):
        params, _, early = await self._gate(request, signed=True)
        if early:
            return early
        return self._json([o.json() for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")
                           and params.get("symbol") in (None, o.symbol)])

    async def my_trades(self, request):
        params, _, early = await self._gate(request, signed=True)
        if early:
            return early
        since = int(params.get("startTime", 0))
        return self._json([t for t in self.trades if t["symbol"] == params["symbol"] and t["time"] >= since]
                          [: int(params.get("limit", 500))])

    def _cross(self, o: SimOrder) -> dict | None:
        """A (newly placed or just triggered) order takes the book if it crosses it."""
        bid, ask = self._book(o.symbol)
        take = ask if o.side == "BUY" else bid
        market = o.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT")
        if market or (o.price is not None and ((o.side == "BUY" and o.price >= ask) or (o.side == "SELL" and o.price <= bid))):
            return self._fill(o, take, o.qty - o.executed, maker=False)
        return None

    # -------------------------------------------------------------------- market
    async def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market: stop orders whose stopPrice it crosses trigger (then act as limit or
        market orders); resting limit orders it trades through fill at their price."""
        async with self._lock:
            self.prices[symbol] = price
            bid, ask = self._book(symbol)
            for o in list(self.orders.values()):
                if o.symbol != symbol or o.status not in ("NEW", "PARTIALLY_FILLED"):
                    continue
                if not o.triggered:
                    if _stop_crossed(o.type, o.side, price, o.stop_price):
                        o.triggered = True
                        o.update_time = _now()
                        self._cross(o)
                    continue
                if o.price is None:
                    continue
                if (o.side == "BUY" and ask <= o.price) or (o.side == "SELL" and bid >= o.price):
                    self._fill(o, o.price, o.qty - o.executed, maker=True)


def _now() -> int:
    return time.time_ns() // 1_000_000


_INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
                "4h": 14_400_000, "1d": 86_400_000}
_STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_ORDER_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER", *_STOP_TYPES)


def _stop_crossed(otype: str, side: str, price: Decimal, stop: Decimal | None) -> bool:
    """Binance: a stop-loss sells when the price falls to its stopPrice (buys when it rises to
    it); a take-profit the other way round."""
    if stop is None:
        return False
    falling = (side == "SELL") == otype.startswith("STOP_LOSS")
    return price <= stop if falling else price >= stop


class VenueThread:
    """Runs a :class:`VenueSim` on its own event loop in a thread (for tests driving a separate
    `nija up` process)."""

    def __init__(self, sim: VenueSim) -> None:
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> VenueSim:
        self.thread.start()
        self.call(self.sim.start())
        return self.sim

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def __exit__(self, *exc) -> None:
        self.call(self.sim.stop())

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
