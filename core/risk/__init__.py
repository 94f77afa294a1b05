"""Pre-trade risk: the one gate every order passes before any broker sees it.

The contract between the order path (trading) and the rules (risk):

- trading builds an :class:`OrderRequest` and calls ``await risk.pre_trade(conn, request)``
  **inside the same database transaction that records the order**, before the broker call;
- the risk engine raises :class:`RiskRejected` (naming the rule) or returns; it may lock and
  update per-user counters on ``conn`` so concurrent orders of one user cannot race past a limit;
- trading reports broker outcomes (``on_broker_result``) so consecutive-error rules can act.
"""

from nija.core.risk._interface import OrderRequest, PreTradeCheck, RiskRejected

__all__ = ["OrderRequest", "PreTradeCheck", "RiskRejected"]
