"""``nija.trading.v1.TradingService``: proto ⇄ :mod:`nija.core.trading`.

:func:`build_trading` wires the engine once per process (``Platform.trading``); the servicer
only translates. Every call is scoped to the caller from ``nija.services.context.current()``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from google.protobuf import empty_pb2
from sqlalchemy import select

from nija.common.v1 import common_pb2
from nija.core import audit
from nija.core.clock import SystemClock
from nija.core.errors import InvalidArgument, NotImplementedYet
from nija.core.money import decimal_to_str
from nija.core.plugins.broker import BrokerContext, BrokerError, BrokerNeedsOperator
from nija.core.trading import AllowAll, EventRelay, OrderManager, open_feed
from nija.core.trading._credentials import CredentialVault, MasterKeys
from nija.core.trading._engine import TradingEngine
from nija.core.trading._events import trade_message
from nija.core.trading._queries import TradingQueries
from nija.core.trading._tables import events
from nija.services.context import current
from nija.trading.v1 import trading_pb2, trading_pb2_grpc

log = logging.getLogger(__name__)

#: The repository's replay data: the default market data when nothing else is configured.
DEFAULT_REPLAY = Path(__file__).resolve().parents[1] / "tests" / "data" / "ohlcv"


@dataclass
class Trading:
    engine: TradingEngine
    orders: OrderManager
    vault: CredentialVault
    queries: TradingQueries
    relay: EventRelay


def market_data_spec() -> str:
    return os.environ.get("NIJA_MARKET_DATA") or f"replay:{DEFAULT_REPLAY},speed=60"


def build_trading(platform) -> Trading:
    """The trading engine of this process, wired to the platform's database, bus and risk."""
    clock = SystemClock()
    risk = getattr(platform, "risk", None) or AllowAll()
    relay = EventRelay(platform.db, _LazyBus(platform), clock)
    feed = open_feed(market_data_spec(), clock=clock)
    orders = OrderManager(platform.db, clock, risk, relay, usd_price=feed.usd_price)

    async def validate(broker: str, exchange: str, creds) -> dict:
        cls = next((p.cls for p in platform.plugins.brokers() if p.name == broker), None)
        if cls is None or not cls.capabilities.get("live"):
            raise InvalidArgument(f"broker {broker!r} does not take exchange keys", field="broker")
        instance = cls(BrokerContext(account_key="validate", clock=clock, credentials=creds,
                                     options={"exchange": exchange}))
        try:
            return dict(await instance.check_credentials())
        except BrokerNeedsOperator as exc:
            raise InvalidArgument(f"the exchange refused these keys: {exc.message}", field="api_key") from None
        except BrokerError as exc:
            raise InvalidArgument(f"could not validate the keys: {exc.message}", field="api_key") from None
        finally:
            await instance.close()

    production = bool(os.environ.get("NIJA_DATABASE_URL", "").startswith("postgresql"))
    vault = CredentialVault(platform.db, clock, MasterKeys.load(platform.config.data_dir / "keys", production=production),
                            validate)
    engine = TradingEngine(platform.db, clock, platform.plugins, orders, feed, vault,
                           settings=platform.accounts.get_settings)
    return Trading(engine, orders, vault, TradingQueries(platform.db), relay)


DEMO_EMAIL = "demo@nija.dev"
DEMO_PASSWORD = "nija demo password"


async def ensure_demo(platform) -> None:
    """``nija up --demo`` (``make run``): a demo user with a paper bot running apex on the
    replayed data, so a newcomer sees trades appear. Idempotent across restarts."""
    from nija.core.db.models import users
    from nija.core.errors import AlreadyExists

    try:
        await platform.accounts.register(DEMO_EMAIL, DEMO_PASSWORD)
    except AlreadyExists:
        pass
    async with platform.db.transaction() as conn:
        user_id = (await conn.execute(select(users.c.id).where(users.c.email == DEMO_EMAIL))).scalar_one()
    engine = platform.trading.engine
    if not any(b["state"] == "running" for b in await engine.list_bots(user_id)):
        await engine.start_bot(user_id=user_id, strategy="apex", params={"trend_filter": "false"},
                               markets=["ETH/BTC"], timeframe="5m", paper=True)
    log.warning("demo: log in as %s with the password %r", DEMO_EMAIL, DEMO_PASSWORD)


class _LazyBus:
    """The platform's bus as it is when an event is published (it connects after build)."""

    def __init__(self, platform) -> None:
        self.platform = platform

    def _bus(self):
        if self.platform.bus is None:
            raise ConnectionError("no event bus connected")
        return self.platform.bus

    async def publish(self, subject, payload, *, event_id=None) -> None:
        await self._bus().publish(subject, payload, event_id=event_id)

    async def publish_batch(self, events) -> None:
        await self._bus().publish_batch(events)


def _s(value: Decimal | None) -> str:
    return "" if value is None else decimal_to_str(value)


class TradingServicer(trading_pb2_grpc.TradingServiceServicer):
    def __init__(self, trading: Trading, platform) -> None:
        self.t = trading
        self.platform = platform

    async def _bot_messages(self, user_id: str) -> list[trading_pb2.Bot]:
        out = []
        positions = await self.t.queries.positions(user_id, open_only=False)
        for row in await self.t.engine.list_bots(user_id):
            mine = [p for p in positions if p["bot_id"] == row["id"]]
            realized = sum((p["realized_pnl"] - p["fees"] for p in mine), Decimal(0))
            unrealized = Decimal(0)
            for p in mine:
                last = self.t.engine.feed.last_candle(p["symbol"])
                if last is not None and p["quantity"]:
                    unrealized += (last.close - p["average_entry"]) * p["quantity"]
            out.append(trading_pb2.Bot(
                id=row["id"], strategy=row["strategy"], markets=row["markets"], state=row["state"],
                started_at=row["started_at"] or 0, timeframe=row["timeframe"], paper=row["paper"],
                broker_connection_id=row["broker_connection_id"] or "", realized_pnl=_s(realized),
                unrealized_pnl=_s(unrealized), error=row["error"] or ""))
        return out

    async def _status(self, user_id: str, bot_id: str = "") -> trading_pb2.TradingStatus:
        return trading_pb2.TradingStatus(bots=await self._bot_messages(user_id), bot_id=bot_id)

    async def StartTrading(self, request, context):
        ctx = current()
        connection = request.broker_connection_id or request.broker_account_id
        if request.paper and connection:
            raise InvalidArgument("choose paper or a broker connection, not both", field="paper")
        if not request.strategy:
            raise InvalidArgument("strategy is required, e.g. apex", field="strategy")
        row = await self.t.engine.start_bot(
            user_id=ctx.user_id, strategy=request.strategy, params=dict(request.params), markets=list(request.markets),
            timeframe=request.timeframe or "5m", paper=not connection, connection_id=connection or None)
        async with self.platform.db.transaction() as conn:
            await audit.record(conn, action="trading.start", outcome="ok", at=SystemClock().now_ms(),
                               user_id=ctx.user_id, client_ip=ctx.client_ip, detail={"bot_id": row["id"]})
        return await self._status(ctx.user_id, row["id"])

    async def StopTrading(self, request, context):
        ctx = current()
        if not request.bot_id:
            raise InvalidArgument("bot_id is required", field="bot_id")
        await self.t.engine.stop_bot(ctx.user_id, request.bot_id)
        return await self._status(ctx.user_id, request.bot_id)

    async def EmergencyStop(self, request, context):
        ctx = current()
        risk = getattr(self.platform, "risk", None)
        now = SystemClock().now_ms()
        async with self.platform.db.transaction() as conn:
            if not request.bot_id and hasattr(risk, "engage_user_kill_switch"):
                await risk.engage_user_kill_switch(conn, ctx.user_id, ctx.user_id)
            await audit.record(conn, action="trading.emergency_stop", outcome="ok", at=now, user_id=ctx.user_id,
                               client_ip=ctx.client_ip, detail={"bot_id": request.bot_id or "*"})
        await self.t.engine.emergency_stop(ctx.user_id, request.bot_id or None)
        return await self._status(ctx.user_id, request.bot_id)

    async def GetTradingStatus(self, request, context):
        return await self._status(current().user_id)

    async def GetBalance(self, request, context):
        ctx = current()
        if request.broker_connection_id:
            account = await self.t.engine.account_for(ctx.user_id, False, request.broker_connection_id)
            balances = await account.broker.fetch_balance()
        else:
            account = await self.t.engine.account_for(ctx.user_id, True, None)
            balances = await account.broker.fetch_balance()
        return trading_pb2.Balance(
            total=[common_pb2.Amount(asset=a, value=_s(t)) for a, (t, _) in sorted(balances.items())],
            free=[common_pb2.Amount(asset=a, value=_s(f)) for a, (_, f) in sorted(balances.items())])

    async def ListPositions(self, request, context):
        user_id = current().user_id
        out = []
        for p in await self.t.queries.positions(user_id, request.bot_id or None):
            last = self.t.engine.feed.last_candle(p["symbol"])
            mark = last.close if last is not None else p["mark_price"]
            out.append(trading_pb2.Position(
                symbol=p["symbol"], quantity=_s(p["quantity"]), entry_price=_s(p["average_entry"]), mark_price=_s(mark),
                unrealized_pnl=_s((mark - p["average_entry"]) * p["quantity"] if mark is not None else None),
                realized_pnl=_s(p["realized_pnl"]), bot_id=p["bot_id"], fees=_s(p["fees"])))
        return trading_pb2.ListPositionsResponse(positions=out)

    async def GetHistory(self, request, context):
        rows, token, total = await self.t.queries.history(
            current().user_id, bot_id=request.bot_id or None, symbol=request.symbol or None, since=request.since,
            page_size=request.page.page_size, page_token=request.page.page_token)
        return trading_pb2.GetHistoryResponse(trades=[trade_message(r) for r in rows],
                                              page=common_pb2.PageResponse(next_page_token=token, total_size=total))

    async def GetPerformance(self, request, context):
        curve, max_dd = await self.t.queries.performance(current().user_id, request.bot_id or None, request.since)
        return trading_pb2.Performance(
            equity_curve=[trading_pb2.EquityPoint(time=t, equity=_s(v)) for t, v in curve],
            max_drawdown_pct="")  # P&L is in each market's quote asset; no USD base to divide by yet

    async def GetStats(self, request, context):
        s = await self.t.queries.stats(current().user_id)
        return trading_pb2.Stats(
            trades=s.total_trades, total_trades=s.total_trades, win_rate_pct=_s(s.win_rate), win_rate=_s(s.win_rate),
            profit_factor=_s(s.profit_factor), realized_pnl=_s(s.realized_pnl), total_pnl=_s(s.total_pnl),
            active_positions=s.active_positions, total_volume=_s(s.total_volume))

    async def ListBrokerConnections(self, request, context):
        views = await self.t.vault.list(current().user_id)
        return trading_pb2.ListBrokerConnectionsResponse(connections=[
            trading_pb2.BrokerConnection(id=v.id, broker=v.broker, exchange=v.exchange, api_key_masked=v.api_key_masked,
                                         created_at=v.created_at) for v in views])

    async def AddBrokerConnection(self, request, context):
        ctx = current()
        limits = await self.platform.entitlements.limits(ctx.user_id)
        v = await self.t.vault.add(ctx.user_id, broker=request.broker, exchange=request.exchange,
                                   api_key=request.api_key, secret=request.api_secret, passphrase=request.passphrase,
                                   client_ip=ctx.client_ip, max_connections=limits.max_exchanges)
        return trading_pb2.BrokerConnection(id=v.id, broker=v.broker, exchange=v.exchange,
                                            api_key_masked=v.api_key_masked, created_at=v.created_at)

    async def DeleteBrokerConnection(self, request, context):
        ctx = current()
        await self.t.vault.delete(ctx.user_id, request.id, client_ip=ctx.client_ip)
        return empty_pb2.Empty()

    async def StreamEvents(self, request, context):
        user_id = current().user_id
        # Headers go out at once, so a client knows the stream is open before the first event.
        await context.send_initial_metadata(())
        since = request.since_seq
        if since <= 0:
            async with self.platform.db.transaction() as conn:
                since = (await conn.execute(select(events.c.seq).where(events.c.user_id == user_id)
                                            .order_by(events.c.seq.desc()).limit(1))).scalar() or 0
        while True:
            async with self.platform.db.transaction() as conn:
                rows = (await conn.execute(select(events.c.seq, events.c.payload).where(
                    events.c.user_id == user_id, events.c.seq > since).order_by(events.c.seq).limit(200))).all()
            for r in rows:
                event = trading_pb2.TradingEvent.FromString(bytes(r.payload))
                event.seq = r.seq
                since = r.seq
                yield event
            if not rows:
                await asyncio.sleep(0.25)

    async def TradingViewWebhook(self, request, context):
        raise NotImplementedYet("nija.trading.v1.TradingService.TradingViewWebhook is not implemented yet "
                                "(TradingView webhooks arrive with a later release)")
