"""Trading: bots, orders (write-ahead), fills, positions, paper balances, the event outbox and
encrypted broker connections.

Revision ID: 0200_trading
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0200_trading"
down_revision = "0001"
branch_labels = None
depends_on = None


def _dec():
    # NUMERIC on PostgreSQL; exact text on SQLite (its NUMERIC affinity would store a float).
    return sa.String(60).with_variant(sa.Numeric(38, 18), "postgresql")


def upgrade() -> None:
    op.create_table(
        "trading_bots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("strategy", sa.String(80), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("markets", sa.JSON, nullable=False),
        sa.Column("timeframe", sa.String(10), nullable=False),
        sa.Column("broker_connection_id", sa.String(36), nullable=True),
        sa.Column("paper", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("stopped_at", sa.BigInteger, nullable=True),
        sa.Column("cursor", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "trading_orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("bot_id", sa.String(36), nullable=False, index=True),
        sa.Column("account_key", sa.String(120), nullable=False),
        sa.Column("broker", sa.String(40), nullable=False),
        sa.Column("broker_connection_id", sa.String(36), nullable=True),
        sa.Column("client_order_id", sa.String(40), nullable=False),
        sa.Column("signal_id", sa.String(200), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("type", sa.String(12), nullable=False),
        sa.Column("amount", _dec(), nullable=False),
        sa.Column("price", _dec(), nullable=True),
        sa.Column("stop_price", _dec(), nullable=True),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("venue_order_id", sa.String(80), nullable=True),
        sa.Column("filled", _dec(), nullable=False),
        sa.Column("average_price", _dec(), nullable=True),
        sa.Column("fee", _dec(), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("flags", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("client_order_id", name="uq_trading_orders_client_order_id"),
    )
    op.create_index("ix_trading_orders_account_state", "trading_orders", ["account_key", "state"])
    op.create_table(
        "trading_fills",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(36), nullable=False, index=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("bot_id", sa.String(36), nullable=False, index=True),
        sa.Column("account_key", sa.String(120), nullable=False),
        sa.Column("venue_fill_id", sa.String(80), nullable=False),
        sa.Column("client_order_id", sa.String(40), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("price", _dec(), nullable=False),
        sa.Column("amount", _dec(), nullable=False),
        sa.Column("fee", _dec(), nullable=False),
        sa.Column("fee_asset", sa.String(20), nullable=False),
        sa.Column("fee_quote", _dec(), nullable=False),
        sa.Column("realized_pnl", _dec(), nullable=False),
        sa.Column("executed_at", sa.BigInteger, nullable=False, index=True),
        sa.UniqueConstraint("account_key", "venue_fill_id", name="uq_trading_fills_venue"),
    )
    op.create_table(
        "trading_positions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("quantity", _dec(), nullable=False),
        sa.Column("average_entry", _dec(), nullable=False),
        sa.Column("realized_pnl", _dec(), nullable=False),
        sa.Column("fees", _dec(), nullable=False),
        sa.Column("mark_price", _dec(), nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("bot_id", "symbol", name="uq_trading_positions_bot_symbol"),
    )
    op.create_table(
        "trading_paper_balances",
        sa.Column("account_key", sa.String(120), primary_key=True),
        sa.Column("asset", sa.String(20), primary_key=True),
        sa.Column("total", _dec(), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trading_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("published_at", sa.BigInteger, nullable=True, index=True),
    )
    op.create_table(
        "trading_broker_connections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("broker", sa.String(40), nullable=False),
        sa.Column("exchange", sa.String(40), nullable=False),
        sa.Column("api_key_last4", sa.String(4), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("trading_broker_connections", "trading_events", "trading_paper_balances", "trading_positions",
                 "trading_fills", "trading_orders", "trading_bots"):
        op.drop_table(name)
