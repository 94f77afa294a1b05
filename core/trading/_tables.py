"""Trading tables on the shared metadata (migration ``0200_trading``).

Money and quantities use :class:`Dec`: NUMERIC on PostgreSQL, text on SQLite (SQLite's NUMERIC
affinity stores a float and would round quantities; text keeps every digit).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from nija.core.db.models import metadata


class Dec(TypeDecorator):
    """A Decimal column: ``NUMERIC(38, 18)`` on PostgreSQL, exact text elsewhere."""

    impl = Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))
        return dialect.type_descriptor(String(60))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        # Canonical text (no exponent, no trailing zeros, "0" for any zero) so equality with a
        # bound Decimal works in SQL: ``quantity != 0`` compares "0" with "0".
        text = format(Decimal(value).normalize(), "f")
        return "0" if text in ("-0", "") else text

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value) if not isinstance(value, Decimal) else value


bots = Table(
    "trading_bots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("strategy", String(80), nullable=False),
    Column("params", JSON, nullable=False),
    Column("markets", JSON, nullable=False),
    Column("timeframe", String(10), nullable=False),
    # "paper" or the id of a broker connection (live).
    Column("broker_connection_id", String(36), nullable=True),
    Column("paper", Boolean, nullable=False),
    # running | stopped | error
    Column("state", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("stopped_at", BigInteger, nullable=True),
    # Timestamp of the last candle the bot acted on: a restart resumes after it.
    Column("cursor", BigInteger, nullable=True),
)

orders = Table(
    "trading_orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("bot_id", String(36), nullable=False, index=True),
    # Venue account (``paper:<user>`` or ``<broker>:<key hash>``): shared by bots on one key.
    Column("account_key", String(120), nullable=False),
    Column("broker", String(40), nullable=False),
    Column("broker_connection_id", String(36), nullable=True),
    # Made before sending, deterministic from (bot, signal): a retry or restart reuses it.
    Column("client_order_id", String(40), nullable=False),
    Column("signal_id", String(200), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(12), nullable=False),
    Column("amount", Dec, nullable=False),
    Column("price", Dec, nullable=True),
    Column("stop_price", Dec, nullable=True),
    Column("post_only", Boolean, nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    # new | submitted | accepted | partially_filled | filled | cancelled | rejected | expired
    Column("state", String(20), nullable=False, index=True),
    Column("venue_order_id", String(80), nullable=True),
    Column("filled", Dec, nullable=False),
    Column("average_price", Dec, nullable=True),
    Column("fee", Dec, nullable=False),
    # Why it was rejected/expired: the risk rule, the venue's message.
    Column("reason", Text, nullable=True),
    Column("flags", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("client_order_id", name="uq_trading_orders_client_order_id"),
    Index("ix_trading_orders_account_state", "account_key", "state"),
)

fills = Table(
    "trading_fills",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False, index=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("bot_id", String(36), nullable=False, index=True),
    Column("account_key", String(120), nullable=False),
    # The venue's trade id: a replayed fill (retry, reconciliation) is recorded once.
    Column("venue_fill_id", String(80), nullable=False),
    Column("client_order_id", String(40), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", Dec, nullable=False),
    Column("amount", Dec, nullable=False),
    Column("fee", Dec, nullable=False),
    Column("fee_asset", String(20), nullable=False),
    # Fee converted to the quote asset, and P&L this fill realised (quote asset).
    Column("fee_quote", Dec, nullable=False),
    Column("realized_pnl", Dec, nullable=False),
    Column("executed_at", BigInteger, nullable=False, index=True),
    UniqueConstraint("account_key", "venue_fill_id", name="uq_trading_fills_venue"),
)

positions = Table(
    "trading_positions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("bot_id", String(36), nullable=False),
    Column("symbol", String(40), nullable=False),
    # Signed: > 0 long, < 0 short.
    Column("quantity", Dec, nullable=False),
    Column("average_entry", Dec, nullable=False),
    Column("realized_pnl", Dec, nullable=False),
    Column("fees", Dec, nullable=False),
    Column("mark_price", Dec, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("bot_id", "symbol", name="uq_trading_positions_bot_symbol"),
)

paper_balances = Table(
    "trading_paper_balances",
    metadata,
    Column("account_key", String(120), primary_key=True),
    Column("asset", String(20), primary_key=True),
    Column("total", Dec, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Transactional outbox: events are written in the transaction of the change they describe and
# published after commit; whatever a crash left unpublished is sent on the next start.
events = Table(
    "trading_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("published_at", BigInteger, nullable=True, index=True),
)

broker_connections = Table(
    "trading_broker_connections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("broker", String(40), nullable=False),
    Column("exchange", String(40), nullable=False),
    Column("api_key_last4", String(4), nullable=False),
    # SHA-256 of exchange + api key: the account key bots on this key share.
    Column("key_fingerprint", String(64), nullable=False),
    # Fernet token of the JSON credentials; the plaintext is never stored.
    Column("secret", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
