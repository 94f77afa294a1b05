"""Plans as data, the state rules, the rate-limit gRPC service (fail open), billing events on NATS."""

from __future__ import annotations

import asyncio
import uuid
import logging
from decimal import Decimal

import grpc
import pytest

from billing.support import DAY, make_offline_billing, new_user
from nija.core.billing import PLANS, Billing, BillingConfig, plan_for_stripe_id, resolve
from nija.core.db import Database


def test_plans_are_the_designed_tiers():
    table = {
        p.id: (p.price_month_usd, p.price_year_usd, p.limits.live_trading, p.limits.max_exchanges, p.limits.max_position_usd,
               p.limits.max_positions, p.limits.max_trades_per_day, p.limits.api_calls_per_minute)
        for p in PLANS.values()
    }
    assert table == {
        "free": (Decimal(0), Decimal(0), False, 1, None, 3, 10, 10),
        "basic": (Decimal(49), Decimal(470), True, 2, Decimal(500), 5, 30, 30),
        "pro": (Decimal(149), Decimal(1430), True, 5, Decimal(2000), 10, 100, 100),
        "enterprise": (Decimal(499), Decimal(4790), True, None, Decimal(10000), 50, 500, 500),
    }
    assert {"meta_ai", "mmin", "tradingview"} <= PLANS["pro"].limits.features
    assert {"gmig", "api_access"} <= PLANS["enterprise"].limits.features - PLANS["pro"].limits.features
    assert not PLANS["basic"].limits.features & {"meta_ai", "tradingview", "gmig"}
    assert plan_for_stripe_id("nija_pro_year") == (PLANS["pro"], "year")
    assert plan_for_stripe_id("price_somebody_else") is None


def test_state_rules():
    created, now = 1_000 * DAY, 1_000 * DAY + 1
    assert resolve("u", created, None, now, 14).plan == "pro"
    assert (resolve("u", created, None, created + 14 * DAY, 14).plan, resolve("u", created, None, created + 14 * DAY, 14).status) == ("free", "active")
    row = {"plan": "basic", "status": "past_due", "grace_until": now + 10}
    assert resolve("u", created, row, now, 14).plan == "basic"
    assert resolve("u", created, row, now + 10, 14).plan == "free"
    assert resolve("u", created, {"plan": "pro", "status": "canceled"}, now, 14).plan == "free"
    assert resolve("u", created, {"plan": "pro", "status": "canceled", "plan_override": "basic"}, now, 14).plan == "basic"
    ending = {"plan": "pro", "status": "active", "cancel_at_period_end": True, "current_period_end": now + 5}
    assert resolve("u", created, ending, now, 14).plan == "pro"
    assert (resolve("u", created, ending, now + 5, 14).plan, resolve("u", created, ending, now + 5, 14).status) == ("free", "canceled")


async def _rls_call(port: int, user_id: str, domain: str = "nija"):
    from nija.services.ratelimit import rls_pb2, rls_pb2_grpc
    from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = rls_pb2_grpc.RateLimitServiceStub(channel)
        descriptor = ratelimit_pb2.RateLimitDescriptor(entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key="user", value=user_id)])
        return await stub.ShouldRateLimit(rls_pb2.RateLimitRequest(domain=domain, descriptors=[descriptor], hits_addend=1))


async def test_rate_limit_service_over_grpc(database_url):
    from nija.services.ratelimit import create_ratelimit_server, rls_pb2

    billing, _ = make_offline_billing(database_url, trial_days=0)
    user_id = await new_user(billing)
    server, port = await create_ratelimit_server("127.0.0.1:0", billing)
    try:
        answers = [await _rls_call(port, user_id) for _ in range(11)]
        codes = [a.overall_code for a in answers]
        assert codes == [rls_pb2.RateLimitResponse.OK] * 10 + [rls_pb2.RateLimitResponse.OVER_LIMIT]
        last = answers[-1]
        headers = {h.key: h.value for h in last.response_headers_to_add}
        assert headers["retry-after"] == "60" and headers["x-ratelimit-limit"] == "10"
        assert last.statuses[0].current_limit.requests_per_unit == 10 and b"free plan" in last.raw_body
        other_domain = await _rls_call(port, user_id, domain="someone-else")
        assert other_domain.overall_code == rls_pb2.RateLimitResponse.OK
    finally:
        await server.stop(grace=0)


async def test_rate_limit_service_fails_open_with_a_log(tmp_path, caplog):
    from nija.services.ratelimit import create_ratelimit_server, rls_pb2

    # A database without the schema: every query fails inside the service.
    broken = Billing(Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), BillingConfig())
    server, port = await create_ratelimit_server("127.0.0.1:0", broken)
    try:
        with caplog.at_level(logging.ERROR, logger="nija.services.ratelimit"):
            answer = await _rls_call(port, "00000000-0000-0000-0000-000000000001")
        assert answer.overall_code == rls_pb2.RateLimitResponse.OK
        assert "fail open" in caplog.text
    finally:
        await server.stop(grace=0)
        await broken.db.close()


async def test_plan_changes_are_published_on_nats(database_url):
    nats = pytest.importorskip("nats")
    from nija.billing.v1 import billing_pb2
    from nija.core.events import NatsEventBus
    from nija.services.billing import event_publisher

    try:
        bus = await NatsEventBus("nats://127.0.0.1:4222").connect()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the machine's NATS (127.0.0.1:4222, JetStream) is required: {exc}")
    billing, _ = make_offline_billing(database_url)
    billing.publish = event_publisher(lambda: bus)
    user_id = await new_user(billing)
    admin_id = await new_user(billing)
    nc = await nats.connect("nats://127.0.0.1:4222")
    try:
        sub = await nc.subscribe(f"nija.billing.{user_id}.subscription")
        await billing.assign_plan(admin_id, user_id, "basic")
        msg = await sub.next_msg(timeout=10)
        received = billing_pb2.Subscription.FromString(msg.data)
        assert (received.plan, received.status, received.source) == ("basic", "active", "admin")
    finally:
        await nc.close()
        await bus.close()
        await asyncio.sleep(0)


async def test_usage_reads_trades_and_exchanges_from_risk_and_trading(database_url, tmp_path):
    from nija.core.billing import SqlUsageSources, usage
    from nija.core.risk._tables import risk_user_state
    from nija.core.trading._tables import broker_connections

    billing, clock = make_offline_billing(database_url, trial_days=0)
    user_id = await new_user(billing)
    now = clock.now_ms()
    async with billing.db.transaction() as conn:
        await conn.execute(risk_user_state.insert().values(
            user_id=user_id, day=now // DAY, trades_today=4, realized_pnl_today=Decimal(0), open_positions=0,
            exposure_usd=Decimal(0), reduce_only=False, kill_switch=False, updated_at=now))
        for exchange in ("binance", "kraken", "kraken"):
            await conn.execute(broker_connections.insert().values(
                id=str(uuid.uuid4()), user_id=user_id, broker="ccxt", exchange=exchange, api_key_last4="abcd",
                key_fingerprint=uuid.uuid4().hex, secret="not-a-real-token", created_at=now))
    items = {i.name: (i.used, i.limit) for i in await usage(billing, user_id)}
    assert items["trades_today"] == (4, 10) and items["exchanges_connected"] == (2, 1)
    clock.advance(DAY)
    assert {i.name: i.used for i in await usage(billing, user_id)}["trades_today"] == 0, "yesterday's trades"

    # A database without those tables counts nothing instead of failing.
    empty = SqlUsageSources(Database(f"sqlite+aiosqlite:///{tmp_path / 'bare.db'}"))
    assert await empty.trades_today(user_id, 0) == 0 and await empty.exchanges_connected(user_id) == 0
    await empty.db.close()


async def test_risk_reads_the_plan_in_the_orders_transaction(database_url):
    """The plan in force is read on the order's own connection (no unit and round trips of its
    own per order), and a plan assigned since is what the next check applies."""
    from sqlalchemy import event

    from nija.core.risk import OrderRequest, RiskEngine, RiskRejected

    billing, _ = make_offline_billing(database_url, trial_days=0)
    user_id = await new_user(billing)
    risk = RiskEngine(billing.db, entitlements=billing, clock=billing.clock)

    def order(n: int, live: bool) -> OrderRequest:
        return OrderRequest(user_id=user_id, bot_id=f"bot-{n}", broker_connection_id=None, exchange="paper",
                            symbol="BTC/USDT", side="buy", quantity=Decimal("0.001"), price=Decimal(30_000),
                            notional_usd=Decimal(30), reduce_only=False, live=live,
                            account_equity_usd=Decimal(1_000), opens_position=True, key_can_withdraw=False)

    checkouts: list = []
    listener = lambda *args: checkouts.append(args)  # noqa: E731
    event.listen(billing.db.engine.sync_engine.pool, "checkout", listener)
    try:
        for n in range(2):
            async with billing.db.transaction(write=True) as conn:
                await risk.pre_trade(conn, order(n, live=False))
        assert len(checkouts) == 2, "one connection per order: the plan was read on it"
        with pytest.raises(RiskRejected) as refused:  # Free: paper trading only
            async with billing.db.transaction(write=True) as conn:
                await risk.pre_trade(conn, order(2, live=True))
        assert refused.value.rule == "tier.live_trading"
        await billing.assign_plan("admin", user_id, "pro")
        checkouts.clear()
        async with billing.db.transaction(write=True) as conn:
            await risk.pre_trade(conn, order(2, live=True))
        assert len(checkouts) == 1
    finally:
        event.remove(billing.db.engine.sync_engine.pool, "checkout", listener)
        await billing.db.close()
