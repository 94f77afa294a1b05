"""Global kill-switch latency across three trading processes (run by ``make bench``).

Three worker processes (``tests/risk/killswitch_worker.py``) place paper orders through their
own RiskEngine against one database (a SQLite file, or PostgreSQL when ``NIJA_BENCH_DATABASE_URL``
or ``NIJA_TEST_DATABASE_URL`` is set) and a real nats-server from the venv. Each of 20 trials
engages the switch as an admin and measures, from the start of the admin call:

- last order accepted — the latest commit of an order any process had accepted;
- all processes halted — the last of the three in-memory flags flipped by ``nija.control.killswitch``;
- acknowledged — the admin call returned (persisted, audited, announced);

then clears it and lets the bots trade again. The peer, measured in the same run, is a raw NATS
publish → receive between two connections of this process. Prints p50 / max of each and the
ratio to the peer's p50. Also checks that no order was counted after an acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from risk_support import make_user, start_nats, start_workers, trades_counted  # noqa: E402

from nija.core.db import Database, migrate  # noqa: E402
from nija.core.risk import GlobalKillSwitch  # noqa: E402

TRIALS = int(os.environ.get("NIJA_BENCH_TRIALS", "20"))


async def nats_round_trips(url: str, n: int) -> list[float]:
    import nats

    pub, sub = await nats.connect(url), await nats.connect(url)
    got: asyncio.Queue[int] = asyncio.Queue()

    async def received(_msg) -> None:
        got.put_nowait(time.time_ns())

    await sub.subscribe("bench.peer", cb=received)
    await sub.flush()
    times = []
    for _ in range(n):
        t0 = time.time_ns()
        await pub.publish("bench.peer", b"x")
        await pub.flush()
        times.append((await got.get() - t0) / 1e6)
        await asyncio.sleep(0.05)
    await pub.close()
    await sub.close()
    return times


def row(name: str, values: list[float], peer: float) -> str:
    p50, worst = statistics.median(values), max(values)
    return f"{name:<26} {p50:>9.2f} {worst:>9.2f} {p50 / peer:>10.1f}x"


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="nija-bench-ks-"))
    url = os.environ.get("NIJA_BENCH_DATABASE_URL") or os.environ.get("NIJA_TEST_DATABASE_URL") or \
        f"sqlite+aiosqlite:///{tmp / 'nija.db'}"
    await migrate(url)
    nats_proc, nats_url = await start_nats(tmp)
    db = Database(url)
    admin = GlobalKillSwitch(db)
    await admin.start(nats_url)
    if admin.current.active:
        await admin.set(active=False, flatten=False, reason="benchmark start", actor_id="bench")
    users = [await make_user(db) for _ in range(3)]
    workers = await start_workers(url, nats_url, users)
    stop_last, halted, acked, violations = [], [], [], 0
    try:
        for trial in range(TRIALS):
            marks = [w.count("accepted") for w in workers]
            for w, mark in zip(workers, marks):
                await w.wait_for(lambda w, m=mark: w.count("accepted") >= m + 3)
            t0 = time.time_ns()
            await admin.set(active=True, flatten=False, reason=f"benchmark trial {trial}", actor_id="bench")
            t_ack = time.time_ns()
            counted = await trades_counted(db, users)
            for w in workers:
                await w.wait_for(lambda w, n=trial + 1: w.count("flag", active=True) == n)
                await w.wait_for(lambda w, t=t_ack: w.count("rejected", since=t, rule="kill_switch.global") >= 3)
            violations += (await trades_counted(db, users)) != counted
            acked.append((t_ack - t0) / 1e6)
            halted.append((max(w.last("flag", active=True)["t"] for w in workers) - t0) / 1e6)
            stop_last.append((max(w.last("accepted")["t"] for w in workers) - t0) / 1e6)
            await admin.set(active=False, flatten=False, reason="benchmark trial over", actor_id="bench")
            for w in workers:
                await w.wait_for(lambda w, n=trial + 1: w.count("flag", active=False) >= n)
        peer = await nats_round_trips(nats_url, TRIALS)
    finally:
        for w in workers:
            await w.stop()
        await admin.stop()
        await db.close()
        nats_proc.terminate()
        await nats_proc.wait()

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    peer_p50 = statistics.median(peer)
    print(f"global kill switch, 3 trading processes, {backend}, {TRIALS} trials (ms from the admin call)")
    print(f"{'':<26} {'p50':>9} {'max':>9} {'/ peer p50':>11}")
    print(row("last order accepted", stop_last, peer_p50))
    print(row("all processes halted", halted, peer_p50))
    print(row("acknowledged", acked, peer_p50))
    print(row("peer: NATS pub->recv", peer, peer_p50))
    print(f"orders counted after an acknowledgement: {violations} trial(s)")
    if violations:
        raise SystemExit(1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)  # the switch warns on every change: 40 lines of noise
    asyncio.run(main())
