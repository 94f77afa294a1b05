"""AdminService over a real gRPC channel, on SQLite and (when configured) PostgreSQL: paging,
search, updates, soft delete, metrics, the audit log, and an audit record for every action."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sqlalchemy import insert, select

from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2 as apb
from nija.accounts.v1 import accounts_pb2_grpc
from nija.admin.v1 import admin_pb2 as pb
from nija.admin.v1 import admin_pb2_grpc
from nija.common.v1 import common_pb2
from nija.core.trading._tables import bots as trading_bots
from nija.core.trading._tables import broker_connections as trading_broker_connections
from nija.core.trading._tables import fills as trading_fills
from nija.core.db.models import audit_log, users

PASSWORD = "correct horse battery staple"


@pytest.fixture
def accounts(grpc_platform):
    return accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)


@pytest.fixture
def admin_stub(grpc_platform):
    return admin_pb2_grpc.AdminServiceStub(grpc_platform.channel)


async def login(accounts, email, ip=None):
    ip = ip or unique_ip()
    return await accounts.Login(apb.LoginRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))


async def make_user(grpc_platform, accounts, prefix="user", admin=False):
    email = unique_email(prefix)
    roles = ("user", "admin") if admin else ("user",)
    user = await grpc_platform.platform.accounts.register(email, PASSWORD, roles=roles)
    tokens = await login(accounts, email)
    return user, tokens.access_token, tokens.refresh_token


@pytest.fixture
async def admin(grpc_platform, accounts):
    user, token, _ = await make_user(grpc_platform, accounts, "admin", admin=True)
    return user, bearer(token, unique_ip())


async def audit_rows(grpc_platform, actor_id):
    async with grpc_platform.platform.db.transaction() as conn:
        rows = await conn.execute(select(audit_log).where(audit_log.c.actor_id == actor_id).order_by(audit_log.c.id))
        return [(r.action, r.outcome, r.user_id) for r in rows]


async def test_non_admin_is_denied_every_rpc(grpc_platform, accounts, admin_stub):
    _, token, _ = await make_user(grpc_platform, accounts)
    calls = [
        (admin_stub.ListUsers, pb.ListUsersRequest()),
        (admin_stub.GetUser, pb.GetUserRequest(id="x")),
        (admin_stub.UpdateUser, pb.UpdateUserRequest(id="x")),
        (admin_stub.DeleteUser, pb.DeleteUserRequest(id="x")),
        (admin_stub.SetKillSwitch, pb.SetKillSwitchRequest()),
        (admin_stub.GetMetrics, pb.GetMetricsRequest()),
        (admin_stub.ListAuditLogs, pb.ListAuditLogsRequest()),
    ]
    assert len(calls) == len(pb.DESCRIPTOR.services_by_name["AdminService"].methods)
    for rpc, request in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpc(request, metadata=bearer(token))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_list_users_search_and_pages_without_gaps_or_repeats(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    tag = uuid.uuid4().hex[:10]
    created = []
    for i in range(7):
        u = await grpc_platform.platform.accounts.register(f"pg{i}-{tag}@example.com", PASSWORD)
        created.append(u.id)
    seen, token = [], ""
    while True:
        page = await admin_stub.ListUsers(
            pb.ListUsersRequest(email_contains=tag.upper(), page=common_pb2.PageRequest(page_size=3, page_token=token)),
            metadata=md,
        )
        assert page.page.total_size == 7
        assert len(page.users) <= 3
        seen += [u.id for u in page.users]
        token = page.page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    # newest first
    assert seen == list(reversed(created)) or len(set(u.created_at for u in page.users)) < len(page.users)

    # LIKE wildcards in the search are literal characters
    none = await admin_stub.ListUsers(pb.ListUsersRequest(email_contains=f"%{tag}"), metadata=md)
    assert none.page.total_size == 0 and not none.users

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.ListUsers(pb.ListUsersRequest(page=common_pb2.PageRequest(page_token="garbage!")), metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("admin.users.list", "success", None) in await audit_rows(grpc_platform, me.id)


async def test_get_user_shows_plan_settings_bots_and_risk(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    user, _, _ = await make_user(grpc_platform, accounts)
    detail = await admin_stub.GetUser(pb.GetUserRequest(id=user.id), metadata=md)
    assert detail.user.id == user.id and detail.user.email == user.email and not detail.user.disabled
    # the plan in force is what entitlements (billing) say: a trial plan, say
    assert detail.plan == (await grpc_platform.platform.entitlements.limits(user.id)).plan
    assert detail.plan_override == ""
    assert detail.risk_settings.risk_level == "medium"
    assert list(detail.bots) == [] and not detail.HasField("risk_state")
    assert ("admin.users.get", "success", user.id) in await audit_rows(grpc_platform, me.id)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.GetUser(pb.GetUserRequest(id=str(uuid.uuid4())), metadata=md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("admin.users.get", "failure", None) in await audit_rows(grpc_platform, me.id)


async def test_update_user_roles_plan_and_disable(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    user, _, refresh = await make_user(grpc_platform, accounts)
    detail = await admin_stub.UpdateUser(
        pb.UpdateUserRequest(id=user.id, roles=["user", "admin"], plan_override="enterprise"), metadata=md
    )
    assert list(detail.user.roles) == ["user", "admin"]
    assert detail.plan == "enterprise" and detail.plan_override == "enterprise"
    assert (await grpc_platform.platform.entitlements.limits(user.id)).plan == "enterprise"
    detail = await admin_stub.UpdateUser(pb.UpdateUserRequest(id=user.id, plan_override="none"), metadata=md)
    assert detail.plan_override == ""
    assert detail.plan == (await grpc_platform.platform.entitlements.limits(user.id)).plan

    detail = await admin_stub.UpdateUser(pb.UpdateUserRequest(id=user.id, disabled=True), metadata=md)
    assert detail.user.disabled
    # a disabled user can neither log in nor refresh
    for call in (
        lambda: login(accounts, user.email),
        lambda: accounts.Refresh(apb.RefreshRequest(refresh_token=refresh)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call()
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    detail = await admin_stub.UpdateUser(pb.UpdateUserRequest(id=user.id, disabled=False), metadata=md)
    assert not detail.user.disabled
    await login(accounts, user.email)

    for bad, field in ((pb.UpdateUserRequest(id=user.id, roles=["root"]), "roles"),
                       (pb.UpdateUserRequest(id=user.id, roles=["admin"]), "roles"),
                       (pb.UpdateUserRequest(id=user.id, plan_override="platinum"), "plan_override")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_stub.UpdateUser(bad, metadata=md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
    # an admin cannot lock themselves out
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.UpdateUser(pb.UpdateUserRequest(id=me.id, disabled=True), metadata=md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    updates = [r for r in await audit_rows(grpc_platform, me.id) if r[0] == "admin.users.update"]
    assert [r[2] for r in updates].count(user.id) == 4


async def test_soft_delete_stops_bots_destroys_keys_keeps_trades(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    user, token, refresh = await make_user(grpc_platform, accounts)
    other, _, _ = await make_user(grpc_platform, accounts)
    now = 1_700_000_000_000
    bot_id, other_bot = str(uuid.uuid4()), str(uuid.uuid4())
    async with grpc_platform.platform.db.transaction() as conn:
        for bid, uid in ((bot_id, user.id), (other_bot, other.id)):
            await conn.execute(insert(trading_bots).values(
                id=bid, user_id=uid, strategy="apex", params={}, markets=["BTC/USDT"], timeframe="5m", paper=True,
                state="running", created_at=now, started_at=now,
            ))
        await conn.execute(insert(trading_broker_connections).values(
            id=str(uuid.uuid4()), user_id=user.id, broker="ccxt", exchange="binance", api_key_last4="abcd",
            key_fingerprint="f" * 64, secret="ciphertext", created_at=now,
        ))
        await conn.execute(insert(trading_fills).values(
            id=str(uuid.uuid4()), order_id="o1", user_id=user.id, bot_id=bot_id, account_key="paper:" + user.id,
            venue_fill_id=uuid.uuid4().hex, client_order_id="c1", symbol="BTC/USDT", side="buy", price="100",
            amount="1", fee="0", fee_asset="USDT", fee_quote="0", realized_pnl="0", executed_at=now,
        ))
    detail = await admin_stub.GetUser(pb.GetUserRequest(id=user.id), metadata=md)
    assert [(b.id, b.state, list(b.markets), b.paper) for b in detail.bots] == [(bot_id, "running", ["BTC/USDT"], True)]

    await admin_stub.DeleteUser(pb.DeleteUserRequest(id=user.id), metadata=md)

    async with grpc_platform.platform.db.transaction() as conn:
        bots = dict((await conn.execute(select(trading_bots.c.id, trading_bots.c.state).where(
            trading_bots.c.id.in_([bot_id, other_bot])))).all())
        keys = (await conn.execute(select(trading_broker_connections.c.id).where(
            trading_broker_connections.c.user_id == user.id))).all()
        fills = (await conn.execute(select(trading_fills.c.id).where(trading_fills.c.user_id == user.id))).all()
        row = (await conn.execute(select(users).where(users.c.id == user.id))).first()
    assert bots == {bot_id: "stopped", other_bot: "running"}
    assert keys == [] and len(fills) == 1
    assert row is not None and row.deleted_at and row.disabled  # the account row stays for the books
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await login(accounts, user.email)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await accounts.Refresh(apb.RefreshRequest(refresh_token=refresh))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

    listed = await admin_stub.ListUsers(pb.ListUsersRequest(email_contains=user.email), metadata=md)
    assert listed.page.total_size == 0
    listed = await admin_stub.ListUsers(pb.ListUsersRequest(email_contains=user.email, include_deleted=True), metadata=md)
    assert [u.id for u in listed.users] == [user.id] and listed.users[0].deleted_at > 0

    await admin_stub.DeleteUser(pb.DeleteUserRequest(id=user.id), metadata=md)  # idempotent
    deletes = [r for r in await audit_rows(grpc_platform, me.id) if r[0] == "admin.users.delete"]
    assert deletes == [("admin.users.delete", "success", user.id), ("admin.users.delete", "noop", user.id)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.DeleteUser(pb.DeleteUserRequest(id=me.id), metadata=md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_metrics_counts_real_rows_and_reports_health(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    before = await admin_stub.GetMetrics(pb.GetMetricsRequest(), metadata=md)
    await make_user(grpc_platform, accounts)
    after = await admin_stub.GetMetrics(pb.GetMetricsRequest(), metadata=md)
    assert after.users == before.users + 1
    assert after.HasField("active_bots") and after.HasField("orders_today") and after.HasField("fills_today")
    assert after.service_health["database"] == "ok" and after.service_health["admin"] == "ok"
    calls = after.calls["nija.admin.v1.AdminService"]
    assert calls.requests >= 1 and calls.errors == 0 and calls.error_rate == 0.0
    assert [r[0] for r in await audit_rows(grpc_platform, me.id)].count("admin.metrics.get") == 2


async def test_audit_log_filters_and_pages(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    user, token, _ = await make_user(grpc_platform, accounts)
    await accounts.UpdateSettings(apb.UpdateSettingsRequest(settings=apb.Settings(risk_level="low")), metadata=bearer(token))
    got = await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(user_id=user.id), metadata=md)
    actions = [r.action for r in got.records]
    assert actions == ["settings.update", "auth.login", "auth.register"]  # newest first
    assert all(r.user_id == user.id for r in got.records) and got.page.total_size == 3

    auth = await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(user_id=user.id, action="auth.*"), metadata=md)
    assert [r.action for r in auth.records] == ["auth.login", "auth.register"]
    exact = await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(user_id=user.id, action="auth.login"), metadata=md)
    assert [r.action for r in exact.records] == ["auth.login"]

    newest = got.records[0].at
    window = await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(user_id=user.id, since=newest), metadata=md)
    assert all(r.at >= newest for r in window.records) and "settings.update" in [r.action for r in window.records]
    window = await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(user_id=user.id, until=got.records[-1].at), metadata=md)
    assert window.records == [] or all(r.at < got.records[-1].at for r in window.records)

    first = await admin_stub.ListAuditLogs(
        pb.ListAuditLogsRequest(user_id=user.id, page=common_pb2.PageRequest(page_size=2)), metadata=md)
    second = await admin_stub.ListAuditLogs(
        pb.ListAuditLogsRequest(user_id=user.id, page=common_pb2.PageRequest(page_size=2, page_token=first.page.next_page_token)),
        metadata=md)
    assert [r.id for r in first.records] + [r.id for r in second.records] == [r.id for r in got.records]
    assert second.page.next_page_token == ""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.ListAuditLogs(pb.ListAuditLogsRequest(since=10, until=5), metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("admin.audit.list", "success", None) in await audit_rows(grpc_platform, me.id)


async def test_enable_racing_delete_never_leaves_a_deleted_user_enabled(grpc_platform, accounts, admin_stub, admin):
    """An admin enables a user while another deletes it: each reads the row it then rewrites
    under the row lock, so a deleted user is never left enabled (before the write unit, the
    enable read the row, waited for the delete's lock and then wrote ``disabled = false``)."""
    import asyncio

    _, md = admin
    inconsistent = 0
    for _ in range(6):
        user, _, _ = await make_user(grpc_platform, accounts)
        await admin_stub.UpdateUser(pb.UpdateUserRequest(id=user.id, disabled=True), metadata=md)
        results = await asyncio.gather(
            admin_stub.DeleteUser(pb.DeleteUserRequest(id=user.id), metadata=md),
            admin_stub.UpdateUser(pb.UpdateUserRequest(id=user.id, disabled=False), metadata=md),
            return_exceptions=True,
        )
        for result in results:  # the enable may lose the race: then it is refused, never a 500
            if isinstance(result, grpc.aio.AioRpcError):
                assert result.code() == grpc.StatusCode.FAILED_PRECONDITION, result.details()
        async with grpc_platform.platform.db.transaction() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user.id))).first()
        assert row.deleted_at is not None
        inconsistent += not row.disabled
    assert inconsistent == 0


async def test_update_and_delete_of_a_missing_user_are_audited_not_found(grpc_platform, accounts, admin_stub, admin):
    me, md = admin
    for call, request, action in (
        (admin_stub.UpdateUser, pb.UpdateUserRequest(id=str(uuid.uuid4()), disabled=True), "admin.users.update"),
        (admin_stub.DeleteUser, pb.DeleteUserRequest(id=str(uuid.uuid4())), "admin.users.delete"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, metadata=md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert (action, "failure", None) in await audit_rows(grpc_platform, me.id)
