"""Risk: per-user counters, per-bot broker-error streaks, the global kill switch.

Revision ID: 0300_risk
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0300_risk"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_user_state",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("trades_today", sa.Integer, nullable=False),
        sa.Column("realized_pnl_today", sa.Numeric(28, 8), nullable=False),
        sa.Column("day_start_equity", sa.Numeric(28, 8), nullable=True),
        sa.Column("open_positions", sa.Integer, nullable=False),
        sa.Column("exposure_usd", sa.Numeric(28, 8), nullable=False),
        sa.Column("peak_equity", sa.Numeric(28, 8), nullable=True),
        sa.Column("last_equity", sa.Numeric(28, 8), nullable=True),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("kill_switch", sa.Boolean, nullable=False),
        sa.Column("kill_switch_by", sa.String(36), nullable=True),
        sa.Column("kill_switch_reason", sa.String(500), nullable=True),
        sa.Column("kill_switch_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "risk_bot_state",
        sa.Column("bot_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("consecutive_errors", sa.Integer, nullable=False),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_risk_bot_state_user_id", "risk_bot_state", ["user_id"])
    op.create_table(
        "risk_kill_switch",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("flatten", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
    )
    # The row exists from the start so every order can lock it FOR SHARE.
    op.bulk_insert(
        sa.table(
            "risk_kill_switch",
            sa.column("id", sa.String), sa.column("active", sa.Boolean), sa.column("flatten", sa.Boolean),
            sa.column("changed_at", sa.BigInteger),
        ),
        [{"id": "global", "active": False, "flatten": False, "changed_at": 0}],
    )


def downgrade() -> None:
    op.drop_table("risk_kill_switch")
    op.drop_index("ix_risk_bot_state_user_id", table_name="risk_bot_state")
    op.drop_table("risk_bot_state")
    op.drop_table("risk_user_state")
