"""Trading benchmarks.

1. Order path, in process: signal → sizing (portfolio.quantity_for_fraction) → risk (the
   real RiskEngine and billing's entitlements, in the order's transaction) → write-ahead →
   paper broker → paper fill on the next candle → fill, position and balances persisted →
   events published to NATS JetStream. p50/p99 per signal on SQLite and (when NIJA_BENCH_PG_URL or
   NIJA_TEST_DATABASE_URL is set) PostgreSQL, two clocks per signal:

   - "outbox": until every row of the signal (order, fill, position, balances, risk counters and
     the events in the outbox) is committed. The order path returns here: its events are
     published by the relay's background publisher (durable in the outbox, re-sent after a
     crash), so this is the latency a bot sees.
   - "acked": until JetStream acknowledged every event of the signal (the benchmark waits for
     the background publisher after each signal).

   CPU is the process's CPU time per signal (all threads), which says how much of the wall
   time is this process's own work on a shared machine. Peer measured in the same run on the
   same database and bus: one bare "INSERT one row; COMMIT" transaction plus one JetStream
   publish (acked). On PostgreSQL also: the round trips one signal makes, and the floor of any
   signal's two units on this server, measured on asyncpg itself with no application work:
   two transactions of BEGIN, a locked SELECT, an INSERT and COMMIT (8 round trips).
2. 1,000 paper bots (one per user) in one process on replayed 5-minute candles at full speed:
   bot-candles per second and resident memory. Peer: the same strategy over the same candles
   through the Scanner alone (no orders, no database).

    python benchmarks/trading.py [--signals 500] [--bots 1000] [--ticks 200] [--orders-only | --bots-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "ohlcv"
sys.path.insert(0, str(ROOT / "tests"))


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def nats_url() -> tuple[str, subprocess.Popen | None]:
    import nats

    try:
        nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=1, max_reconnect_attempts=0)
        js = nc.jetstream()
        await js.account_info()
        await nc.close()
        return "nats://127.0.0.1:4222", None
    except Exception:  # noqa: BLE001 - no machine NATS with JetStream: start one from the venv
        from helpers import free_port

        port = free_port()
        store = tempfile.mkdtemp(prefix="nija-bench-nats-")
        proc = subprocess.Popen([str(Path(sys.executable).with_name("nats-server")), "-a", "127.0.0.1", "-p", str(port),
                                 "-js", "-sd", store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(0.5)
        return f"nats://127.0.0.1:{port}", proc


def lift_hard_daily_cap() -> None:
    """The benchmark measures the checks, not their refusals: the operator's hard daily trade
    cap is lifted through its documented NIJA_RISK_MAX_TRADES_PER_DAY."""
    os.environ.setdefault("NIJA_RISK_MAX_TRADES_PER_DAY", str(10**9))


def unlimited():
    """A plan without trade-count limits (and no hard daily cap: lift_hard_daily_cap)."""
    lift_hard_daily_cap()
    from nija.core.entitlements import PlanLimits, StaticEntitlements

    return StaticEntitlements(PlanLimits(plan="bench", live_trading=True, max_exchanges=None, max_position_usd=None,
                                         max_positions=10**6, max_trades_per_day=10**9, api_calls_per_minute=10**6))


async def make_user(db) -> str:
    from nija.core.db.models import users

    uid = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(users.insert().values(id=uid, email=f"{uid}@bench.invalid", password_hash="x", roles="user",
                                                 created_at=0, disabled=False))
    return uid


async def order_path(url: str, bus, signals: int) -> dict:
    from sqlalchemy import text, update

    from nija.core.billing import Billing, BillingConfig
    from nija.core.clock import SystemClock
    from nija.core.db import Database, migrate
    from nija.core.portfolio import quantity_for_fraction
    from nija.core.risk import RiskEngine
    from nija.core.trading import EventRelay, OrderIntent, OrderManager, ReplayFeed

    await migrate(url)
    db = Database(url)
    clock = SystemClock()
    feed = ReplayFeed(DATA)
    series = feed.series("ETH/BTC", "5m")
    feed.now_ms = int(series.times[300])
    user = await make_user(db)
    # The platform's entitlements: billing (offline), the user on the Enterprise plan, read in
    # each order's transaction as in production.
    lift_hard_daily_cap()  # the plan's cap still applies
    billing = Billing(db, BillingConfig(), clock=clock)
    await billing.assign_plan("bench", user, "enterprise")
    risk = RiskEngine(db, entitlements=billing, clock=clock)
    relay = EventRelay(db, bus, clock)
    manager = OrderManager(db, clock, risk, relay, usd_price=feed.usd_price)
    from nija.core.plugins import PluginManager
    from nija.core.trading._engine import TradingEngine

    engine = TradingEngine(db, clock, PluginManager().load_entry_points(), manager, feed)
    account = await engine.account_for(user, True, None)  # persists the starting balances
    if not os.environ.get("NIJA_BENCH_NO_FREEZE"):
        from nija.core.runtime import freeze_startup_heap

        freeze_startup_heap()  # what a serving process does once it is ready (services/launcher.py)
    bot = str(uuid.uuid4())
    samples, acked = [], []
    cpu = 0.0
    i = feed.index_at("ETH/BTC", "5m", feed.now_ms)
    qty = Decimal(0)

    async def one_signal(n: int) -> tuple[float, float]:
        nonlocal i, qty
        last = series.candle(i)
        side = "buy" if n % 2 == 0 else "sell"
        t0 = time.perf_counter()
        if side == "buy":
            _, free = (await account.broker.fetch_balance())["BTC"]
            qty = quantity_for_fraction(equity=free, fraction=Decimal("0.064"), price=last.close, cash=free,
                                        cost_bps=Decimal(30), step=Decimal("0.0001"))
        intent = OrderIntent(user_id=user, bot_id=bot, signal_id=f"ETH/BTC:5m:{last.timestamp}:{side}", symbol="ETH/BTC",
                             side=side, type="market", amount=qty, reduce_only=side == "sell", reference_price=last.close)
        await manager.submit(intent, account)
        i += 1
        feed.now_ms = int(series.times[i])
        new = await account.broker.on_market_data("ETH/BTC", series.candle(i))
        await manager.ingest_fills(account, new)
        elapsed = time.perf_counter() - t0
        await relay.drain()  # every event of this signal acknowledged by JetStream
        assert new, "every signal is filled on the next candle"
        return elapsed, time.perf_counter() - t0

    async def new_trading_day() -> None:
        """The plan's cap counts today's trades (500 on Enterprise): start a new day's count,
        between signals, so a long run never meets it."""
        from nija.core.risk._tables import risk_user_state

        async with db.transaction() as conn:
            await conn.execute(update(risk_user_state).where(risk_user_state.c.user_id == user).values(trades_today=0))

    for n in range(signals + 20):
        if n % 400 == 399:
            await new_trading_day()
        c0 = time.process_time()
        elapsed, to_ack = await one_signal(n)
        if n >= 20:  # warm-up excluded
            samples.append(elapsed * 1000)
            acked.append(to_ack * 1000)
            cpu += time.process_time() - c0
    trips = None
    if db.is_postgresql:  # counted apart from the timed signals (the counting costs a little)
        from helpers import asyncpg_trips

        with asyncpg_trips() as sent:
            await new_trading_day()
            for n in range(signals + 20, signals + 40):
                await one_signal(n)
        trips = len(sent) / 20
    # Peer: the floor of "persisted and published" on this database and bus.
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_peer (id VARCHAR(36) PRIMARY KEY, v VARCHAR(40))"))
    peer = []
    for _ in range(signals):
        t0 = time.perf_counter()
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO bench_peer (id, v) VALUES (:i, :v)"), {"i": str(uuid.uuid4()), "v": "1"})
        if bus is not None:
            await bus.publish(f"nija.user.{user}.bench", b"x", event_id=uuid.uuid4().hex)
        peer.append((time.perf_counter() - t0) * 1000)
    async with db.transaction() as conn:
        await conn.execute(text("DROP TABLE bench_peer"))
    await db.close()
    floor = await asyncpg_floor(url, signals) if db.is_postgresql else None
    return {"p50": pct(samples, 0.5), "p99": pct(samples, 0.99), "ack_p50": pct(acked, 0.5),
            "ack_p99": pct(acked, 0.99), "cpu": cpu * 1000 / signals,
            "peer_p50": pct(peer, 0.5), "peer_p99": pct(peer, 0.99), "trips": trips, "floor": floor}


async def asyncpg_floor(url: str, signals: int) -> dict:
    """The least two units can cost on this server: asyncpg alone, prepared statements, relaxed
    commits, no application work; per sample two transactions of BEGIN, SELECT … FOR UPDATE,
    INSERT, COMMIT (the shape of a signal's write-ahead and fill units, 8 round trips)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(user=u.username, password=u.password, host=u.host, port=u.port, database=u.database)
    try:
        await conn.execute("CREATE TABLE bench_floor (id VARCHAR(36) PRIMARY KEY, v INTEGER)")
        await conn.execute("INSERT INTO bench_floor VALUES ('account', 0)")
        locked = await conn.prepare("SELECT v FROM bench_floor WHERE id = $1 FOR UPDATE")
        insert = await conn.prepare("INSERT INTO bench_floor VALUES ($1, $2)")
        samples = []
        for n in range(signals + 20):
            t0 = time.perf_counter()
            for _ in range(2):
                await conn.execute("BEGIN")
                await locked.fetch("account")
                await insert.fetch(str(uuid.uuid4()), n)
                await conn.execute("SET LOCAL synchronous_commit TO OFF; COMMIT")
            if n >= 20:
                samples.append((time.perf_counter() - t0) * 1000)
        await conn.execute("DROP TABLE bench_floor")
    finally:
        await conn.close()
    return {"p50": pct(samples, 0.5), "p99": pct(samples, 0.99)}


async def many_bots(n_bots: int, ticks: int) -> dict:
    import numpy as np

    from nija.core.clock import SystemClock
    from nija.core.db import Database, migrate
    from nija.core.plugins import PluginManager
    from nija.core.risk import RiskEngine
    from nija.core.strategies import Scanner
    from nija.core.trading import EventRelay, OrderManager, ReplayFeed
    from nija.core.trading._engine import TradingEngine

    tmp = Path(tempfile.mkdtemp(prefix="nija-bench-bots-"))
    url = f"sqlite+aiosqlite:///{tmp / 'nija.db'}"
    await migrate(url)
    db = Database(url)
    clock = SystemClock()
    feed = ReplayFeed(DATA)
    plugins = PluginManager().load_entry_points()
    risk = RiskEngine(db, entitlements=unlimited(), clock=clock)
    orders = OrderManager(db, clock, risk, EventRelay(db, None, clock), usd_price=feed.usd_price)
    from types import SimpleNamespace

    async def settings(user_id):  # the default user settings: positions up to 100 USD
        return SimpleNamespace(max_position_size=Decimal(100))

    engine = TradingEngine(db, clock, plugins, orders, feed, settings=settings)
    markets = ["ETH/BTC", "LTC/BTC", "ADA/BTC", "XLM/BTC", "ETC/BTC", "TRX/BTC", "DASH/BTC", "NXT/BTC"]
    feed.now_ms = max(int(feed.series(m, "5m").times[0]) for m in markets) + 300 * 300_000
    rss0 = rss_mb()
    t0 = time.perf_counter()
    for k in range(n_bots):
        user = await make_user(db)
        await engine.start_bot(user_id=user, strategy="apex", params={"trend_filter": "false"},
                               markets=[markets[k % len(markets)]], timeframe="5m", paper=True)
    started = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(ticks):
        await engine.step()
    elapsed = time.perf_counter() - t0
    bot_candles = sum(b.ticks for b in engine.running().values())
    async with db.transaction() as conn:
        from sqlalchemy import func, select

        from nija.core.trading._tables import fills as fills_t
        from nija.core.trading._tables import orders as orders_t

        n_orders = (await conn.execute(select(func.count()).select_from(orders_t))).scalar()
        n_fills = (await conn.execute(select(func.count()).select_from(fills_t))).scalar()
    rss1 = rss_mb()
    # Peer: the same strategy over the same candles through the Scanner only.
    strategy_cls = next(p.cls for p in plugins.strategies() if p.name == "apex")
    scanners = []
    for k in range(n_bots):
        m = markets[k % len(markets)]
        s = feed.series(m, "5m")
        end = feed.index_at(m, "5m", feed.now_ms - ticks * 300_000)
        sc = Scanner(strategy_cls(trend_filter="false"), [m], bot_id=str(k))
        sc.seed({f: s.ohlcv[j:j + 1, end - 300:end] for j, f in enumerate(("open", "high", "low", "close", "volume"))},
                s.times[end - 300:end])
        scanners.append((sc, s, end))
    t1 = time.perf_counter()
    peer_candles = 0
    for step in range(ticks):
        for sc, s, end in scanners:
            i = end + step
            sc.update({f: s.ohlcv[j:j + 1, i] for j, f in enumerate(("open", "high", "low", "close", "volume"))},
                      int(s.times[i]))
            peer_candles += 1
    peer_elapsed = time.perf_counter() - t1
    await engine.close()
    await db.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"bots": n_bots, "start_s": started, "bot_candles": bot_candles, "rate": bot_candles / elapsed,
            "orders": n_orders, "fills": n_fills, "rss_mb": rss1, "rss_delta_mb": rss1 - rss0,
            "peer_rate": peer_candles / peer_elapsed}


async def main_async(args) -> int:
    import logging

    from nija.core.events import NatsEventBus

    logging.basicConfig(level=logging.ERROR)
    if not args.bots_only:
        url, proc = await nats_url()
        bus = await NatsEventBus(url).connect()
        try:
            dbs = {"sqlite": f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='nija-bench-')) / 'nija.db'}"}
            pg = os.environ.get("NIJA_BENCH_PG_URL") or os.environ.get("NIJA_TEST_DATABASE_URL")
            if pg:
                dbs["postgresql"] = pg
            print("== order path: signal -> sizing -> risk -> write-ahead -> paper fill -> persisted -> published (ms)")
            print("   outbox = all rows and events committed (publish in the background); acked = JetStream acked all")
            for name, url_db in dbs.items():
                r = await order_path(url_db, bus, args.signals)
                print(f"{name:<11} outbox p50 {r['p50']:.2f} p99 {r['p99']:.2f}   acked p50 {r['ack_p50']:.2f} "
                      f"p99 {r['ack_p99']:.2f}   cpu {r['cpu']:.2f}/signal   peer (1 insert+commit + 1 publish) "
                      f"p50 {r['peer_p50']:.2f} p99 {r['peer_p99']:.2f}   ratio acked/peer p99 "
                      f"{r['ack_p99'] / r['peer_p99']:.1f}x")
                if r["floor"] is not None:
                    print(f"{'':<11} {r['trips']:.1f} round trips per signal; floor of two units on this server "
                          f"(asyncpg alone, 8 trips, no application work) p50 {r['floor']['p50']:.2f} "
                          f"p99 {r['floor']['p99']:.2f}; outbox/floor p99 {r['p99'] / r['floor']['p99']:.1f}x")
            if not pg:
                print("postgresql  skipped: set NIJA_BENCH_PG_URL=postgresql+asyncpg://…")
        finally:
            await bus.close()
            if proc is not None:
                proc.terminate()
    return 0 if args.orders_only else await bots_section(args)


async def bots_section(args) -> int:
    print(f"== {args.bots} paper bots (one per user), replayed 5m candles at full speed, SQLite")
    r = await many_bots(args.bots, args.ticks)
    print(f"started in {r['start_s']:.1f}s; {r['bot_candles']} bot-candles -> {r['rate']:.0f} bot-candles/s "
          f"({r['orders']} orders, {r['fills']} fills); RSS {r['rss_mb']:.0f} MB (+{r['rss_delta_mb']:.0f} MB for the bots)")
    print(f"peer (Scanner only, same strategy and candles): {r['peer_rate']:.0f} bot-candles/s; "
          f"engine/peer {r['rate'] / r['peer_rate']:.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=int, default=500)
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--bots-only", action="store_true", help="skip the order-path benchmark")
    parser.add_argument("--orders-only", action="store_true", help="skip the many-bots benchmark")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
