"""The global kill switch across three trading processes sharing one database and a real NATS.

Each process places orders through its own RiskEngine in a loop. The admin engages the switch;
once ``set`` returns (acknowledged), no process may have an order accepted: the number of
orders risk counted in the database must not move any more, while every process keeps trying
and is refused with ``kill_switch.global``. Latency is printed (``-s``), never asserted; the
20-trial measurement is ``benchmarks/killswitch.py``.
"""

from __future__ import annotations

import time

import pytest

from nija.core.db import Database
from nija.core.risk import GlobalKillSwitch
from risk_support import make_user, start_nats, start_workers, trades_counted


@pytest.fixture
async def nats_url(tmp_path):
    proc, url = await start_nats(tmp_path)
    yield url
    proc.terminate()
    await proc.wait()


async def test_no_order_is_accepted_after_the_global_kill_switch_is_acknowledged(database_url, nats_url):
    db = Database(database_url)
    admin = GlobalKillSwitch(db)
    await admin.start(nats_url)
    users = [await make_user(db) for _ in range(3)]
    workers = await start_workers(database_url, nats_url, users)
    try:
        for worker in workers:
            await worker.wait_for(lambda w: w.count("accepted") >= 5)

        t0 = time.time_ns()
        await admin.set(active=True, flatten=False, reason="test: stop everything", actor_id="admin-test")
        acknowledged = time.time_ns()
        counted_at_ack = await trades_counted(db, users)

        # Every process heard the control subject and keeps being refused.
        for worker in workers:
            await worker.wait_for(lambda w: w.count("flag", active=True) == 1)
            await worker.wait_for(lambda w: w.count("rejected", since=acknowledged, rule="kill_switch.global") >= 20)
        counted_later = await trades_counted(db, users)
    finally:
        for worker in workers:
            await worker.stop()
        await admin.set(active=False, flatten=False, reason="test over", actor_id="admin-test")
        await admin.stop()
        await db.close()

    assert counted_later == counted_at_ack, "an order was accepted after the kill switch was acknowledged"
    # What the processes saw agrees with what the database counted.
    accepted = sum(w.count("accepted") for w in workers)
    assert accepted == counted_at_ack
    assert all(w.count("error") == 0 for w in workers), [w.last("error") for w in workers]
    # Once a process has heard the switch, the only order it may still see accepted is the one
    # already in flight (past the in-memory check, committed before the acknowledgement).
    for worker in workers:
        flag_index = next(i for i, e in enumerate(worker.events) if e["event"] == "flag" and e["active"])
        assert sum(e["event"] == "accepted" for e in worker.events[flag_index:]) <= 1
    last_accept = max(w.last("accepted")["t"] for w in workers)
    heard = max(w.last("flag", active=True)["t"] for w in workers)
    print(f"\nkill switch: last accepted order {(last_accept - t0) / 1e6:.2f} ms after the admin call, "
          f"acknowledged after {(acknowledged - t0) / 1e6:.2f} ms, all 3 processes flagged after "
          f"{(heard - t0) / 1e6:.2f} ms")
