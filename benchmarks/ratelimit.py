"""What the per-plan rate limit costs per API call (``make bench``).

Envoy asks NIJA's rate-limit service once per authenticated call; the service reads the
user's plan and counts the call in ``api_usage`` (one transaction, one atomic upsert, shared
by every process). Measured in the same run on a fresh SQLite database (and on PostgreSQL when
``NIJA_BENCH_DATABASE_URL`` is set), with peers:

- ``count_api_call``: the limiter's work for one call (read plan + count, one commit);
- ``entitlements read``: ``Billing.limits`` alone (what risk and trading pay per check);
- ``SELECT 1`` transaction: the floor of any database round trip on this box.

Prints median and p99 in ms and the ratio of the limiter to the floor.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid

from nija.core.billing import Billing, BillingConfig, count_api_call
from nija.core.db import Database, migrate
from nija.core.db.models import users

CALLS = int(os.environ.get("NIJA_BENCH_CALLS", "500"))


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(0.99 * (len(samples) - 1))]


async def bench(url: str) -> None:
    await migrate(url)
    # A window longer than the run: every call is counted, none is refused early.
    billing = Billing(Database(url), BillingConfig(rate_window_s=3600))
    user_id = str(uuid.uuid4())
    async with billing.db.transaction() as conn:
        await conn.execute(users.insert().values(id=user_id, email=f"bench-{user_id[:8]}@example.com", password_hash="-",
                                                 roles="user", created_at=int(time.time() * 1000), disabled=False))
    rows = []
    for name, fn in (("count_api_call (limiter)", lambda: count_api_call(billing, user_id)),
                     ("entitlements read", lambda: billing.limits(user_id)),
                     ("SELECT 1 transaction (floor)", billing.db.ping)):
        for _ in range(20):
            await fn()
        samples = []
        for _ in range(CALLS):
            start = time.perf_counter()
            await fn()
            samples.append((time.perf_counter() - start) * 1000)
        rows.append((name, statistics.median(samples), p99(samples)))
    print(f"{CALLS} sequential calls, {url.split(':')[0]}")
    print(f"{'operation':<32}{'p50 ms':>10}{'p99 ms':>10}")
    for name, p50, tail in rows:
        print(f"{name:<32}{p50:>10.3f}{tail:>10.3f}")
    print(f"{'ratio limiter / floor':<32}{rows[0][1] / rows[2][1]:>10.2f}{rows[0][2] / rows[2][2]:>10.2f}")
    await billing.db.close()


def main() -> int:
    asyncio.run(bench(f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='nija-bench-')}/nija.db"))
    if os.environ.get("NIJA_BENCH_DATABASE_URL"):
        asyncio.run(bench(os.environ["NIJA_BENCH_DATABASE_URL"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
