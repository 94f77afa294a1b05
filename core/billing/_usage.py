"""API call counting for the edge's rate limit, and the usage report of a user.

Counts live in the database (``api_usage``) so every service process and replica shares them.
One atomic upsert per call: the window is anchored at the first call after the previous window
ended, so a burst is never split by a wall-clock minute boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select

from nija.core.billing import _store
from nija.core.billing._service import Billing
from nija.core.billing._state import DAY_MS, resolve
from nija.core.billing._tables import api_usage


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    #: Calls left in the current window (0 when over the limit).
    remaining: int
    #: Seconds until the window resets (what Retry-After says).
    reset_s: int
    plan: str


@dataclass(frozen=True)
class UsageItem:
    name: str
    used: int
    limit: int  # -1: unlimited


async def count_api_call(billing: Billing, user_id: str) -> RateDecision | None:
    """Count one API call of ``user_id`` and decide. ``None`` for an unknown user (nothing is
    counted: the edge only asks with a verified token's subject)."""
    now = billing.clock.now_ms()
    window_ms = billing.config.rate_window_s * 1000
    async with billing.db.transaction() as conn:
        user, row = await _store.load_joined(conn, user_id)
        if user is None:
            return None
        day = now // DAY_MS
        expired = api_usage.c.window_start + window_ms <= now
        stmt = (
            _store.upsert(conn, api_usage)
            .values(user_id=user_id, window_start=now, window_count=1, day=day, day_count=1)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "window_start": case((expired, now), else_=api_usage.c.window_start),
                "window_count": case((expired, 1), else_=api_usage.c.window_count + 1),
                "day": day,
                "day_count": case((api_usage.c.day == day, api_usage.c.day_count + 1), else_=1),
            },
        ).returning(api_usage.c.window_start, api_usage.c.window_count)
        window_start, count = (await conn.execute(stmt)).one()
    view = resolve(user_id, user["created_at"], row, now, billing.config.trial_days)
    limit = view.limits.api_calls_per_minute
    reset_s = max(1, -(-(window_start + window_ms - now) // 1000))
    return RateDecision(allowed=count <= limit, limit=limit, remaining=max(0, limit - count), reset_s=reset_s, plan=view.plan)


async def usage(billing: Billing, user_id: str) -> list[UsageItem]:
    """Each counted resource against its limit in the plan in force."""
    view = await billing.view(user_id)
    limits = view.limits
    now = billing.clock.now_ms()
    window_ms = billing.config.rate_window_s * 1000
    async with billing.db.transaction() as conn:
        row = (await conn.execute(select(api_usage).where(api_usage.c.user_id == user_id))).mappings().first()
    minute = row["window_count"] if row and row["window_start"] + window_ms > now else 0
    today = row["day_count"] if row and row["day"] == now // DAY_MS else 0
    day_start = now // DAY_MS * DAY_MS
    trades = await billing.usage_sources.trades_today(user_id, day_start)
    exchanges = await billing.usage_sources.exchanges_connected(user_id)
    return [
        UsageItem("trades_today", trades, limits.max_trades_per_day),
        UsageItem("api_calls_this_minute", minute, limits.api_calls_per_minute),
        # No daily API cap in the plans: the per-minute limit is the bound.
        UsageItem("api_calls_today", today, -1),
        UsageItem("exchanges_connected", exchanges, limits.max_exchanges if limits.max_exchanges is not None else -1),
    ]
