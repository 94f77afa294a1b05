"""Every pre-trade rule, table-driven, with its boundaries (pure function, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from nija.core.entitlements import FREE_LIMITS, PlanLimits
from nija.core.errors import InvalidArgument
from nija.core.risk import HardLimits, OrderRequest, RiskRejected, Usage, UserLimits, check_order

PRO = PlanLimits(plan="pro", live_trading=True, max_exchanges=3, max_position_usd=D(2000), max_positions=10,
                 max_trades_per_day=100, api_calls_per_minute=600)
HARD = HardLimits()
# Equity 10,000 USD: 2% = 200, 10% = 1,000.
ORDER = OrderRequest(user_id="u", bot_id="b", broker_connection_id=None, exchange="paper", symbol="BTC/USDT",
                     side="buy", quantity=D("0.01"), price=D(50000), notional_usd=D(500), reduce_only=False,
                     live=True, account_equity_usd=D(10000))
USER = UserLimits(allowed_pairs=(), max_position_size=D(5000), max_concurrent_positions=10,
                  max_daily_loss_pct=D(10), max_daily_loss_usd=D(0))
USAGE = Usage(peak_equity=D(10000), day_start_equity=D(10000))


def run(order=ORDER, usage=USAGE, user=USER, plan=PRO, hard=HARD):
    try:
        check_order(order, usage, user, plan, hard)
    except RiskRejected as rejected:
        return rejected.rule
    return None


CASES = [
    # (id, order changes, usage changes, user changes, plan, expected rule or None)
    ("accepted", {}, {}, {}, PRO, None),
    ("bad side", {"side": "hold"}, {}, {}, PRO, "order.invalid"),
    ("zero quantity", {"quantity": D(0)}, {}, {}, PRO, "order.invalid"),
    ("negative notional", {"notional_usd": D(-1)}, {}, {}, PRO, "order.invalid"),
    ("zero equity", {"account_equity_usd": D(0)}, {}, {}, PRO, "order.invalid"),
    ("user kill switch", {}, {"user_kill_switch": True}, {}, PRO, "kill_switch.user"),
    ("bot disabled", {}, {"bot_disabled": True}, {}, PRO, "hard.bot_disabled"),
    ("live on free plan", {}, {}, {}, replace(FREE_LIMITS, max_trades_per_day=100), "tier.live_trading"),
    ("paper on free plan", {"live": False, "notional_usd": D(200)}, {}, {"max_position_size": D(200)},
     FREE_LIMITS, None),
    ("live, key can withdraw", {"key_can_withdraw": True}, {}, {}, PRO, "user.trade_only"),
    ("live, key trade-only", {"key_can_withdraw": False}, {}, {}, PRO, None),
    ("live, venue does not say", {"key_can_withdraw": None}, {}, {}, PRO, None),
    ("paper ignores key rights", {"live": False, "key_can_withdraw": True}, {}, {}, PRO, None),
    ("reduce-only through a withdraw key", {"key_can_withdraw": True, "reduce_only": True}, {}, {}, PRO, None),
    ("pair not allowed", {}, {}, {"allowed_pairs": ("ETH/USDT",)}, PRO, "user.allowed_pairs"),
    ("pair allowed", {}, {}, {"allowed_pairs": ("ETH/USDT", "BTC/USDT")}, PRO, None),
    # drawdown from peak 12,500 to 10,000 = exactly 20%
    ("drawdown exactly 20%", {}, {"peak_equity": D(12500)}, {}, PRO, "hard.max_drawdown"),
    ("drawdown 19.99%", {"account_equity_usd": D("10001.25")}, {"peak_equity": D(12500),
                                                                "day_start_equity": D("10001.25")}, {}, PRO, None),
    ("daily loss usd reached", {"account_equity_usd": D(9700), "notional_usd": D(300)},
     {"day_start_equity": D(10000)}, {"max_daily_loss_usd": D(300)}, PRO, "user.max_daily_loss_usd"),
    ("daily loss usd below", {"account_equity_usd": D(9701), "notional_usd": D(300)},
     {"day_start_equity": D(10000)}, {"max_daily_loss_usd": D(300)}, PRO, None),
    ("realised loss counts", {}, {"realized_pnl_today": D(-300)}, {"max_daily_loss_usd": D(300)}, PRO,
     "user.max_daily_loss_usd"),
    ("daily loss exactly 10%", {"account_equity_usd": D(9000), "notional_usd": D(500)},
     {"day_start_equity": D(10000)}, {}, PRO, "user.max_daily_loss_pct"),
    ("daily loss 9.99%", {"account_equity_usd": D(9001), "notional_usd": D(500)},
     {"day_start_equity": D(10000)}, {}, PRO, None),
    ("reduce-only mode", {}, {"reduce_only": True}, {}, PRO, "portfolio.reduce_only"),
    ("50th trade", {}, {"trades_today": 49}, {}, PRO, None),
    ("51st trade", {}, {"trades_today": 50}, {}, PRO, "hard.max_trades_per_day"),
    ("tier trades (free: 10th)", {"live": False, "notional_usd": D(200)}, {"trades_today": 9},
     {"max_position_size": D(200)}, FREE_LIMITS, None),
    ("tier trades (free: 11th)", {"live": False, "notional_usd": D(200)}, {"trades_today": 10},
     {"max_position_size": D(200)}, FREE_LIMITS, "tier.max_trades_per_day"),
    ("exactly 2%", {"notional_usd": D(200)}, {}, {}, PRO, None),
    ("just under 2%", {"notional_usd": D("199.99")}, {}, {}, PRO, "hard.position_size_min"),
    ("exactly 10%", {"notional_usd": D(1000)}, {}, {}, PRO, None),
    ("just over 10%", {"notional_usd": D("1000.01")}, {}, {}, PRO, "hard.position_size_max"),
    ("user max position exact", {"notional_usd": D(300)}, {}, {"max_position_size": D(300)}, PRO, None),
    ("user max position over", {"notional_usd": D(301)}, {}, {"max_position_size": D(300)}, PRO,
     "user.max_position_size"),
    ("tier max position", {"notional_usd": D(2500), "account_equity_usd": D(30000)},
     {"peak_equity": D(30000), "day_start_equity": D(30000)}, {}, PRO, "tier.max_position_usd"),
    ("user positions full", {}, {"open_positions": 4}, {"max_concurrent_positions": 4}, PRO,
     "user.max_concurrent_positions"),
    ("user positions one left", {}, {"open_positions": 3}, {"max_concurrent_positions": 4}, PRO, None),
    ("adding to a position", {"opens_position": False}, {"open_positions": 4}, {"max_concurrent_positions": 4},
     PRO, None),
    ("tier positions full", {}, {"open_positions": 10}, {"max_concurrent_positions": 50}, PRO, "tier.max_positions"),
    ("exposure exactly 100%", {}, {"exposure_usd": D(9500)}, {}, PRO, None),
    ("exposure over 100%", {}, {"exposure_usd": D("9500.01")}, {}, PRO, "portfolio.max_exposure"),
]


@pytest.mark.parametrize("order,usage,user,plan,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(order, usage, user, plan, expected):
    assert run(replace(ORDER, **order), replace(USAGE, **usage), replace(USER, **user), plan) == expected


@pytest.mark.parametrize(
    "usage",
    [{"user_kill_switch": True}, {"bot_disabled": True}, {"reduce_only": True}, {"trades_today": 50},
     {"peak_equity": D(20000)}, {"open_positions": 10}, {"exposure_usd": D(10000)}],
    ids=["user kill switch", "bot disabled", "reduce-only mode", "trades", "drawdown", "positions", "exposure"],
)
def test_reduce_only_orders_pass_stops_so_positions_can_be_flattened(usage):
    order = replace(ORDER, reduce_only=True, notional_usd=D(5), symbol="DOGE/USDT")
    user = replace(USER, allowed_pairs=("BTC/USDT",))
    assert run(order, replace(USAGE, **usage), user) is None


def test_drawdown_rejection_asks_for_a_flatten():
    with pytest.raises(RiskRejected) as info:
        check_order(ORDER, replace(USAGE, peak_equity=D(20000)), USER, PRO, HARD)
    assert info.value.rule == "hard.max_drawdown" and info.value.flatten
    assert "20" in info.value.message


def test_every_rejection_message_names_a_reason():
    with pytest.raises(RiskRejected) as info:
        check_order(replace(ORDER, notional_usd=D(5000)), USAGE, USER, PRO, HARD)
    assert info.value.rule == "hard.position_size_max" and "10" in info.value.message
    assert info.value.reason == "RISK_REJECTED"


def test_hard_limits_are_operator_configurable_from_the_environment():
    hard = HardLimits.from_env({"NIJA_RISK_MAX_TRADES_PER_DAY": "20", "NIJA_RISK_MAX_POSITION_PCT": "5"})
    assert hard.max_trades_per_day == 20 and hard.max_position_pct == D(5) and hard.min_position_pct == D(2)
    assert run(replace(ORDER, notional_usd=D(600)), hard=hard) == "hard.position_size_max"
    assert run(usage=replace(USAGE, trades_today=20), hard=hard) == "hard.max_trades_per_day"


@pytest.mark.parametrize("env", [{"NIJA_RISK_MIN_POSITION_PCT": "20"}, {"NIJA_RISK_MAX_TRADES_PER_DAY": "x"},
                                 {"NIJA_RISK_MAX_DRAWDOWN_PCT": "0"}])
def test_bad_operator_limits_are_refused(env):
    with pytest.raises(InvalidArgument):
        HardLimits.from_env(env)
