"""The pre-trade rules as one pure function, plus the operator's hard limits.

:func:`check_order` sees a snapshot of the user's counters (taken under the user's row lock)
and raises :class:`RiskRejected` naming the first rule the order breaks. Rule names are stable:
``order.invalid``, ``kill_switch.user``, ``hard.bot_disabled``, ``tier.live_trading``,
``user.trade_only``, ``user.allowed_pairs``, ``hard.max_drawdown``, ``user.max_daily_loss_usd``,
``user.max_daily_loss_pct``, ``portfolio.reduce_only``, ``hard.max_trades_per_day``,
``tier.max_trades_per_day``, ``hard.position_size_min``, ``hard.position_size_max``,
``user.max_position_size``, ``tier.max_position_usd``, ``user.max_concurrent_positions``,
``tier.max_positions``, ``portfolio.max_exposure`` (and ``kill_switch.global``, checked by the
engine before this function).

Reduce-only orders only shrink positions, so they are what a stop, a drawdown or a kill switch
needs to flatten: they pass every rule here except ``order.invalid``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Mapping

from nija.core.entitlements import PlanLimits
from nija.core.errors import InvalidArgument
from nija.core.risk._interface import OrderRequest, RiskRejected

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class HardLimits:
    """Platform-wide controls no user setting or plan can loosen; set by the operator through
    ``NIJA_RISK_*`` environment variables (see :meth:`from_env`)."""

    #: An opening order's notional must be at least / at most this percent of account equity.
    min_position_pct: Decimal = Decimal(2)
    max_position_pct: Decimal = Decimal(10)
    #: Orders a user may open per UTC day, across all bots and exchanges.
    max_trades_per_day: int = 50
    #: A bot is disabled by this many broker API errors in a row.
    max_consecutive_broker_errors: int = 5
    #: Equity this percent below its peak stops new orders and asks for a flatten.
    max_drawdown_pct: Decimal = Decimal(20)
    #: Total open notional across a user's bots and exchanges, percent of equity.
    max_total_exposure_pct: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        if not Decimal(0) < self.min_position_pct <= self.max_position_pct <= HUNDRED:
            raise InvalidArgument("hard limits need 0 < min_position_pct <= max_position_pct <= 100")
        if self.max_trades_per_day < 1 or self.max_consecutive_broker_errors < 1:
            raise InvalidArgument("hard limits need max_trades_per_day and max_consecutive_broker_errors >= 1")
        if not Decimal(0) < self.max_drawdown_pct <= HUNDRED or self.max_total_exposure_pct <= 0:
            raise InvalidArgument("hard limits need 0 < max_drawdown_pct <= 100 and max_total_exposure_pct > 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HardLimits":
        """Read ``NIJA_RISK_MIN_POSITION_PCT``, ``NIJA_RISK_MAX_POSITION_PCT``,
        ``NIJA_RISK_MAX_TRADES_PER_DAY``, ``NIJA_RISK_MAX_BROKER_ERRORS``,
        ``NIJA_RISK_MAX_DRAWDOWN_PCT`` and ``NIJA_RISK_MAX_EXPOSURE_PCT``; unset ones keep
        their defaults."""
        values: dict[str, object] = {}
        for env, name, kind in (
            ("NIJA_RISK_MIN_POSITION_PCT", "min_position_pct", Decimal),
            ("NIJA_RISK_MAX_POSITION_PCT", "max_position_pct", Decimal),
            ("NIJA_RISK_MAX_TRADES_PER_DAY", "max_trades_per_day", int),
            ("NIJA_RISK_MAX_BROKER_ERRORS", "max_consecutive_broker_errors", int),
            ("NIJA_RISK_MAX_DRAWDOWN_PCT", "max_drawdown_pct", Decimal),
            ("NIJA_RISK_MAX_EXPOSURE_PCT", "max_total_exposure_pct", Decimal),
        ):
            raw = environ.get(env)
            if raw:
                try:
                    values[name] = kind(raw)
                except (InvalidOperation, ValueError):
                    raise InvalidArgument(f"{env} must be a number, got {raw[:20]!r}") from None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class UserLimits:
    """What the rules need from the user's settings (``nija.core.accounts.SettingsView``)."""

    allowed_pairs: tuple[str, ...] = ()
    max_position_size: Decimal = Decimal(100)
    max_concurrent_positions: int = 3
    max_daily_loss_pct: Decimal = Decimal(10)
    #: 0 means no USD cap (the percent cap still applies).
    max_daily_loss_usd: Decimal = Decimal(0)

    @classmethod
    def from_settings(cls, settings) -> "UserLimits":
        return cls(
            allowed_pairs=tuple(settings.allowed_pairs),
            max_position_size=settings.max_position_size,
            max_concurrent_positions=settings.max_concurrent_positions,
            max_daily_loss_pct=settings.max_daily_loss_pct,
            max_daily_loss_usd=getattr(settings, "max_daily_loss_usd", Decimal(0)) or Decimal(0),
        )


@dataclass(frozen=True)
class Usage:
    """The user's counters for today, read under the row lock, before this order."""

    trades_today: int = 0
    open_positions: int = 0
    exposure_usd: Decimal = Decimal(0)
    #: Highest equity seen, including this order's ``account_equity_usd``.
    peak_equity: Decimal | None = None
    day_start_equity: Decimal | None = None
    realized_pnl_today: Decimal = Decimal(0)
    reduce_only: bool = False
    user_kill_switch: bool = False
    bot_disabled: bool = False


def drawdown_pct(peak: Decimal | None, equity: Decimal) -> Decimal:
    """Percent below the peak (0 when there is no peak yet or equity is at a new high)."""
    if not peak or peak <= 0 or equity >= peak:
        return Decimal(0)
    return (peak - equity) / peak * HUNDRED


def daily_loss_usd(usage: Usage, equity: Decimal) -> Decimal:
    """Today's loss: the larger of the equity drop since the day's first order (realised and
    unrealised) and the realised losses reported by the order path; never negative."""
    from_equity = (usage.day_start_equity - equity) if usage.day_start_equity is not None else Decimal(0)
    return max(from_equity, -usage.realized_pnl_today, Decimal(0))


def _reject(rule: str, message: str, **kwargs) -> None:
    raise RiskRejected(rule, message, **kwargs)


def check_order(request: OrderRequest, usage: Usage, user: UserLimits, plan: PlanLimits, hard: HardLimits) -> None:
    """Raise :class:`RiskRejected` naming the first rule ``request`` breaks; return if none."""
    if request.side not in ("buy", "sell"):
        _reject("order.invalid", f"side must be buy or sell, got {request.side[:10]!r}")
    if request.quantity <= 0 or request.price <= 0 or request.notional_usd <= 0:
        _reject("order.invalid", "quantity, price and notional must be positive")
    if request.reduce_only:
        return
    equity = request.account_equity_usd
    if equity <= 0:
        _reject("order.invalid", "account equity must be positive to open or add to a position")

    if usage.user_kill_switch:
        _reject("kill_switch.user", "your emergency stop is engaged: only orders that reduce positions are accepted")
    if usage.bot_disabled:
        _reject(
            "hard.bot_disabled",
            f"this bot was disabled after {hard.max_consecutive_broker_errors} consecutive broker errors; "
            "re-enable it to trade",
        )
    if request.live and not plan.live_trading:
        _reject("tier.live_trading", f"the {plan.plan} plan allows paper trading only")
    if request.live and request.key_can_withdraw:
        _reject("user.trade_only", "the exchange key of this connection can withdraw funds; NIJA trades only through "
                                   "keys with trading permission only: remove the withdraw permission on the exchange "
                                   "or connect a trade-only key")
    if user.allowed_pairs and request.symbol.upper() not in user.allowed_pairs:
        _reject("user.allowed_pairs", f"{request.symbol} is not in your allowed pairs")

    drawdown = drawdown_pct(usage.peak_equity, equity)
    if drawdown >= hard.max_drawdown_pct:
        _reject(
            "hard.max_drawdown",
            f"equity is {drawdown:.2f}% below its peak (limit {hard.max_drawdown_pct}%): trading stopped, flatten",
            flatten=True,
        )
    loss = daily_loss_usd(usage, equity)
    if user.max_daily_loss_usd > 0 and loss >= user.max_daily_loss_usd:
        _reject("user.max_daily_loss_usd", f"today's loss {loss:.2f} USD reached your limit of {user.max_daily_loss_usd} USD")
    if usage.day_start_equity and loss >= usage.day_start_equity * user.max_daily_loss_pct / HUNDRED:
        _reject("user.max_daily_loss_pct", f"today's loss reached your limit of {user.max_daily_loss_pct}% of equity")
    if usage.reduce_only:
        _reject("portfolio.reduce_only", "reduce-only mode is on: only orders that shrink positions are accepted")

    if usage.trades_today >= hard.max_trades_per_day:
        _reject("hard.max_trades_per_day", f"at most {hard.max_trades_per_day} trades per day")
    if usage.trades_today >= plan.max_trades_per_day:
        _reject("tier.max_trades_per_day", f"the {plan.plan} plan allows {plan.max_trades_per_day} trades per day")

    size_pct = request.notional_usd / equity * HUNDRED
    if size_pct < hard.min_position_pct:
        _reject("hard.position_size_min", f"order is {size_pct:.2f}% of equity; the minimum is {hard.min_position_pct}%")
    if size_pct > hard.max_position_pct:
        _reject("hard.position_size_max", f"order is {size_pct:.2f}% of equity; the maximum is {hard.max_position_pct}%")
    if request.notional_usd > user.max_position_size:
        _reject("user.max_position_size", f"order of {request.notional_usd} USD exceeds your max position size of {user.max_position_size} USD")
    if plan.max_position_usd is not None and request.notional_usd > plan.max_position_usd:
        _reject("tier.max_position_usd", f"the {plan.plan} plan allows {plan.max_position_usd} USD per position")

    if request.opens_position:
        if usage.open_positions >= user.max_concurrent_positions:
            _reject("user.max_concurrent_positions", f"you allow at most {user.max_concurrent_positions} open positions")
        if usage.open_positions >= plan.max_positions:
            _reject("tier.max_positions", f"the {plan.plan} plan allows {plan.max_positions} open positions")
    cap = equity * hard.max_total_exposure_pct / HUNDRED
    if usage.exposure_usd + request.notional_usd > cap:
        _reject("portfolio.max_exposure", f"total exposure would exceed {hard.max_total_exposure_pct}% of equity ({cap:.2f} USD)")
