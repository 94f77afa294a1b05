"""NIJA's paper broker: simulated fills against market data, per-user balances.

Registered under the ``nija.brokers`` entry-point group like any third-party broker. The fill
model arrives with the trading work; this release proves discovery.
"""

from __future__ import annotations

from nija.core.plugins import Broker, hookimpl


class PaperBroker(Broker):
    name = "paper"
    description = "Simulated trading with virtual balances (no exchange account needed)"
    capabilities = {"live": False, "order_types": ["market", "limit"]}


@hookimpl
def register_brokers() -> list[type[Broker]]:
    return [PaperBroker]
