"""Pre-trade risk: the one gate every order passes before any broker sees it.

The contract between the order path (trading) and the rules (risk):

- trading builds an :class:`OrderRequest` and calls ``await risk.pre_trade(conn, request)``
  **inside the same database transaction that records the order**, before the broker call;
- the risk engine raises :class:`RiskRejected` (naming the rule) or returns; it may lock and
  update per-user counters on ``conn`` so concurrent orders of one user cannot race past a limit;
- trading reports broker outcomes (``on_broker_result``) so consecutive-error rules can act.

:class:`RiskEngine` is the implementation (``Platform.risk``); its module docstring lists every
call the order path makes. :class:`GlobalKillSwitch` is the platform-wide stop.
"""

from nija.core.risk._engine import RiskEngine, RiskLimitView, RiskStateView
from nija.core.risk._interface import OrderRequest, PreTradeCheck, RiskRejected
from nija.core.risk._killswitch import SUBJECT as KILL_SWITCH_SUBJECT
from nija.core.risk._killswitch import GlobalKillSwitch, KillSwitchView
from nija.core.risk._rules import HardLimits, Usage, UserLimits, check_order

__all__ = [
    "GlobalKillSwitch",
    "HardLimits",
    "KILL_SWITCH_SUBJECT",
    "KillSwitchView",
    "OrderRequest",
    "PreTradeCheck",
    "RiskEngine",
    "RiskLimitView",
    "RiskRejected",
    "RiskStateView",
    "Usage",
    "UserLimits",
    "check_order",
]
