"""The permissive pre-trade check used when no risk engine is configured (tests of the order
path alone, embedding). The platform wires :class:`nija.core.risk.RiskEngine` instead."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.risk import OrderRequest


class AllowAll:
    """Lets every order through; records nothing."""

    async def pre_trade(self, conn: AsyncConnection, request: OrderRequest) -> None:
        return None

    async def on_broker_result(self, user_id: str, bot_id: str | None, ok: bool, conn=None) -> bool:
        return False
