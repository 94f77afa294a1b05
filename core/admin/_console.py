"""Admin use cases over the accounts, trading, billing and risk tables.

Every public method takes ``actor_id`` (the admin, from the verified token) and ``client_ip``
and writes one audit record with ``actor_id`` set, in the same transaction as the change it
describes. Reads are audited too: an admin looking at a user's account is a privileged action.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Awaitable, Callable

from sqlalchemy import and_, delete, func, insert, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core import audit
from nija.core.accounts import DEFAULT_SETTINGS, AccountService, SettingsView
from nija.core.admin._tables import (
    ACTIVE_BOT_STATES,
    billing_subscriptions,
    risk_user_state,
    trading_bots,
    trading_broker_connections,
    trading_fills,
    trading_orders,
)
from nija.core.clock import Clock, SystemClock
from nija.core.db import Database
from nija.core.db.models import audit_log, refresh_tokens, users
from nija.core.entitlements import Entitlements
from nija.core.errors import FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger(__name__)

PLANS = ("free", "basic", "pro", "enterprise")
ROLES = ("user", "admin")
DEFAULT_PAGE = 50
MAX_PAGE = 500
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Page:
    size: int = 0
    token: str = ""


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    roles: tuple[str, ...]
    created_at: int
    disabled: bool
    deleted_at: int | None


@dataclass(frozen=True)
class BotRow:
    id: str
    strategy: str
    markets: tuple[str, ...]
    state: str
    timeframe: str
    paper: bool
    started_at: int | None
    error: str | None


@dataclass(frozen=True)
class RiskStateView:
    trades_today: int
    realized_pnl_today: Decimal
    open_positions: int
    exposure_usd: Decimal
    reduce_only: bool
    kill_switch: bool
    kill_switch_reason: str | None
    updated_at: int


@dataclass(frozen=True)
class UserDetailView:
    user: UserRow
    plan: str
    plan_override: str | None
    settings: SettingsView
    bots: tuple[BotRow, ...]
    risk: RiskStateView | None
    unavailable: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricsView:
    users: int
    disabled_users: int
    # None while the feature's tables are not migrated (the metric is then unavailable).
    active_bots: int | None
    orders_today: int | None
    fills_today: int | None


@dataclass(frozen=True)
class AuditFilter:
    user_id: str = ""
    action: str = ""  # exact, or a prefix when it ends with "*" ("auth.*")
    since: int = 0
    until: int = 0


@dataclass(frozen=True)
class AuditEntry:
    id: int
    user_id: str | None
    actor_id: str | None
    action: str
    at: int
    client_ip: str | None
    outcome: str
    detail: str | None


# ---------------------------------------------------------------------------------- paging
def _page_size(page: Page) -> int:
    if page.size < 0:
        raise InvalidArgument("page_size must not be negative", field="page.page_size")
    return min(page.size or DEFAULT_PAGE, MAX_PAGE)


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(token: str, arity: int) -> list[Any] | None:
    if not token:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidArgument("page_token is not one this server issued", field="page.page_token")
    return values


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row_user(row) -> UserRow:
    return UserRow(
        id=row.id, email=row.email, roles=tuple(r for r in row.roles.split(",") if r),
        created_at=row.created_at, disabled=bool(row.disabled), deleted_at=row.deleted_at,
    )


def _json_list(value) -> tuple[str, ...]:
    if isinstance(value, str):  # JSON read through an untyped column arrives as text
        value = json.loads(value)
    return tuple(str(v) for v in (value or ()))


class _UserMissing(Exception):
    """No user row with the id asked for (audited and raised as NotFound by the caller)."""


class AdminConsole:
    """The admin use cases.

    Parameters
    ----------
    db
        The platform database.
    entitlements
        Answers "which plan is in force" for a user.
    assign_plan
        Billing's ``assign_plan(actor_id, user_id, plan_or_None, client_ip)`` when billing runs
        in this process; without it the override is written to ``billing_subscriptions``
        directly (the column billing reads).
    """

    def __init__(
        self, db: Database, entitlements: Entitlements, *, clock: Clock | None = None,
        assign_plan: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.db = db
        self.entitlements = entitlements
        self.clock = clock or SystemClock()
        self.assign_plan = assign_plan
        self._tables: set[str] | None = None

    async def _present(self, conn: AsyncConnection) -> set[str]:
        """Names of the tables that exist (features migrate independently; read once)."""
        if self._tables is None:
            self._tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        return self._tables

    # ------------------------------------------------------------------------------ users
    async def list_users(
        self, actor_id: str, *, email_contains: str = "", include_deleted: bool = False, page: Page = Page(),
        client_ip: str | None = None,
    ) -> tuple[list[UserRow], str, int]:
        """Users newest first; returns (users, next page token or "", total matching)."""
        size = _page_size(page)
        cursor = _decode_cursor(page.token, 2)
        where = []
        if email_contains.strip():
            where.append(func.lower(users.c.email).like(f"%{_like_escape(email_contains.strip().lower())}%", escape="\\"))
        if not include_deleted:
            where.append(users.c.deleted_at.is_(None))
        query = select(users).where(*where)
        if cursor is not None:
            at, uid = cursor
            query = query.where(or_(users.c.created_at < at, and_(users.c.created_at == at, users.c.id < uid)))
        query = query.order_by(users.c.created_at.desc(), users.c.id.desc()).limit(size + 1)
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
            total = (await conn.execute(select(func.count()).select_from(users).where(*where))).scalar_one()
            await self._audit(
                conn, actor_id, "admin.users.list", client_ip=client_ip,
                detail={"email_contains": email_contains[:100], "returned": min(len(rows), size)},
            )
        found = [_row_user(r) for r in rows[:size]]
        next_token = _encode_cursor([found[-1].created_at, found[-1].id]) if len(rows) > size else ""
        return found, next_token, total

    async def get_user(self, actor_id: str, user_id: str, *, client_ip: str | None = None) -> UserDetailView:
        async with self.db.transaction() as conn:
            row = await self._user_or_audit_miss(conn, actor_id, user_id, "admin.users.get", client_ip)
            await self._audit(conn, actor_id, "admin.users.get", user_id=user_id, client_ip=client_ip)
        # Audit committed first: a failure while assembling the picture still leaves the trace.
        return await self._detail(row)

    async def update_user(
        self, actor_id: str, user_id: str, *, roles: list[str] | None = None, plan_override: str = "",
        disabled: bool | None = None, client_ip: str | None = None,
    ) -> UserDetailView:
        """Change roles, force or clear a plan, disable or enable. Empty arguments change nothing.

        Taking away roles or disabling revokes the user's refresh tokens, so the change takes
        hold at the latest when the current access token expires.
        """
        new_roles = self._check_roles(roles) if roles else None
        override = plan_override.strip().lower()
        if override and override != "none" and override not in PLANS:
            raise InvalidArgument(f"plan_override must be one of {', '.join(PLANS)} or 'none'", field="plan_override")
        if user_id == actor_id and (disabled or (new_roles is not None and "admin" not in new_roles)):
            raise FailedPrecondition("an admin cannot disable themselves or drop their own admin role")
        now = self.clock.now_ms()
        try:
            # A write unit with the user's row locked: two admins changing one user at once
            # cannot lose either change (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL).
            async with self.db.transaction(write=True) as conn:
                row = await self._user_row(conn, user_id, lock=True)
                if row.deleted_at is not None:
                    raise FailedPrecondition("this user has been deleted")
                changes: dict[str, Any] = {}
                old_roles = tuple(r for r in row.roles.split(",") if r)
                values: dict[str, Any] = {}
                if new_roles is not None and new_roles != old_roles:
                    values["roles"] = ",".join(new_roles)
                    changes["roles"] = {"from": list(old_roles), "to": list(new_roles)}
                if disabled is not None and bool(row.disabled) != disabled:
                    values["disabled"] = disabled
                    changes["disabled"] = disabled
                if values:
                    await conn.execute(update(users).where(users.c.id == user_id).values(**values))
                if override and self.assign_plan is None:
                    if "billing_subscriptions" not in await self._present(conn):
                        raise FailedPrecondition("plan overrides need the billing tables; run `nija migrate`")
                    changes["plan_override"] = await self._set_plan_override(conn, user_id, override, now)
                elif override:
                    changes["plan_override"] = None if override == "none" else override
                lost_roles = new_roles is not None and bool(set(old_roles) - set(new_roles))
                if disabled or lost_roles:
                    await _revoke_sessions(conn, user_id, now)
                await self._audit(
                    conn, actor_id, "admin.users.update", user_id=user_id, client_ip=client_ip, at=now,
                    detail={"changes": changes},
                )
                row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        except _UserMissing:
            await self._audit_miss(actor_id, user_id, "admin.users.update", client_ip)
        if override and self.assign_plan is not None:
            # Billing writes the override, publishes the change and audits it as billing.assign_plan.
            await self.assign_plan(actor_id, user_id, None if override == "none" else override, client_ip)
        return await self._detail(row)

    async def delete_user(self, actor_id: str, user_id: str, *, client_ip: str | None = None) -> dict[str, int]:
        """Soft delete: the account row stays (orders, fills and the audit trail keep pointing at
        it), login and refresh stop, bots are stopped and broker keys destroyed. Idempotent."""
        if user_id == actor_id:
            raise FailedPrecondition("an admin cannot delete their own account")
        now = self.clock.now_ms()
        try:
            async with self.db.transaction(write=True) as conn:
                row = await self._user_row(conn, user_id, lock=True)
                if row.deleted_at is not None:
                    await self._audit(
                        conn, actor_id, "admin.users.delete", user_id=user_id, client_ip=client_ip, at=now,
                        outcome="noop", detail={"reason": "already_deleted"},
                    )
                    return {}
                await conn.execute(update(users).where(users.c.id == user_id).values(deleted_at=now, disabled=True))
                present = await self._present(conn)
                summary: dict[str, int] = {}
                if "trading_bots" in present:
                    stopped = await conn.execute(
                        update(trading_bots)
                        .where(and_(trading_bots.c.user_id == user_id, trading_bots.c.state.not_in(("stopped", "error"))))
                        .values(state="stopped", stopped_at=now, error="account deleted by an admin")
                    )
                    summary["bots_stopped"] = stopped.rowcount
                if "trading_broker_connections" in present:
                    # Deleted outright: encrypted or not, a deleted user's exchange secrets are not kept.
                    keys = await conn.execute(
                        delete(trading_broker_connections).where(trading_broker_connections.c.user_id == user_id)
                    )
                    summary["keys_destroyed"] = keys.rowcount
                summary["sessions_revoked"] = await _revoke_sessions(conn, user_id, now)
                await self._audit(
                    conn, actor_id, "admin.users.delete", user_id=user_id, client_ip=client_ip, at=now, detail=summary,
                )
        except _UserMissing:
            await self._audit_miss(actor_id, user_id, "admin.users.delete", client_ip)
        return summary

    # ------------------------------------------------------------------------------ metrics and audit
    async def metrics(self, actor_id: str, *, client_ip: str | None = None) -> MetricsView:
        now = self.clock.now_ms()
        midnight = now - now % DAY_MS  # UTC day
        live = users.c.deleted_at.is_(None)
        async with self.db.transaction() as conn:
            present = await self._present(conn)

            async def count(t, *where) -> int | None:
                if t.name not in present:
                    return None
                return (await conn.execute(select(func.count()).select_from(t).where(*where))).scalar_one()

            view = MetricsView(
                users=await count(users, live),
                disabled_users=await count(users, live, users.c.disabled.is_(True)),
                active_bots=await count(trading_bots, trading_bots.c.state.in_(ACTIVE_BOT_STATES)),
                orders_today=await count(trading_orders, trading_orders.c.created_at >= midnight),
                fills_today=await count(trading_fills, trading_fills.c.executed_at >= midnight),
            )
            await self._audit(conn, actor_id, "admin.metrics.get", client_ip=client_ip, at=now)
        return view

    async def audit_logs(
        self, actor_id: str, flt: AuditFilter, *, page: Page = Page(), client_ip: str | None = None
    ) -> tuple[list[AuditEntry], str, int]:
        """Audit records newest first, filtered by user, action and ``[since, until)``."""
        size = _page_size(page)
        cursor = _decode_cursor(page.token, 1)
        if flt.since < 0 or flt.until < 0 or (flt.until and flt.since and flt.until <= flt.since):
            raise InvalidArgument("since and until must be UTC milliseconds with since < until", field="since")
        where = []
        if flt.user_id:
            where.append(audit_log.c.user_id == flt.user_id)
        if flt.action.endswith("*"):
            where.append(audit_log.c.action.like(_like_escape(flt.action[:-1]) + "%", escape="\\"))
        elif flt.action:
            where.append(audit_log.c.action == flt.action)
        if flt.since:
            where.append(audit_log.c.at >= flt.since)
        if flt.until:
            where.append(audit_log.c.at < flt.until)
        query = select(audit_log).where(*where)
        if cursor is not None:
            query = query.where(audit_log.c.id < int(cursor[0]))
        async with self.db.transaction() as conn:
            # Read before writing this request's own record, so the page does not show itself.
            rows = (await conn.execute(query.order_by(audit_log.c.id.desc()).limit(size + 1))).all()
            total = (await conn.execute(select(func.count()).select_from(audit_log).where(*where))).scalar_one()
            await self._audit(
                conn, actor_id, "admin.audit.list", client_ip=client_ip,
                detail={k: v for k, v in vars(flt).items() if v} or None,
            )
        found = [
            AuditEntry(r.id, r.user_id, r.actor_id, r.action, r.at, r.client_ip, r.outcome, r.detail) for r in rows[:size]
        ]
        next_token = _encode_cursor([found[-1].id]) if len(rows) > size else ""
        return found, next_token, total

    # ------------------------------------------------------------------------------ helpers
    async def _audit(
        self, conn: AsyncConnection, actor_id: str, action: str, *, user_id: str | None = None,
        client_ip: str | None = None, at: int | None = None, outcome: str = "success", detail: dict | None = None,
    ) -> None:
        await audit.record(
            conn, action=action, outcome=outcome, at=at if at is not None else self.clock.now_ms(),
            user_id=user_id, actor_id=actor_id, client_ip=client_ip, detail=detail,
        )

    async def _user_or_audit_miss(self, conn, actor_id: str, user_id: str, action: str, client_ip: str | None):
        """The user row, read in ``conn`` (a read unit); a miss is audited and is NotFound."""
        try:
            return await self._user_row(conn, user_id)
        except _UserMissing:
            await self._audit_miss(actor_id, user_id, action, client_ip)

    @staticmethod
    async def _user_row(conn, user_id: str, *, lock: bool = False):
        if not user_id:
            raise InvalidArgument("id is required", field="id")
        query = select(users).where(users.c.id == user_id)
        row = (await conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise _UserMissing
        return row

    async def _audit_miss(self, actor_id: str, user_id: str, action: str, client_ip: str | None):
        # Recorded in its own transaction, after the caller's (rolled back by the miss) ended:
        # a write unit holds SQLite's write lock, so a unit nested in it would wait for itself.
        async with self.db.transaction() as conn:
            await self._audit(
                conn, actor_id, action, client_ip=client_ip, outcome="failure",
                detail={"reason": "not_found", "id": user_id[:64]},
            )
        raise NotFound("user not found")

    @staticmethod
    def _check_roles(roles: list[str]) -> tuple[str, ...]:
        clean = tuple(dict.fromkeys(r.strip().lower() for r in roles))
        unknown = sorted(set(clean) - set(ROLES))
        if unknown:
            raise InvalidArgument(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}", field="roles")
        if "user" not in clean:
            raise InvalidArgument("every account keeps the 'user' role", field="roles")
        return tuple(r for r in ROLES if r in clean)

    @staticmethod
    async def _set_plan_override(conn: AsyncConnection, user_id: str, override: str, now: int) -> str | None:
        value = None if override == "none" else override
        done = await conn.execute(
            update(billing_subscriptions).where(billing_subscriptions.c.user_id == user_id)
            .values(plan_override=value, updated_at=now)
        )
        if done.rowcount == 0 and value is not None:
            # No subscription yet: a row that only carries the override ("none" = never subscribed).
            await conn.execute(
                insert(billing_subscriptions).values(
                    user_id=user_id, plan="free", status="none", plan_override=value, updated_at=now,
                    cancel_at_period_end=False, last_event_at=0,
                )
            )
        return value

    async def _detail(self, row) -> UserDetailView:
        unavailable = []
        sub = risk = None
        bots = []
        async with self.db.transaction() as conn:
            present = await self._present(conn)
            settings = await AccountService._load_settings(conn, row.id) if row.deleted_at is None else DEFAULT_SETTINGS
            if "billing_subscriptions" in present:
                sub = (
                    await conn.execute(
                        select(billing_subscriptions.c.plan_override).where(billing_subscriptions.c.user_id == row.id)
                    )
                ).first()
            else:
                unavailable.append("plan_override: the billing tables are not migrated")
            if "trading_bots" in present:
                bots = (
                    await conn.execute(
                        select(trading_bots).where(trading_bots.c.user_id == row.id)
                        .order_by(trading_bots.c.created_at.desc())
                    )
                ).all()
            else:
                unavailable.append("bots: the trading tables are not migrated")
            if "risk_user_state" in present:
                risk = (await conn.execute(select(risk_user_state).where(risk_user_state.c.user_id == row.id))).first()
            else:
                unavailable.append("risk_state: the risk tables are not migrated")
        override = sub.plan_override if sub is not None else None
        plan = override or (await self.entitlements.limits(row.id)).plan
        return UserDetailView(
            user=_row_user(row),
            plan=plan,
            plan_override=override,
            settings=settings,
            bots=tuple(
                BotRow(b.id, b.strategy, _json_list(b.markets), b.state, b.timeframe, bool(b.paper), b.started_at, b.error)
                for b in bots
            ),
            risk=None if risk is None else RiskStateView(
                trades_today=risk.trades_today, realized_pnl_today=Decimal(str(risk.realized_pnl_today)),
                open_positions=risk.open_positions, exposure_usd=Decimal(str(risk.exposure_usd)),
                reduce_only=bool(risk.reduce_only), kill_switch=bool(risk.kill_switch),
                kill_switch_reason=risk.kill_switch_reason, updated_at=risk.updated_at,
            ),
            unavailable=tuple(unavailable),
        )


async def _revoke_sessions(conn: AsyncConnection, user_id: str, now: int) -> int:
    done = await conn.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)))
        .values(revoked_at=now)
    )
    return done.rowcount
