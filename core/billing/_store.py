"""Row access shared by the billing modules (SQLAlchemy Core, inside the caller's transaction)."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.billing._tables import billing_subscriptions
from nija.core.db import Prepared
from nija.core.db.models import users


def upsert(conn: AsyncConnection, table):
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL both do)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def load(conn: AsyncConnection, user_id: str, *, for_update: bool = False) -> tuple[dict | None, dict | None]:
    """(user row, subscription row) of ``user_id``; either may be ``None``."""
    user = (await conn.execute(
        select(users.c.id, users.c.email, users.c.created_at).where(users.c.id == user_id, users.c.deleted_at.is_(None))
    )).mappings().first()
    if user is None:
        return None, None
    query = select(billing_subscriptions).where(billing_subscriptions.c.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    sub = (await conn.execute(query)).mappings().first()
    return dict(user), (dict(sub) if sub else None)


_JOINED = Prepared(
    select(users.c.created_at, billing_subscriptions)
    .select_from(users.outerjoin(billing_subscriptions, billing_subscriptions.c.user_id == users.c.id))
    .where(users.c.id == bindparam("b_user"), users.c.deleted_at.is_(None))
)


async def load_joined(conn: AsyncConnection, user_id: str) -> tuple[dict | None, dict | None]:
    """Like :func:`load` (without locking) in one round trip: the per-request path of the
    rate limit and risk's plan lookup (in the order's transaction) read through this."""
    found = (await _JOINED.execute(conn, {"b_user": user_id})).first()
    if found is None:
        return None, None
    values = found._mapping
    sub = {c.name: values[c.name] for c in billing_subscriptions.c}
    return {"id": user_id, "created_at": values["created_at"]}, (sub if sub["user_id"] is not None else None)


async def ensure_row(conn: AsyncConnection, user_id: str, now_ms: int) -> dict:
    """The subscription row of ``user_id``, created (status "none", plan free) if missing, locked."""
    await conn.execute(
        upsert(conn, billing_subscriptions)
        .values(user_id=user_id, plan="free", status="none", cancel_at_period_end=False, last_event_at=0, updated_at=now_ms)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    row = (await conn.execute(
        select(billing_subscriptions).where(billing_subscriptions.c.user_id == user_id).with_for_update()
    )).mappings().one()
    return dict(row)


async def update(conn: AsyncConnection, user_id: str, changes: dict) -> None:
    await conn.execute(billing_subscriptions.update().where(billing_subscriptions.c.user_id == user_id).values(**changes))
