"""Read/write views of other features' tables that the admin console touches.

The tables are created by their features' migrations (0100_billing, 0200_trading, 0300_risk);
these lightweight ``table()`` clauses name only the columns the console needs, so the console
does not depend on those features' Python modules.
"""

from __future__ import annotations

from sqlalchemy import column, table

trading_bots = table(
    "trading_bots",
    column("id"), column("user_id"), column("strategy"), column("markets"), column("timeframe"),
    column("paper"), column("state"), column("error"), column("broker_connection_id"),
    column("created_at"), column("started_at"), column("stopped_at"),
)
trading_orders = table("trading_orders", column("id"), column("user_id"), column("created_at"))
trading_fills = table("trading_fills", column("id"), column("user_id"), column("executed_at"))
trading_broker_connections = table("trading_broker_connections", column("id"), column("user_id"))
billing_subscriptions = table(
    "billing_subscriptions", column("user_id"), column("plan"), column("status"), column("plan_override"),
    column("updated_at"),
)
risk_user_state = table(
    "risk_user_state",
    column("user_id"), column("trades_today"), column("realized_pnl_today"), column("open_positions"),
    column("exposure_usd"), column("reduce_only"), column("kill_switch"), column("kill_switch_reason"),
    column("updated_at"),
)

#: Bot states in which a bot is still doing (or about to do) work.
ACTIVE_BOT_STATES = ("running", "starting", "waiting")
