"""The schema. Times are UTC integer milliseconds; money is NUMERIC (``Decimal`` in Python)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    # Comma-separated role names ("user", "user,admin").
    Column("roles", String(200), nullable=False, default="user"),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("deleted_at", BigInteger, nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("family_id", String(36), nullable=False, index=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    # SHA-256 of the opaque token; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    # Set when this token was exchanged for a new one; a second use is a replay.
    Column("used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)

auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "account:<email>" or "ip:<address>"
    Column("key", String(400), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_auth_failures_key_at", "key", "at"),
)

user_settings = Table(
    "user_settings",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("max_position_size", Numeric(20, 8), nullable=False),
    Column("max_concurrent_positions", Integer, nullable=False),
    Column("max_daily_loss_pct", Numeric(7, 4), nullable=False),
    Column("risk_level", String(10), nullable=False),
    Column("allowed_pairs", JSON, nullable=False),
    Column("notifications_enabled", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Added by migration 0301_risk_settings; NULL reads as 0 (no USD cap).
    Column("max_daily_loss_usd", Numeric(20, 8), nullable=True),
)

# Messages for users (password reset links…) waiting for a delivery channel.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(36), nullable=True, index=True),
    Column("channel", String(20), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
)

# Append-only: the migration installs triggers that reject UPDATE and DELETE.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(36), nullable=True, index=True),
    Column("actor_id", String(36), nullable=True),
    Column("action", String(80), nullable=False, index=True),
    Column("at", BigInteger, nullable=False, index=True),
    Column("client_ip", String(64), nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text, nullable=True),
)
