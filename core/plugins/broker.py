"""The broker contract every broker plugin implements.

This first version carries identity only; order placement, balances and market data arrive with
the trading work (adding optional methods, bumping ``INTERFACE_VERSION``).
"""

from __future__ import annotations

from abc import ABC
from typing import ClassVar


class Broker(ABC):
    #: Bumped when the contract grows; plugins declare the version they were written for.
    INTERFACE_VERSION: ClassVar[int] = 1
    #: Unique registry name, e.g. "paper" or "ccxt".
    name: ClassVar[str]
    #: One-line description for listings.
    description: ClassVar[str] = ""
    #: Capabilities as data (order types, venue-side stops, rate limits), never `if name == …`.
    capabilities: ClassVar[dict[str, object]] = {}
