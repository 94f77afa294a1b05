"""The plan catalogue as data: prices, limits and features of each tier.

Nothing else in the code base branches on a plan name; everything asks :data:`PLANS` (or the
entitlements built from it). Prices are US dollars (``Decimal``); Stripe amounts are derived in
cents. ``None`` in a limit means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from nija.core.entitlements import PlanLimits

#: The catalogue. Features are cumulative by design: each tier lists everything it unlocks.
_CATALOGUE: tuple[dict, ...] = (
    {
        "id": "free", "name": "Free", "month": "0", "year": "0",
        "live_trading": False, "max_exchanges": 1, "max_position_usd": None,
        "max_positions": 3, "max_trades_per_day": 10, "api_calls_per_minute": 10,
        "features": ("paper_trading",),
    },
    {
        "id": "basic", "name": "Basic", "month": "49", "year": "470",
        "live_trading": True, "max_exchanges": 2, "max_position_usd": "500",
        "max_positions": 5, "max_trades_per_day": 30, "api_calls_per_minute": 30,
        "features": ("paper_trading", "live_trading"),
    },
    {
        "id": "pro", "name": "Pro", "month": "149", "year": "1430",
        "live_trading": True, "max_exchanges": 5, "max_position_usd": "2000",
        "max_positions": 10, "max_trades_per_day": 100, "api_calls_per_minute": 100,
        "features": ("paper_trading", "live_trading", "meta_ai", "mmin", "tradingview"),
    },
    {
        "id": "enterprise", "name": "Enterprise", "month": "499", "year": "4790",
        "live_trading": True, "max_exchanges": None, "max_position_usd": "10000",
        "max_positions": 50, "max_trades_per_day": 500, "api_calls_per_minute": 500,
        "features": ("paper_trading", "live_trading", "meta_ai", "mmin", "tradingview", "gmig", "api_access"),
    },
)

INTERVALS = ("month", "year")


@dataclass(frozen=True)
class Plan:
    """One tier: its prices per interval and the limits it grants."""

    id: str
    name: str
    price_month_usd: Decimal
    price_year_usd: Decimal
    limits: PlanLimits

    @property
    def paid(self) -> bool:
        return self.price_month_usd > 0

    def price(self, interval: str) -> Decimal:
        return self.price_month_usd if interval == "month" else self.price_year_usd

    def stripe_plan_id(self, interval: str) -> str:
        """The id of this plan+interval in Stripe (created on first use, see ``_stripe``)."""
        return f"nija_{self.id}_{interval}"


def _build(row: dict) -> Plan:
    position = row["max_position_usd"]
    return Plan(
        id=row["id"],
        name=row["name"],
        price_month_usd=Decimal(row["month"]),
        price_year_usd=Decimal(row["year"]),
        limits=PlanLimits(
            plan=row["id"],
            live_trading=row["live_trading"],
            max_exchanges=row["max_exchanges"],
            max_position_usd=Decimal(position) if position is not None else None,
            max_positions=row["max_positions"],
            max_trades_per_day=row["max_trades_per_day"],
            api_calls_per_minute=row["api_calls_per_minute"],
            features=frozenset(row["features"]),
        ),
    )


#: Plan id → :class:`Plan`, in catalogue order (cheapest first).
PLANS: MappingProxyType[str, Plan] = MappingProxyType({row["id"]: _build(row) for row in _CATALOGUE})
FREE = PLANS["free"]
#: The plan a trial grants.
TRIAL_PLAN = PLANS["pro"]


def plan_for_stripe_id(stripe_plan_id: str) -> tuple[Plan, str] | None:
    """(plan, interval) of a Stripe plan id made by :meth:`Plan.stripe_plan_id`, else ``None``."""
    for plan in PLANS.values():
        for interval in INTERVALS:
            if plan.stripe_plan_id(interval) == stripe_plan_id:
                return plan, interval
    return None
