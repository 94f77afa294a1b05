"""Billing: subscriptions, processed Stripe events, API usage counters.

Revision ID: 0100_billing
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0100_billing"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_subscriptions",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("plan", sa.String(20), nullable=False),
        sa.Column("interval", sa.String(10), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(255), nullable=True),
        sa.Column("current_period_end", sa.BigInteger, nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("grace_until", sa.BigInteger, nullable=True),
        sa.Column("plan_override", sa.String(20), nullable=True),
        sa.Column("last_event_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("stripe_customer_id", name="uq_billing_subscriptions_stripe_customer_id"),
        sa.UniqueConstraint("stripe_subscription_id", name="uq_billing_subscriptions_stripe_subscription_id"),
    )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
    )
    op.create_index("ix_billing_events_user_id", "billing_events", ["user_id"])
    op.create_table(
        "api_usage",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("window_count", sa.Integer, nullable=False),
        sa.Column("day", sa.BigInteger, nullable=False),
        sa.Column("day_count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("api_usage", "billing_events", "billing_subscriptions"):
        op.drop_table(table)
