"""The plugin system: pluggy hook specifications and the manager that discovers plugins through
entry points (``nija.brokers``, ``nija.strategies``).

Built-in plugins are separate distributions found the same way as third-party ones; nothing in
core or services names a concrete broker or strategy.
"""

from nija.core.plugins._manager import ENTRY_POINT_GROUPS, PluginInfo, PluginManager, hookimpl
from nija.core.plugins.broker import (
    Broker,
    BrokerBadRequest,
    BrokerContext,
    BrokerError,
    BrokerNeedsOperator,
    BrokerNotSupported,
    BrokerOrderNotFound,
    BrokerOutcomeUnknown,
    BrokerRetryable,
    Candle,
    MarketInfo,
    OrderBook,
    OrderSpec,
    VenueFill,
    VenueOrder,
)
from nija.core.plugins.venue_urls import rebase_urls, venue_base_url

__all__ = [
    "Broker", "BrokerBadRequest", "BrokerContext", "BrokerError", "BrokerNeedsOperator", "BrokerNotSupported",
    "BrokerOrderNotFound", "BrokerOutcomeUnknown", "BrokerRetryable", "Candle", "ENTRY_POINT_GROUPS", "MarketInfo",
    "OrderBook", "OrderSpec", "PluginInfo", "PluginManager", "VenueFill", "VenueOrder", "hookimpl",
    "rebase_urls", "venue_base_url",
]
