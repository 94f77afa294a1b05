"""One rate-limit budget per exchange account (API key), shared by every broker instance and
therefore by every bot trading through that key.

A token bucket refilled at the venue's documented rate; a 429/418 answer pauses the whole
budget for the venue's Retry-After, so no bot keeps hammering a venue that asked us to wait
(Binance bans an IP that ignores it).
"""

from __future__ import annotations

import asyncio
import time


class Budget:
    def __init__(self, rate_per_s: float, burst: int | None = None) -> None:
        self.rate = rate_per_s
        self.capacity = float(burst or max(1, int(rate_per_s)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self.paused_until:
                    await asyncio.sleep(self.paused_until - now)
                    continue
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


_BUDGETS: dict[str, Budget] = {}


def budget_for(account_key: str, rate_per_s: float) -> Budget:
    """The shared budget of ``account_key`` (created on first use)."""
    budget = _BUDGETS.get(account_key)
    if budget is None:
        budget = _BUDGETS[account_key] = Budget(rate_per_s)
    return budget
