"""Risk's own tables: per-user counters, per-bot error streaks and the global kill switch.

Counters are changed only inside the order's transaction with the user's row locked
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so they never race.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, Numeric, String, Table

from nija.core.db.models import metadata

risk_user_state = Table(
    "risk_user_state",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    # UTC day number (epoch ms // 86_400_000) the daily counters belong to.
    Column("day", Integer, nullable=False),
    Column("trades_today", Integer, nullable=False),
    Column("realized_pnl_today", Numeric(28, 8), nullable=False),
    # Equity seen by the first order of the day: the base of the daily-loss rules.
    Column("day_start_equity", Numeric(28, 8), nullable=True),
    Column("open_positions", Integer, nullable=False),
    # Sum of the USD notional of open positions (the total exposure cap).
    Column("exposure_usd", Numeric(28, 8), nullable=False),
    Column("peak_equity", Numeric(28, 8), nullable=True),
    Column("last_equity", Numeric(28, 8), nullable=True),
    Column("reduce_only", Boolean, nullable=False),
    Column("kill_switch", Boolean, nullable=False),
    Column("kill_switch_by", String(36), nullable=True),
    Column("kill_switch_reason", String(500), nullable=True),
    Column("kill_switch_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

risk_bot_state = Table(
    "risk_bot_state",
    metadata,
    Column("bot_id", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("consecutive_errors", Integer, nullable=False),
    # Set by the 5th consecutive broker error; cleared when the bot is re-enabled.
    Column("disabled_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# One row, id "global". The source of truth for the global kill switch at start-up.
risk_kill_switch = Table(
    "risk_kill_switch",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("flatten", Boolean, nullable=False),
    Column("changed_by", String(36), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("changed_at", BigInteger, nullable=False),
)
