"""``nija.admin.v1.AdminService``: proto ⇄ :class:`nija.core.admin.AdminConsole`.

The interceptor lets only the admin role in. Every RPC acts on the ids in the message this
service receives (a query parameter can override a path-bound field through Envoy, so the
message, not the URL, is the truth) and audits with ``actor_id`` = the calling admin.
"""

from __future__ import annotations

from google.protobuf import empty_pb2

from nija.admin.v1 import admin_pb2, admin_pb2_grpc
from nija.common.v1 import common_pb2
from nija.core.admin import AdminConsole, AuditFilter, Page, UserDetailView, UserRow
from nija.core.money import decimal_to_str
from nija.services import callstats
from nija.services.accounts import _settings
from nija.services.context import current
from nija.services.risk import set_kill_switch
from nija.trading.v1 import trading_pb2


def _summary(user: UserRow) -> admin_pb2.UserSummary:
    return admin_pb2.UserSummary(
        id=user.id, email=user.email, roles=list(user.roles), created_at=user.created_at,
        disabled=user.disabled, deleted_at=user.deleted_at or 0,
    )


def _detail(view: UserDetailView) -> admin_pb2.UserDetail:
    msg = admin_pb2.UserDetail(
        user=_summary(view.user),
        plan=view.plan,
        plan_override=view.plan_override or "",
        risk_settings=_settings(view.settings),
        unavailable=list(view.unavailable),
        bots=[
            trading_pb2.Bot(
                id=b.id, strategy=b.strategy, markets=list(b.markets), state=b.state, started_at=b.started_at or 0,
                timeframe=b.timeframe or "", paper=b.paper, error=b.error or "",
            )
            for b in view.bots
        ],
    )
    if view.risk is not None:
        r = view.risk
        msg.risk_state.CopyFrom(
            admin_pb2.RiskState(
                trades_today=r.trades_today, realized_pnl_today=decimal_to_str(r.realized_pnl_today),
                open_positions=r.open_positions, exposure_usd=decimal_to_str(r.exposure_usd),
                reduce_only=r.reduce_only, kill_switch=r.kill_switch,
                kill_switch_reason=r.kill_switch_reason or "", updated_at=r.updated_at,
            )
        )
    return msg


def _page(msg: common_pb2.PageRequest) -> Page:
    return Page(size=msg.page_size, token=msg.page_token)


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """The admin console over gRPC. ``platform`` is :class:`nija.services.server.Platform`."""

    def __init__(self, platform) -> None:
        self.platform = platform
        billing = getattr(platform, "billing", None)
        self.console = AdminConsole(
            platform.db, platform.entitlements, assign_plan=getattr(billing, "assign_plan", None),
        )

    async def ListUsers(self, request, context):
        ctx = current()
        found, next_token, total = await self.console.list_users(
            ctx.user_id, email_contains=request.email_contains, include_deleted=request.include_deleted,
            page=_page(request.page), client_ip=ctx.client_ip,
        )
        return admin_pb2.ListUsersResponse(
            users=[_summary(u) for u in found],
            page=common_pb2.PageResponse(next_page_token=next_token, total_size=total),
        )

    async def GetUser(self, request, context):
        ctx = current()
        return _detail(await self.console.get_user(ctx.user_id, request.id, client_ip=ctx.client_ip))

    async def UpdateUser(self, request, context):
        ctx = current()
        view = await self.console.update_user(
            ctx.user_id, request.id, roles=list(request.roles) or None, plan_override=request.plan_override,
            disabled=request.disabled if request.HasField("disabled") else None, client_ip=ctx.client_ip,
        )
        return _detail(view)

    async def DeleteUser(self, request, context):
        ctx = current()
        await self.console.delete_user(ctx.user_id, request.id, client_ip=ctx.client_ip)
        return empty_pb2.Empty()

    async def SetKillSwitch(self, request, context):
        # The global kill switch belongs to risk: persisted, audited, announced on NATS.
        return await set_kill_switch(self.platform.risk, request)

    async def GetMetrics(self, request, context):
        ctx = current()
        view = await self.console.metrics(ctx.user_id, client_ip=ctx.client_ip)
        msg = admin_pb2.Metrics(users=view.users, disabled_users=view.disabled_users)
        for name in ("active_bots", "orders_today", "fills_today"):
            value = getattr(view, name)
            if value is None:
                msg.unavailable.append(f"{name}: the trading tables are not migrated")
            else:
                setattr(msg, name, value)
        health = await self.platform.check_health()
        for name, servicer in sorted(getattr(self.platform, "served", {}).items()):
            implemented = not type(servicer).__name__.startswith("Unimplemented")
            health[name] = "ok" if implemented else "not implemented yet"
        msg.service_health.update(health)
        for service, (requests, errors, rejected) in callstats.snapshot().items():
            msg.calls[service].CopyFrom(
                admin_pb2.CallStats(
                    requests=requests, errors=errors, rejected=rejected,
                    error_rate=errors / requests if requests else 0.0,
                )
            )
        return msg

    async def ListAuditLogs(self, request, context):
        ctx = current()
        flt = AuditFilter(user_id=request.user_id, action=request.action, since=request.since, until=request.until)
        found, next_token, total = await self.console.audit_logs(ctx.user_id, flt, page=_page(request.page), client_ip=ctx.client_ip)
        return admin_pb2.ListAuditLogsResponse(
            records=[
                admin_pb2.AuditRecord(
                    id=r.id, user_id=r.user_id or "", actor_id=r.actor_id or "", action=r.action, at=r.at,
                    client_ip=r.client_ip or "", outcome=r.outcome, detail=r.detail or "",
                )
                for r in found
            ],
            page=common_pb2.PageResponse(next_page_token=next_token, total_size=total),
        )
