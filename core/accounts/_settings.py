from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from nija.core.errors import InvalidArgument

RISK_LEVELS = ("low", "medium", "high")
_PAIR = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
MAX_PAIRS = 500


@dataclass(frozen=True)
class SettingsView:
    max_position_size: Decimal
    max_concurrent_positions: int
    max_daily_loss_pct: Decimal
    risk_level: str
    allowed_pairs: tuple[str, ...]
    notifications_enabled: bool
    #: 0 means no USD cap on today's loss (``max_daily_loss_pct`` still applies).
    max_daily_loss_usd: Decimal = Decimal(0)


DEFAULT_SETTINGS = SettingsView(
    max_position_size=Decimal("100"),
    max_concurrent_positions=3,
    max_daily_loss_pct=Decimal("10"),
    risk_level="medium",
    allowed_pairs=(),
    notifications_enabled=True,
)


def _decimal(field: str, value: Any, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidArgument(f"{field} must be a decimal number, got {str(value)[:40]!r}", field=field) from None
    if not number.is_finite():
        raise InvalidArgument(f"{field} must be a finite number", field=field)
    too_low = number < low if low_inclusive else number <= low
    if too_low or number > high:
        bound = "≥" if low_inclusive else ">"
        raise InvalidArgument(f"{field} must be {bound} {low} and ≤ {high}, got {number}", field=field)
    if number.as_tuple().exponent < -8:  # type: ignore[operator]
        raise InvalidArgument(f"{field} allows at most 8 decimal places", field=field)
    return number


def validate_settings_update(current: SettingsView, changes: dict[str, Any]) -> SettingsView:
    """Apply ``changes`` (only the fields the caller sent) to ``current``, or raise
    :class:`InvalidArgument` naming the first bad field."""
    updated: dict[str, Any] = {}
    if "max_position_size" in changes:
        updated["max_position_size"] = _decimal(
            "max_position_size", changes["max_position_size"], low=Decimal(0), high=Decimal(10_000_000), low_inclusive=False
        )
    if "max_concurrent_positions" in changes:
        value = changes["max_concurrent_positions"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            raise InvalidArgument(
                f"max_concurrent_positions must be an integer from 1 to 1000, got {value!r}",
                field="max_concurrent_positions",
            )
        updated["max_concurrent_positions"] = value
    if "max_daily_loss_pct" in changes:
        updated["max_daily_loss_pct"] = _decimal(
            "max_daily_loss_pct", changes["max_daily_loss_pct"], low=Decimal(0), high=Decimal(100), low_inclusive=False
        )
    if "max_daily_loss_usd" in changes:
        updated["max_daily_loss_usd"] = _decimal(
            "max_daily_loss_usd", changes["max_daily_loss_usd"], low=Decimal(0), high=Decimal(10_000_000), low_inclusive=True
        )
    if "risk_level" in changes:
        level = str(changes["risk_level"]).strip().lower()
        if level not in RISK_LEVELS:
            raise InvalidArgument(
                f"risk_level must be one of {', '.join(RISK_LEVELS)}, got {str(changes['risk_level'])[:20]!r}",
                field="risk_level",
            )
        updated["risk_level"] = level
    if "allowed_pairs" in changes:
        pairs = changes["allowed_pairs"]
        if not isinstance(pairs, (list, tuple)):
            raise InvalidArgument("allowed_pairs must be a list of symbols like \"BTC/USDT\"", field="allowed_pairs")
        if len(pairs) > MAX_PAIRS:
            raise InvalidArgument(f"allowed_pairs holds at most {MAX_PAIRS} symbols", field="allowed_pairs")
        cleaned: list[str] = []
        for pair in pairs:
            symbol = pair.strip().upper() if isinstance(pair, str) else None
            if symbol is None or not _PAIR.match(symbol):
                raise InvalidArgument(
                    f"allowed_pairs: {str(pair)[:40]!r} is not a symbol like \"BTC/USDT\"", field="allowed_pairs"
                )
            if symbol not in cleaned:
                cleaned.append(symbol)
        updated["allowed_pairs"] = tuple(cleaned)
    if "notifications_enabled" in changes:
        if not isinstance(changes["notifications_enabled"], bool):
            raise InvalidArgument("notifications_enabled must be true or false", field="notifications_enabled")
        updated["notifications_enabled"] = changes["notifications_enabled"]
    return replace(current, **updated)
