"""The broker contract every broker plugin implements.

A broker is one account at one venue (a paper account, or an exchange account reached through
an API key). Core builds one instance per account with a :class:`BrokerContext` and calls it
only through :mod:`nija.core.trading`; the plugin never sees the database, the app or a gRPC
context.

Version history
---------------
1. identity only (``name``, ``description``, ``capabilities``).
2. markets, balances, orders (place / cancel / fetch by venue id or client order id / open
   orders), fills since a time, order book, candles; error classes; capabilities as data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Mapping, Sequence

from nija.core.errors import FailedPrecondition, InvalidArgument, NijaError, NotFound, Unavailable

# ---------------------------------------------------------------------------------------------
# Errors a broker raises. Plugins translate their library's errors into these in ONE place;
# core decides what to do from the class alone (retry, resolve, stop, report).


class BrokerError(NijaError):
    """Base of every error a broker raises on purpose."""

    reason = "BROKER_ERROR"


class BrokerRetryable(BrokerError, Unavailable):
    """The venue is busy, rate-limited or unreachable and the request was certainly NOT applied
    (e.g. refused with 429 before processing). Retrying later is safe for any call."""

    reason = "BROKER_RETRYABLE"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BrokerOutcomeUnknown(BrokerError, Unavailable):
    """The request may or may not have been applied (timeout, dropped response, 5xx after
    sending). An order submit in this state is resolved by fetching by client order id —
    never by sending it again."""

    reason = "BROKER_OUTCOME_UNKNOWN"


class BrokerNeedsOperator(BrokerError, FailedPrecondition):
    """Human action is required: bad or revoked API key, missing permission, account banned
    (418), insufficient funds. Retrying will not help; the bot stops and says why."""

    reason = "BROKER_NEEDS_OPERATOR"


class BrokerBadRequest(BrokerError, InvalidArgument):
    """The venue refused this specific request (below minimum size, bad precision, post-only
    would take). The order is rejected; other orders may succeed."""

    reason = "BROKER_BAD_REQUEST"


class BrokerOrderNotFound(BrokerError, NotFound):
    """The venue has no order with that id (it never arrived, or is too old to query)."""

    reason = "BROKER_ORDER_NOT_FOUND"


class BrokerNotSupported(BrokerError, FailedPrecondition):
    """This broker or venue does not offer the operation (see ``capabilities``)."""

    reason = "BROKER_NOT_SUPPORTED"


# ---------------------------------------------------------------------------------------------
# Data exchanged with brokers: frozen, Decimal for money and quantities, UTC ms for time.

ORDER_TYPES = ("market", "limit", "stop_loss", "stop_limit")
#: Venue-side order statuses (ccxt's vocabulary): the broker reports these; core maps them.
VENUE_STATUSES = ("open", "closed", "canceled", "rejected", "expired")


@dataclass(frozen=True)
class MarketInfo:
    """A tradable market with the venue's precision and minimums."""

    symbol: str  # unified "BASE/QUOTE"
    base: str
    quote: str
    #: Smallest price increment (tick) and quantity increment (step); None when unknown.
    price_increment: Decimal | None = None
    amount_increment: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    active: bool = True


@dataclass(frozen=True)
class OrderSpec:
    """An order to place. ``client_order_id`` is made (and stored) by core before sending and
    is reused on every retry, so the venue can de-duplicate it."""

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # one of ORDER_TYPES
    amount: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True)
class VenueFill:
    """One execution. ``fill_id`` is the venue's trade id, unique per account."""

    fill_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    timestamp: int
    maker: bool = False


@dataclass(frozen=True)
class VenueOrder:
    """An order as the venue sees it."""

    order_id: str
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    amount: Decimal
    status: str  # one of VENUE_STATUSES
    filled: Decimal = Decimal(0)
    price: Decimal | None = None
    average: Decimal | None = None
    timestamp: int = 0
    #: Executions of this order known to the broker when it answered (may be empty; core then
    #: asks ``fetch_fills``).
    fills: tuple[VenueFill, ...] = ()


@dataclass(frozen=True)
class Candle:
    timestamp: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class OrderBook:
    symbol: str
    timestamp: int
    bids: tuple[tuple[Decimal, Decimal], ...]  # best first
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True)
class BrokerContext:
    """What core hands a broker: narrow and read-only.

    Attributes
    ----------
    account_key:
        Stable id of the venue account (``paper:<user>`` or a hash of the API key). Every bot
        trading through the same key shares one broker instance and one rate-limit budget.
    clock:
        A :class:`nija.core.clock.Clock`; brokers never read the system time directly.
    credentials:
        Decrypted keys (``api_key``, ``secret``, ``password``), only for live brokers.
    options:
        Broker-specific settings (``exchange``, ``urls``, starting balances…).
    market_data:
        For simulated brokers: an object with ``last_candle(symbol)`` / ``order_book(symbol)``.
    state:
        For simulated brokers: persisted balances (asset → Decimal) to start from.
    """

    account_key: str
    clock: Any
    credentials: Mapping[str, str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    market_data: Any = None
    state: Mapping[str, Any] = field(default_factory=dict)


class Broker(ABC):
    """One account at one venue.

    Every method is a coroutine. Methods that only read (markets, balances, fetches) are
    idempotent and may be retried; ``place_order`` is made idempotent by the client order id,
    ``cancel_order`` by being a no-op on an already-cancelled order.
    """

    #: Bumped when the contract grows; plugins declare the version they were written for.
    INTERFACE_VERSION: ClassVar[int] = 2
    #: Unique registry name, e.g. "paper" or "ccxt".
    name: ClassVar[str]
    #: One-line description for listings.
    description: ClassVar[str] = ""
    #: Capabilities as data, never ``if name == …``. Keys core understands:
    #: ``live`` (bool), ``order_types`` (list), ``post_only``/``reduce_only`` (bool),
    #: ``venue_stops`` (stop orders rest on the venue), ``permissions`` (the venue reports
    #: API-key permissions), ``in_process`` (the venue is simulated in this process: open
    #: orders are restored from core's records after a restart), ``rate_limit`` (requests/s),
    #: ``exchanges`` (venues reachable through this broker).
    capabilities: ClassVar[dict[str, object]] = {}

    def __init__(self, context: BrokerContext) -> None:
        self.context = context

    @abstractmethod
    async def load_markets(self) -> Mapping[str, MarketInfo]:
        """Markets by unified symbol (cached by the broker after the first call)."""

    @abstractmethod
    async def fetch_balance(self) -> Mapping[str, tuple[Decimal, Decimal]]:
        """Asset → (total, free)."""

    @abstractmethod
    async def place_order(self, spec: OrderSpec) -> VenueOrder:
        """Send ``spec``. Raises :class:`BrokerOutcomeUnknown` when the venue may have it."""

    @abstractmethod
    async def cancel_order(self, symbol: str, *, order_id: str | None = None,
                           client_order_id: str | None = None) -> VenueOrder:
        """Cancel; cancelling an order that is already final returns it unchanged."""

    @abstractmethod
    async def fetch_order(self, symbol: str, *, order_id: str | None = None,
                          client_order_id: str | None = None) -> VenueOrder:
        """One order by venue id or client order id; :class:`BrokerOrderNotFound` if unknown."""

    @abstractmethod
    async def fetch_open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        """Orders still open on the venue."""

    @abstractmethod
    async def fetch_fills(self, symbol: str, since: int) -> Sequence[VenueFill]:
        """Executions of this account in ``symbol`` at or after ``since`` (ms), oldest first."""

    async def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        """Order book snapshot (optional)."""
        raise BrokerNotSupported(f"{self.name} does not serve order books")

    async def fetch_candles(self, symbol: str, timeframe: str, since: int | None = None,
                            limit: int = 500) -> Sequence[Candle]:
        """OHLCV candles, oldest first (optional)."""
        raise BrokerNotSupported(f"{self.name} does not serve candles")

    async def check_credentials(self) -> Mapping[str, Any]:
        """A read-only call proving the keys work. Returns what the venue reports, including
        ``can_withdraw`` (bool or None when the venue does not say)."""
        await self.fetch_balance()
        return {"can_withdraw": None}

    async def on_market_data(self, symbol: str, candle: Candle) -> Sequence[VenueFill]:
        """Simulated venues match resting orders on new data; returns the resulting fills."""
        return ()

    async def restore_open_orders(self, orders: Sequence[VenueOrder]) -> None:
        """For ``in_process`` brokers: resting orders recorded by core before a restart."""

    async def close(self) -> None:
        """Release connections."""
