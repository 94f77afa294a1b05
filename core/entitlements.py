"""What each user may do, by plan: the one interface risk, trading and the gateway ask.

Billing provides the real implementation (plans as data, subscription state); until a user has
a subscription, or when billing is not configured, :class:`StaticEntitlements` answers with the
Free plan's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class PlanLimits:
    """Limits of one plan. ``None`` means unlimited."""

    plan: str  # free | basic | pro | enterprise
    live_trading: bool
    max_exchanges: int | None
    max_position_usd: Decimal | None
    max_positions: int
    max_trades_per_day: int
    api_calls_per_minute: int
    features: frozenset[str] = field(default_factory=frozenset)


FREE_LIMITS = PlanLimits(
    plan="free",
    live_trading=False,
    max_exchanges=1,
    max_position_usd=None,  # paper only; position size is bounded by risk settings
    max_positions=3,
    max_trades_per_day=10,
    api_calls_per_minute=10,
)


class Entitlements(Protocol):
    async def limits(self, user_id: str, conn: AsyncConnection | None = None) -> PlanLimits:
        """The limits in force for ``user_id`` now (trial, active, past_due and canceled
        resolved to one plan). With ``conn`` (an open unit: risk's check inside the order's
        transaction) they are read in it instead of in a unit of their own."""

    async def may(self, user_id: str, feature: str) -> bool:
        """Whether ``user_id`` may use ``feature`` (e.g. "live_trading", "tradingview")."""


class StaticEntitlements:
    """Every user on one fixed plan (the Free plan by default)."""

    def __init__(self, limits: PlanLimits = FREE_LIMITS) -> None:
        self._limits = limits

    async def limits(self, user_id: str, conn: AsyncConnection | None = None) -> PlanLimits:
        return self._limits

    async def may(self, user_id: str, feature: str) -> bool:
        if feature == "live_trading":
            return self._limits.live_trading
        return feature in self._limits.features
