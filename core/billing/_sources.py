"""Usage counted by other features, read from their tables by name.

Billing does not import trading or risk (they import billing's entitlements, not the other
way round); it reads two well-known tables and treats a missing table as "nothing yet":

- trades today: ``risk_user_state.trades_today`` on ``risk_user_state.day == now // 1 day`` —
  the same counter the risk engine enforces ``max_trades_per_day`` with;
- exchanges connected: distinct ``exchange`` of the user's ``trading_broker_connections``.
"""

from __future__ import annotations

import logging

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import DBAPIError

from nija.core.db import Database

log = logging.getLogger(__name__)

DAY_MS = 86_400_000

_risk_state = table("risk_user_state", column("user_id"), column("day"), column("trades_today"))
_connections = table("trading_broker_connections", column("user_id"), column("exchange"))


class SqlUsageSources:
    """:class:`nija.core.billing.UsageSources` over the risk and trading tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _scalar(self, query) -> int:
        try:
            async with self.db.transaction() as conn:
                return int((await conn.execute(query)).scalar() or 0)
        except DBAPIError as exc:
            # Not migrated (a deployment without trading/risk): nothing to count.
            log.debug("usage source unavailable: %s", exc.orig)
            return 0

    async def trades_today(self, user_id: str, day_start_ms: int) -> int:
        return await self._scalar(select(_risk_state.c.trades_today).where(
            _risk_state.c.user_id == user_id, _risk_state.c.day == day_start_ms // DAY_MS))

    async def exchanges_connected(self, user_id: str) -> int:
        return await self._scalar(select(func.count(func.distinct(_connections.c.exchange)))
                                  .where(_connections.c.user_id == user_id))
