"""Helpers shared by the risk tests and the kill-switch worker processes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal as D

from sqlalchemy import insert

from nija.core.db.models import user_settings, users
from nija.core.entitlements import PlanLimits
from nija.core.risk import OrderRequest

PRO = PlanLimits(plan="pro", live_trading=True, max_exchanges=3, max_position_usd=D(2000), max_positions=10,
                 max_trades_per_day=100, api_calls_per_minute=600)


async def make_user(db, *, max_position_size=D(1000), max_concurrent_positions=10, max_daily_loss_pct=D(10),
                    allowed_pairs=(), **extra) -> str:
    """A user row plus settings, written directly (the accounts flow is tested elsewhere)."""
    user_id = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(insert(users).values(id=user_id, email=f"risk-{user_id[:12]}@example.com",
                                                password_hash="x", roles="user", created_at=0, disabled=False))
        await conn.execute(insert(user_settings).values(
            user_id=user_id, max_position_size=max_position_size, max_concurrent_positions=max_concurrent_positions,
            max_daily_loss_pct=max_daily_loss_pct, risk_level="medium", allowed_pairs=list(allowed_pairs),
            notifications_enabled=True, updated_at=0, **extra))
    return user_id


def order(user_id: str, **changes) -> OrderRequest:
    """A 2%-of-equity paper order that adds to a position (equity 5,000 USD, notional 100 USD)."""
    base = OrderRequest(user_id=user_id, bot_id=None, broker_connection_id=None, exchange="paper",
                        symbol="BTC/USDT", side="buy", quantity=D("0.002"), price=D(50000), notional_usd=D(100),
                        reduce_only=False, live=False, account_equity_usd=D(5000), opens_position=False)
    return replace(base, **changes)
