"""Billing tables on the shared metadata. Times are UTC milliseconds."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from nija.core.db.models import metadata

#: One row per user who ever paid, was assigned a plan or called the API through the edge.
#: No row means: a trial from the account's creation, then Free.
billing_subscriptions = Table(
    "billing_subscriptions",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    # The plan paid for (free|basic|pro|enterprise); what is *in force* is derived (see _state).
    Column("plan", String(20), nullable=False),
    Column("interval", String(10), nullable=True),
    # active | trialing | past_due | canceled | none (no paid subscription yet)
    Column("status", String(20), nullable=False),
    Column("stripe_customer_id", String(255), nullable=True, unique=True),
    Column("stripe_subscription_id", String(255), nullable=True, unique=True),
    Column("current_period_end", BigInteger, nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    # While past_due, the paid plan stays in force until this moment; Free afterwards.
    Column("grace_until", BigInteger, nullable=True),
    # A plan an admin forced (offline mode, support); wins over everything else.
    Column("plan_override", String(20), nullable=True),
    # `created` (ms) of the newest Stripe event applied: older events never move the state back.
    Column("last_event_at", BigInteger, nullable=False, default=0),
    Column("updated_at", BigInteger, nullable=False),
)

#: Every Stripe event id ever received: a replay is recognised and changes nothing.
billing_events = Table(
    "billing_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("user_id", String(36), nullable=True, index=True),
    # applied | stale (older than the state) | ignored (not ours / not handled)
    Column("outcome", String(20), nullable=False),
)

#: API calls per user, shared by every process (the rate-limit service counts here).
#: The minute window is anchored at the first call after the previous window ended.
api_usage = Table(
    "api_usage",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("window_count", Integer, nullable=False),
    # UTC day number (ms // 86_400_000) and the calls counted on it.
    Column("day", BigInteger, nullable=False),
    Column("day_count", Integer, nullable=False),
)
