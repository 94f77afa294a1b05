"""RiskService.GetRiskState and AdminService.SetKillSwitch over a real gRPC channel, on SQLite
and (when configured) PostgreSQL."""

from __future__ import annotations

from decimal import Decimal as D

import grpc
import pytest
from sqlalchemy import select

from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2 as apb
from nija.accounts.v1 import accounts_pb2_grpc
from nija.admin.v1 import admin_pb2, admin_pb2_grpc
from nija.core.db.models import audit_log
from nija.core.risk import RiskRejected
from nija.risk.v1 import risk_pb2, risk_pb2_grpc
from risk_support import order

PASSWORD = "correct horse battery staple"


async def login(grpc_platform, admin=False):
    email = unique_email("risk")
    user = await grpc_platform.platform.accounts.register(email, PASSWORD, roles=("user", "admin") if admin else ("user",))
    stub = accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)
    ip = unique_ip()
    tokens = await stub.Login(apb.LoginRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))
    return user.id, bearer(tokens.access_token, ip)


@pytest.fixture
def risk(grpc_platform):
    return risk_pb2_grpc.RiskServiceStub(grpc_platform.channel)


@pytest.fixture
def admin_stub(grpc_platform):
    return admin_pb2_grpc.AdminServiceStub(grpc_platform.channel)


async def place(platform, request):
    try:
        async with platform.db.transaction() as conn:
            await platform.risk.pre_trade(conn, request)
    except RiskRejected as rejected:
        return rejected.rule
    return None


async def test_risk_state_shows_the_callers_limits_and_usage(grpc_platform, risk):
    user_id, md = await login(grpc_platform)
    state = await risk.GetRiskState(risk_pb2.GetRiskStateRequest(), metadata=md)
    limits = {l.name: (l.limit, l.used) for l in state.limits}
    plan = await grpc_platform.platform.entitlements.limits(user_id)
    assert state.plan == plan.plan
    assert limits["trades_per_day"] == (str(min(50, plan.max_trades_per_day)), "0")
    assert limits["position_size_min_pct"][0] == "2" and limits["position_size_max_pct"][0] == "10"
    assert limits["max_drawdown_pct"] == ("20", "0")
    assert not state.user_kill_switch and not state.reduce_only

    assert await place(grpc_platform.platform, order(user_id)) is None
    state = await risk.GetRiskState(risk_pb2.GetRiskStateRequest(), metadata=md)
    limits = {l.name: (l.limit, l.used) for l in state.limits}
    assert limits["trades_per_day"][1] == "1"
    assert limits["total_exposure_usd"] == ("5000", "100")


async def test_risk_state_needs_a_caller(risk):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.GetRiskState(risk_pb2.GetRiskStateRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_admin_engages_and_clears_the_global_kill_switch(grpc_platform, risk, admin_stub):
    admin_id, admin_md = await login(grpc_platform, admin=True)
    user_id, md = await login(grpc_platform)
    try:
        engaged = await admin_stub.SetKillSwitch(
            admin_pb2.SetKillSwitchRequest(active=True, flatten=True, reason="exchange incident"), metadata=admin_md)
        assert engaged.active and engaged.flatten and engaged.changed_by == admin_id
        assert engaged.reason == "exchange incident" and engaged.changed_at > 0
        assert (await risk.GetRiskState(risk_pb2.GetRiskStateRequest(), metadata=md)).global_kill_switch
        assert await place(grpc_platform.platform, order(user_id)) == "kill_switch.global"
        assert await place(grpc_platform.platform, order(user_id, reduce_only=True)) is None  # the flatten
    finally:
        cleared = await admin_stub.SetKillSwitch(admin_pb2.SetKillSwitchRequest(active=False, reason="over"),
                                                 metadata=admin_md)
    assert not cleared.active and not cleared.flatten
    assert await place(grpc_platform.platform, order(user_id)) is None
    async with grpc_platform.platform.db.transaction() as conn:
        rows = (await conn.execute(
            select(audit_log.c.action, audit_log.c.detail, audit_log.c.client_ip)
            .where(audit_log.c.actor_id == admin_id, audit_log.c.action.like("risk.%")).order_by(audit_log.c.id)
        )).all()
    assert [r.action for r in rows] == ["risk.kill_switch.global.engage", "risk.kill_switch.global.clear"]
    assert "exchange incident" in rows[0].detail and rows[0].client_ip


@pytest.mark.parametrize(
    "request_,field",
    [(admin_pb2.SetKillSwitchRequest(active=True, reason="x" * 501), "reason"),
     (admin_pb2.SetKillSwitchRequest(active=False, flatten=True), "flatten")],
)
async def test_bad_kill_switch_requests_name_the_field(grpc_platform, admin_stub, request_, field):
    _, admin_md = await login(grpc_platform, admin=True)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.SetKillSwitch(request_, metadata=admin_md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()
    assert not (await grpc_platform.platform.risk.kill_switch.load()).active


async def test_only_an_admin_may_touch_the_global_kill_switch(grpc_platform, admin_stub):
    _, md = await login(grpc_platform)
    for active in (True, False):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_stub.SetKillSwitch(admin_pb2.SetKillSwitchRequest(active=active), metadata=md)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert not (await grpc_platform.platform.risk.kill_switch.load()).active


async def test_daily_loss_usd_set_through_settings_stops_new_orders(grpc_platform, risk):
    user_id, md = await login(grpc_platform)
    accounts = accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await accounts.UpdateSettings(apb.UpdateSettingsRequest(settings=apb.Settings(max_daily_loss_usd="-1")),
                                      metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "max_daily_loss_usd" in err.value.details()
    assert (await accounts.GetSettings(apb.GetSettingsRequest(), metadata=md)).max_daily_loss_usd == "0"
    saved = await accounts.UpdateSettings(
        apb.UpdateSettingsRequest(settings=apb.Settings(max_daily_loss_usd="150", max_daily_loss_pct="50")), metadata=md)
    assert saved.max_daily_loss_usd == "150"
    platform = grpc_platform.platform
    assert await place(platform, order(user_id)) is None
    # 5,000 at the day's first order; 4,850 now: 150 USD lost today.
    assert await place(platform, order(user_id, account_equity_usd=D(4851), notional_usd=D(100))) is None
    assert await place(platform, order(user_id, account_equity_usd=D(4850), notional_usd=D(100))) == \
        "user.max_daily_loss_usd"
    limits = {l.name: (l.limit, l.used) for l in (await risk.GetRiskState(risk_pb2.GetRiskStateRequest(),
                                                                          metadata=md)).limits}
    assert limits["daily_loss_usd"] == ("150", "149")
