"""Per-service RPC counters of this server process, for the admin metrics.

The interceptor counts every RPC it finishes; :func:`snapshot` reads them. Counters live in
memory: they start at zero with the process (a multi-process deployment sums them per replica
or scrapes Envoy's stats instead).
"""

from __future__ import annotations

import threading
from collections import defaultdict

import grpc

#: Codes that mean the server failed, as opposed to the client asking for something wrong.
SERVER_ERRORS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE,
     grpc.StatusCode.DATA_LOSS, grpc.StatusCode.DEADLINE_EXCEEDED}
)

_lock = threading.Lock()
_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # service → [requests, errors, rejected]


def _service(method: str) -> str:
    # "/nija.trading.v1.TradingService/PlaceOrder" → "nija.trading.v1.TradingService"
    return method.strip("/").split("/", 1)[0]


def count(method: str, code: grpc.StatusCode) -> None:
    """Record one finished RPC of ``method`` that ended with ``code``."""
    with _lock:
        row = _counts[_service(method)]
        row[0] += 1
        if code in SERVER_ERRORS:
            row[1] += 1
        elif code is not grpc.StatusCode.OK and code is not grpc.StatusCode.UNIMPLEMENTED:
            row[2] += 1


def snapshot() -> dict[str, tuple[int, int, int]]:
    """service → (requests, server errors, client errors) since the process started."""
    with _lock:
        return {name: (r[0], r[1], r[2]) for name, r in _counts.items()}
