"""The append-only audit trail: who did what, when, from where, and how it ended."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.db.models import audit_log


async def record(
    conn: AsyncConnection,
    *,
    action: str,
    outcome: str,
    at: int,
    user_id: str | None = None,
    actor_id: str | None = None,
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit record inside the caller's transaction.

    ``detail`` must never hold a secret (password, token, API key).
    """
    await conn.execute(
        audit_log.insert().values(
            user_id=user_id,
            actor_id=actor_id if actor_id is not None else user_id,
            action=action,
            at=at,
            client_ip=client_ip,
            outcome=outcome,
            detail=json.dumps(detail, sort_keys=True) if detail else None,
        )
    )
