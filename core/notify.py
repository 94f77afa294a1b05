"""Delivering messages to users (password reset links, alerts).

There is no mail server here, so the default notifier writes each message to the ``outbox``
table (a mailer can drain it later) and logs a line that says a message is waiting — never its
secret content.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.db.models import outbox

log = logging.getLogger(__name__)


class Notifier(Protocol):
    async def send(
        self, conn: AsyncConnection, *, user_id: str | None, recipient: str, kind: str, payload: dict[str, Any], at: int
    ) -> None:
        """Queue one message inside the caller's transaction (so it exists iff the change does)."""


class OutboxNotifier:
    async def send(
        self, conn: AsyncConnection, *, user_id: str | None, recipient: str, kind: str, payload: dict[str, Any], at: int
    ) -> None:
        result = await conn.execute(
            outbox.insert().values(
                user_id=user_id, channel="email", recipient=recipient, kind=kind, payload=payload, created_at=at
            )
        )
        log.info("queued %s message for user %s in outbox (id %s)", kind, user_id, result.inserted_primary_key[0])
