"""Trading: bots, the order lifecycle, fills, positions and P&L, events.

- :class:`OrderManager` — write-ahead order path (risk gate, broker call, state machine,
  idempotent fills, positions, outbox events) and settlement of unknown outcomes;
- :class:`Reconciler` — start-up reconciliation of an account against its venue;
- :class:`TradingEngine` — bots over a market data feed (:func:`open_feed`: replay or live ccxt),
  accounts and brokers per user;
- :class:`CredentialVault` — exchange keys encrypted with MultiFernet.
"""

from nija.core.trading._events import EventRelay, EventWriter
from nija.core.trading._marketdata import MarketFeed, ReplayFeed, open_feed
from nija.core.trading._model import (
    FINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderIntent,
    OrderState,
    check_transition,
    client_order_id,
    state_from_venue,
)
from nija.core.trading._orders import Account, OrderManager
from nija.core.trading._risk_default import AllowAll

__all__ = [
    "Account",
    "AllowAll",
    "EventRelay",
    "EventWriter",
    "FINAL_STATES",
    "IllegalTransition",
    "OrderIntent",
    "OrderManager",
    "OrderState",
    "MarketFeed",
    "ReplayFeed",
    "open_feed",
    "TRANSITIONS",
    "check_transition",
    "client_order_id",
    "state_from_venue",
]
