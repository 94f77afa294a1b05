"""Bots: a strategy over a user's markets on a fixed cadence, trading through one account.

One :class:`TradingEngine` per trading process. Each tick releases the next candle time of the
feed; paper venues match resting orders on it first (fills are booked), then every running bot
whose markets have that candle asks its strategy (through the shared
:class:`~nija.core.strategies.Scanner`) for signals, sizes them and submits orders.

A bot is a virtual sub-account: its positions and P&L are keyed by bot id even when several
bots share one venue account (and one broker instance, hence one rate-limit budget).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
from sqlalchemy import select, update

from nija.core.errors import FailedPrecondition, InvalidArgument, NijaError, NotFound, StrategyError, Unavailable
from nija.core.money import decimal_to_str as decimal_str
from nija.core.plugins.broker import BrokerContext, BrokerNeedsOperator
from nija.core.portfolio import quantity_for_fraction, to_decimal
from nija.core.risk import RiskRejected
from nija.core.strategies import PositionView, Scanner, SignalAction, StrategyGuard
from nija.core.trading._marketdata import TIMEFRAME_MS, MarketFeed
from nija.core.trading._model import OrderIntent, paper_account_key, split_symbol
from nija.core.trading._orders import Account, OrderManager
from nija.core.trading._reconcile import Reconciler
from nija.core.trading._tables import bots, paper_balances, positions

log = logging.getLogger(__name__)
ZERO = Decimal(0)
SEED_CANDLES = 300
FIELDS = ("open", "high", "low", "close", "volume")


@dataclass
class BotRuntime:
    row: dict[str, Any]
    account: Account
    scanner: Scanner
    positions: dict[str, PositionView] = field(default_factory=dict)
    ticks: int = 0
    #: Stop-loss price wanted per symbol (from the entry signal), placed on the venue once the
    #: position exists.
    stops: dict[str, Decimal] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.row["id"]

    def keys(self) -> list[tuple[str, str]]:
        return [(m, self.row["timeframe"]) for m in self.row["markets"]]


class TradingEngine:
    """Bots, accounts and the tick loop of one process.

    Parameters
    ----------
    db, clock, plugins
        The platform's database, clock and plugin manager.
    orders : OrderManager
    feed : MarketFeed
        Where candles come from (``open_feed(spec)``: a ReplayFeed or a LiveFeed).
    vault : CredentialVault, optional
        Decrypts live broker connections.
    """

    def __init__(self, db, clock, plugins, orders: OrderManager, feed: MarketFeed, vault=None,
                 settings=None) -> None:
        self.db = db
        self.clock = clock
        self.plugins = plugins
        self.orders = orders
        self.feed = feed
        self.vault = vault
        #: ``async (user_id) -> settings`` with ``max_position_size`` (USD): entries are sized
        #: within the user's own limit instead of being sized up and refused by risk.
        self.settings = settings
        self.reconciler = Reconciler(orders)
        self.guard = StrategyGuard()
        self._accounts: dict[str, Account] = {}
        self._bots: dict[str, BotRuntime] = {}
        self._task: asyncio.Task | None = None
        #: How often resting orders on live venues are refreshed (their fills booked).
        self.live_sync_ms = 5_000
        self._synced: dict[str, int] = {}
        self._account_locks: dict[str, asyncio.Lock] = {}
        # A tick and a user's stop/emergency stop never interleave: the stop then sees every
        # fill the tick booked (a flatten sized on a stale position would over-sell).
        self._tick_lock = asyncio.Lock()
        #: Back-off (seconds) between attempts to resume a bot whose venue could not be reached
        #: at start-up (network, 5xx, 429); the bot waits in state ``waiting`` meanwhile.
        self.resume_retry_delays: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
        #: Accounts opened at once when resuming after a restart (a venue that hangs holds up
        #: its own account's bots, not the others').
        self.resume_concurrency = 8
        self._resume_retries: dict[str, asyncio.Task] = {}

    # ------------------------------------------------------------------------ accounts
    def _broker_class(self, name: str):
        for info in self.plugins.brokers():
            if info.name == name:
                return info.cls
        raise FailedPrecondition(f"broker plugin {name!r} is not installed")

    async def account_for(self, user_id: str, paper: bool, connection_id: str | None) -> Account:
        """The (shared, reconciled) account; raises FailedPrecondition when it cannot be used.

        Opened once per account key, under that key's lock: bots sharing an account wait for
        its one reconciliation, and a venue slow to answer holds up only its own accounts.
        """
        if paper:
            key = paper_account_key(user_id)
            conn_info = None
        else:
            if self.vault is None or not connection_id:
                raise FailedPrecondition("live trading needs a broker connection")
            conn_info = await self.vault.open(user_id, connection_id)
            key = f"{conn_info.broker}:{conn_info.fingerprint[:24]}"
        lock = self._account_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._accounts:
                return self._accounts[key]
            if conn_info is None:
                account = await self._open_paper(key)
            else:
                cls = self._broker_class(conn_info.broker)
                broker = cls(BrokerContext(account_key=key, clock=self.clock, credentials=conn_info.credentials,
                                           options={"exchange": conn_info.exchange, **conn_info.options}))
                can_withdraw = await self._check_trade_only(broker, connection_id)
                account = Account(key, broker, paper=False, connection_id=connection_id, exchange=conn_info.exchange,
                                  can_withdraw=can_withdraw)
            await self.reconciler.reconcile(account)
            self._accounts[key] = account
            return account

    async def _open_paper(self, key: str) -> Account:
        cls = self._broker_class("paper")
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(paper_balances.c.asset, paper_balances.c.total)
                                       .where(paper_balances.c.account_key == key))).all()
        state = {"balances": {r.asset: r.total for r in rows}} if rows else {}
        broker = cls(BrokerContext(account_key=key, clock=self.clock, market_data=self.feed, state=state))
        if not rows:  # a new paper account: persist the broker's starting balances
            now = self.clock.now_ms()
            async with self.db.transaction() as conn:
                for asset, (total, _free) in (await broker.fetch_balance()).items():
                    await conn.execute(paper_balances.insert().values(account_key=key, asset=asset, total=total,
                                                                      updated_at=now))
        return Account(key, broker, paper=True)

    async def _check_trade_only(self, broker, connection_id: str) -> bool | None:
        """The trade-only permission: keys were refused at connection time if they could withdraw,
        but the user can widen a key's rights on the exchange later, so the venue is asked again
        (a read-only call) whenever the account is opened: bot start and restart. Withdraw rights
        now → the account is not opened and the bot does not start; the answer also rides on every
        order's risk request (rule ``user.trade_only``)."""
        try:
            report = await broker.check_credentials()
        except NijaError as exc:
            await broker.close()
            raise FailedPrecondition(f"could not verify the exchange key's permissions: {exc.message}") from exc
        can_withdraw = report.get("can_withdraw")
        if can_withdraw:
            await broker.close()
            log.warning("broker connection %s: the key can now withdraw funds; refusing to trade with it",
                        connection_id)
            raise FailedPrecondition("the exchange key of this connection can withdraw funds; NIJA trades only through "
                                     "keys with trading permission only: remove the withdraw permission on the "
                                     "exchange or connect a trade-only key", reason="TRADE_ONLY")
        return can_withdraw

    # ------------------------------------------------------------------------ bots
    def _strategy(self, name: str, params: dict[str, str]):
        for info in self.plugins.strategies():
            if info.name == name:
                return info.cls(**params)
        raise InvalidArgument(f"unknown strategy {name!r}", field="strategy")

    async def start_bot(self, *, user_id: str, strategy: str, params: dict[str, str], markets: list[str],
                        timeframe: str = "5m", paper: bool = True, connection_id: str | None = None) -> dict:
        if not markets:
            raise InvalidArgument("give at least one market, e.g. ETH/BTC", field="markets")
        if timeframe not in TIMEFRAME_MS:
            raise InvalidArgument(f"timeframe must be one of {', '.join(TIMEFRAME_MS)}", field="timeframe")
        for m in markets:
            if "/" not in m:
                raise InvalidArgument(f"market {m!r} must be BASE/QUOTE", field="markets")
        await self.feed.subscribe([(m, timeframe) for m in markets])  # a live feed starts polling them
        for m in markets:
            if not self.feed.has(m, timeframe):
                raise InvalidArgument(f"no market data for {m} at {timeframe}", field="markets")
        instance = self._strategy(strategy, params)
        now = self.clock.now_ms()
        row = dict(id=str(uuid.uuid4()), user_id=user_id, strategy=strategy, params=dict(params), markets=list(markets),
                   timeframe=timeframe, broker_connection_id=connection_id, paper=paper, state="starting", error=None,
                   created_at=now, started_at=now, stopped_at=None, cursor=None)
        async with self.db.transaction() as conn:
            await conn.execute(bots.insert().values(**row))
        try:
            account = await self.account_for(user_id, paper, connection_id)
        except NijaError as exc:
            await self._set_state(row, "error", exc.message)
            raise
        runtime = self._runtime(row, account, instance)
        await self._load_positions(runtime)
        await self._set_state(row, "running", None)
        self._bots[row["id"]] = runtime
        return row

    def _runtime(self, row: dict, account: Account, instance) -> BotRuntime:
        scanner = Scanner(instance, row["markets"], bot_id=row["id"], guard=self.guard)
        if self.feed.now_ms is None:
            self.feed.now_ms = self.feed.start_time([(m, row["timeframe"]) for m in row["markets"]]) - 1
        times, arrays = self._history(row["markets"], row["timeframe"], SEED_CANDLES)
        if len(times):
            scanner.seed(arrays, times)
        return BotRuntime(row, account, scanner)

    def _history(self, markets, timeframe, n):
        first = self.feed.series(markets[0], timeframe)
        end = self.feed.index_at(markets[0], timeframe, self.feed.now_ms)
        times = first.times[max(0, end - n + 1): end + 1]
        arrays = {f: np.empty((len(markets), len(times))) for f in FIELDS}
        for row, m in enumerate(markets):
            s = self.feed.series(m, timeframe)
            idx = np.clip(np.searchsorted(s.times, times, side="right") - 1, 0, None)
            for k, f in enumerate(FIELDS):
                arrays[f][row] = s.ohlcv[k, idx]
        return times, arrays

    async def _set_state(self, row: dict, state: str, error: str | None) -> None:
        now = self.clock.now_ms()
        values = dict(state=state, error=error)
        if state in ("stopped", "error", "waiting"):
            values["stopped_at"] = now
        elif state == "running":
            values["stopped_at"] = None
        row.update(values)
        async with self.db.transaction() as conn:
            await conn.execute(update(bots).where(bots.c.id == row["id"]).values(**values))

    async def _bot_row(self, user_id: str, bot_id: str) -> dict:
        async with self.db.transaction() as conn:
            r = (await conn.execute(select(bots).where(bots.c.id == bot_id, bots.c.user_id == user_id))).first()
        if r is None:
            raise NotFound("no such bot")
        return dict(r._mapping)

    async def list_bots(self, user_id: str) -> list[dict]:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(bots).where(bots.c.user_id == user_id).order_by(bots.c.created_at))).all()
        return [dict(r._mapping) for r in rows]

    async def stop_bot(self, user_id: str, bot_id: str) -> dict:
        """Stop deciding and cancel the bot's open orders; positions stay."""
        async with self._tick_lock:
            return await self._stop_bot(user_id, bot_id)

    async def _stop_bot(self, user_id: str, bot_id: str) -> dict:
        row = await self._bot_row(user_id, bot_id)
        self._end_retries(bot_id)
        runtime = self._bots.pop(bot_id, None)
        if runtime is not None:
            await self._cancel_open(runtime.account, user_id, bot_id)
        if row["state"] not in ("stopped", "error"):
            await self._set_state(row, "stopped", None)
        return row

    async def _cancel_open(self, account: Account, user_id: str, bot_id: str) -> None:
        for order in await self.orders.open_orders(user_id=user_id, bot_id=bot_id):
            try:
                await self.orders.cancel(order, account)
            except NijaError as exc:
                log.warning("could not cancel order %s: %s", order["client_order_id"], exc.message)

    async def emergency_stop(self, user_id: str, bot_id: str | None = None) -> list[dict]:
        """Stop the bot (or every bot of the user), cancel open orders, close positions at market."""
        async with self._tick_lock:
            return await self._emergency_stop(user_id, bot_id)

    async def _emergency_stop(self, user_id: str, bot_id: str | None = None) -> list[dict]:
        rows = [await self._bot_row(user_id, bot_id)] if bot_id else await self.list_bots(user_id)
        now = self.clock.now_ms()
        for row in rows:
            self._end_retries(row["id"])
            runtime = self._bots.pop(row["id"], None)
            account = runtime.account if runtime else None
            if account is None:
                account = await self.account_for(user_id, row["paper"], row["broker_connection_id"])
            await self._cancel_open(account, user_id, row["id"])
            async with self.db.transaction() as conn:
                held = (await conn.execute(select(positions).where(positions.c.bot_id == row["id"],
                                                                   positions.c.quantity != 0))).all()
            for p in held:
                side = "sell" if p.quantity > 0 else "buy"
                intent = OrderIntent(user_id=user_id, bot_id=row["id"], signal_id=f"emergency:{p.symbol}:{now}",
                                     symbol=p.symbol, side=side, type="market", amount=abs(p.quantity), reduce_only=True,
                                     reference_price=p.mark_price)
                try:
                    await self.orders.submit(intent, account)
                except NijaError as exc:
                    log.error("emergency stop of bot %s could not close %s: %s", row["id"], p.symbol, exc.message)
            if row["state"] not in ("stopped", "error"):
                await self._set_state(row, "stopped", None)
        return rows

    async def on_global_kill_switch(self, view) -> None:
        """Obey the global kill switch (``risk.kill_switch.on_change``): every bot this process
        runs stops and its open orders are cancelled; with ``view.flatten`` its positions are
        closed at market too (reduce-only orders, which the engaged switch still lets through).
        Clearing the switch restarts nothing: an operator or the user starts bots again."""
        if not getattr(view, "active", False):
            return
        async with self._tick_lock:
            running = [(r.row["user_id"], r.id) for r in list(self._bots.values())]
            log.warning("global kill switch: stopping %d bot(s)%s", len(running), " and flattening" if view.flatten else "")
            for user_id, bot_id in running:
                try:
                    if view.flatten:
                        await self._emergency_stop(user_id, bot_id)
                    else:
                        await self._stop_bot(user_id, bot_id)
                except NijaError as exc:
                    log.error("global kill switch: bot %s: %s", bot_id, exc.message)

    # ------------------------------------------------------------------------ lifecycle
    async def resume(self) -> None:
        """After a restart: publish what the outbox kept, reconcile, and resume running bots.

        A bot whose account cannot be reconciled does not trade. When the venue could not be
        reached (network, 5xx, 429: :class:`Unavailable`) the bot goes to ``waiting`` with the
        reason and the attempt is repeated in the background after each of
        ``resume_retry_delays``; any other failure, or the last attempt's, sends it to ``error``
        with the reason. A ``waiting`` bot is retried after a restart too; stopping it ends the
        retries.
        """
        await self.orders.relay.flush()
        async with self.db.transaction() as conn:
            rows = [dict(r._mapping) for r in
                    (await conn.execute(select(bots).where(bots.c.state.in_(("running", "waiting"))))).all()]
        cursors = [r["cursor"] for r in rows if r["cursor"] is not None]
        if cursors and self.feed.now_ms is None:
            self.feed.now_ms = max(cursors)
        # Each account's bots one after another (they share its one reconciliation), up to
        # resume_concurrency accounts at a time: a venue that does not answer delays the start
        # by its own timeouts once, not once more for every account behind it.
        by_account: dict[str, list[dict]] = {}
        for row in rows:
            key = paper_account_key(row["user_id"]) if row["paper"] else f"connection:{row['broker_connection_id']}"
            by_account.setdefault(key, []).append(row)
        slots = asyncio.Semaphore(self.resume_concurrency)

        async def resume_account(group: list[dict]) -> None:
            async with slots:
                for row in group:
                    await self._resume_bot(row, 0)

        outcomes = await asyncio.gather(*(resume_account(g) for g in by_account.values()), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _resume_bot(self, row: dict, attempt: int) -> None:
        try:
            account = await self.account_for(row["user_id"], row["paper"], row["broker_connection_id"])
            await self.feed.subscribe([(m, row["timeframe"]) for m in row["markets"]])
            runtime = self._runtime(row, account, self._strategy(row["strategy"], row["params"]))
            await self._load_positions(runtime)
            await self._protect(runtime)  # after a restart: every open position's stop verified
        except NijaError as exc:
            if _unreachable(exc) and attempt < len(self.resume_retry_delays):
                delay = self.resume_retry_delays[attempt]
                reason = f"{exc.message}; retrying in {delay:g} s (attempt {attempt + 1} of {len(self.resume_retry_delays)})"
                log.warning("bot %s not resumed yet: %s", row["id"], reason)
                await self._set_state(row, "waiting", reason)
                self._resume_retries[row["id"]] = asyncio.create_task(
                    self._retry_resume(row, attempt + 1, delay), name=f"resume-{row['id']}")
            else:
                log.error("bot %s not resumed: %s", row["id"], exc.message)
                await self._set_state(row, "error", exc.message)
            return
        if row["state"] != "running":
            await self._set_state(row, "running", None)
            log.info("bot %s resumed after %d attempts", row["id"], attempt + 1)
        self._bots[row["id"]] = runtime

    def _end_retries(self, bot_id: str) -> None:
        retry = self._resume_retries.pop(bot_id, None)
        if retry is not None:
            retry.cancel()

    async def _retry_resume(self, row: dict, attempt: int, delay: float) -> None:
        # Runs without the tick lock (an attempt may wait on the network for a while; the other
        # bots keep trading); a stop meanwhile cancels this task (``_end_retries``).
        try:
            await asyncio.sleep(delay)
            current = await self._bot_row(row["user_id"], row["id"])
            if current["state"] == "waiting":
                await self._resume_bot(current, attempt)
        finally:
            if self._resume_retries.get(row["id"]) is asyncio.current_task():
                del self._resume_retries[row["id"]]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="trading-engine")

    async def close(self) -> None:
        for bot_id in list(self._resume_retries):
            self._end_retries(bot_id)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for account in self._accounts.values():
            await account.broker.close()
        await self.feed.close()
        await self.orders.relay.drain()  # events still being published in the background
        await self.orders.relay.mark_published()

    async def run(self) -> None:
        while True:
            if not await self.has_work():
                await asyncio.sleep(0.05)
                continue
            try:
                more = await self.step()
            except Exception:  # noqa: BLE001 - one bad tick must not end trading for everyone
                log.exception("trading tick failed")
                more = True
            tf = min((TIMEFRAME_MS[b.row["timeframe"]] for b in self._bots.values()), default=300_000)
            await self.feed.pace(tf)
            if not more:
                await asyncio.sleep(0.5)

    async def _venue_keys(self) -> dict[str, set[tuple[str, str]]]:
        """Per simulated account, the (symbol, timeframe) series its bots or resting orders need
        (an emergency stop's closing orders still fill after the bot stopped)."""
        out: dict[str, set[tuple[str, str]]] = {}
        for account in self._accounts.values():
            if not account.broker.capabilities.get("in_process"):
                continue
            keys = {k for b in self._bots.values() if b.account is account for k in b.keys()}
            for order in await account.broker.fetch_open_orders():
                if not any(s == order.symbol for s, _ in keys):
                    tfs = sorted(tf for s, tf in self.feed.available() if s == order.symbol)
                    if tfs:
                        keys.add((order.symbol, tfs[0]))
            if keys:
                out[account.key] = keys
        return out

    async def has_work(self) -> bool:
        return bool(self._bots) or bool(await self._venue_keys())

    async def step(self) -> bool:
        """Release the next candle time and run every bot on it. False when replay ended."""
        async with self._tick_lock:
            return await self._step()

    async def _step(self) -> bool:
        venue_keys = await self._venue_keys()
        keys = sorted({k for b in self._bots.values() for k in b.keys()} | {k for v in venue_keys.values() for k in v})
        if not keys:
            return False
        t = self.feed.next_time(keys)
        if t is None:
            return False
        self.feed.now_ms = t
        touched: set[str] = set()
        # 1. simulated venues match resting orders on the new candle
        for key, account_keys in venue_keys.items():
            account = self._accounts[key]
            for symbol, tf in sorted(account_keys):
                i = self.feed.index_at(symbol, tf, t)
                series = self.feed.series(symbol, tf)
                if i >= 0 and int(series.times[i]) == t:
                    new = await account.broker.on_market_data(symbol, series.candle(i))
                    if new:
                        await self.orders.ingest_fills(account, new)
                        touched.add(account.key)
        # 1b. live venues: resting orders (venue-side stops) may have filled since the last look
        for account in list(self._accounts.values()):
            if not account.broker.capabilities.get("in_process") and await self._sync_live(account):
                touched.add(account.key)
        # 2. bots decide
        for runtime in list(self._bots.values()):
            if runtime.account.key in touched:
                await self._load_positions(runtime)
                await self._protect(runtime)
            await self._tick_bot(runtime, t)
        return True

    async def _sync_live(self, account: Account) -> bool:
        """Refresh the account's resting orders from the venue (at most every
        ``live_sync_ms``); True when a new fill was booked."""
        now = self.clock.now_ms()
        if now - self._synced.get(account.key, -self.live_sync_ms) < self.live_sync_ms:
            return False
        self._synced[account.key] = now
        booked = False
        for order in await self.orders.open_orders(account_key=account.key):
            if order["state"] in ("new", "submitted") or not order["venue_order_id"]:
                continue  # an unknown outcome is settled by resolve, not here
            try:
                venue = await account.broker.fetch_order(order["symbol"], order_id=order["venue_order_id"],
                                                         client_order_id=order["client_order_id"])
                after = await self.orders.apply(order, account, venue)
            except NijaError as exc:
                log.warning("order %s: venue refresh failed: %s", order["client_order_id"], exc.message)
                continue
            booked |= after["filled"] != order["filled"]
        return booked

    async def _load_positions(self, runtime: BotRuntime) -> None:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(positions).where(positions.c.bot_id == runtime.id))).all()
        runtime.positions = {r.symbol: PositionView(r.symbol, r.quantity, r.average_entry) for r in rows if r.quantity != 0}

    async def _tick_bot(self, runtime: BotRuntime, t: int) -> None:
        tf = runtime.row["timeframe"]
        markets = runtime.row["markets"]
        idx = [self.feed.index_at(m, tf, t) for m in markets]
        current = [i >= 0 and int(self.feed.series(m, tf).times[i]) == t for m, i in zip(markets, idx)]
        if not any(current):  # no market of this bot has a candle at t
            return
        candle = {f: np.array([self.feed.series(m, tf).ohlcv[k, max(i, 0)] for m, i in zip(markets, idx)])
                  for k, f in enumerate(FIELDS)}
        if runtime.stops and not runtime.account.broker.capabilities.get("venue_stops"):
            try:
                await self._watched_stops(runtime, t, candle, current)
            except NijaError as exc:  # the next candle tries again (the stop is kept until sent)
                log.error("bot %s: the watched stop-loss could not be sent: %s", runtime.id, exc.message)
        try:
            signals = runtime.scanner.update(candle, t, runtime.positions)
        except StrategyError as exc:
            self._bots.pop(runtime.id, None)
            await self._set_state(runtime.row, "error", exc.message)
            return
        runtime.ticks += 1
        placed = False
        for sig in signals:
            try:
                placed |= await self._act(runtime, sig, t)
            except (BrokerNeedsOperator, StrategyError) as exc:
                self._bots.pop(runtime.id, None)
                await self._set_state(runtime.row, "error", exc.message)
                return
            except RiskRejected as exc:
                log.info("bot %s: order refused by risk rule %s", runtime.id, exc.rule)
                if getattr(exc, "flatten", False):
                    await self._emergency_stop(runtime.row["user_id"], runtime.id)  # inside the tick's lock
                    return
            except NijaError as exc:
                log.warning("bot %s: order failed: %s", runtime.id, exc.message)
        if placed or runtime.ticks % 50 == 0:
            runtime.row["cursor"] = t
            async with self.db.transaction() as conn:
                await conn.execute(update(bots).where(bots.c.id == runtime.id).values(cursor=t))

    async def _act(self, runtime: BotRuntime, sig, t: int) -> bool:
        tf = runtime.row["timeframe"]
        last = self.feed.last_candle(sig.symbol, tf)
        if last is None:
            return False
        held = runtime.positions.get(sig.symbol)
        signal_id = f"{sig.symbol}:{tf}:{sig.ts_ms}:{sig.action.value}"
        user_id = runtime.row["user_id"]
        if sig.action is SignalAction.EXIT_LONG:
            if held is None or held.quantity <= 0:
                return False
            await self._cancel_stops(runtime, sig.symbol)  # else the stop could sell the same coins
            intent = OrderIntent(user_id=user_id, bot_id=runtime.id, signal_id=signal_id, symbol=sig.symbol, side="sell",
                                 type="market", amount=held.quantity, reduce_only=True, reference_price=last.close)
        else:
            if held is not None and held.quantity > 0:
                return False
            _, quote = split_symbol(sig.symbol)
            balances = await runtime.account.broker.fetch_balance()
            _, free = balances.get(quote, (ZERO, ZERO))
            # Through the scanner's guard: a crashing or out-of-range strategy is disabled for this bot.
            fraction = Decimal(repr(runtime.scanner.position_fraction(sig)))
            step = await self._lot_step(runtime, sig.symbol)
            qty = quantity_for_fraction(equity=free, fraction=fraction, price=last.close, cash=free,
                                        cost_bps=Decimal(30), step=step)
            qty = (await self._cap(user_id, quote, last.close, qty)).quantize(step, rounding=ROUND_DOWN)
            if qty <= 0:
                return False
            intent = OrderIntent(user_id=user_id, bot_id=runtime.id, signal_id=signal_id, symbol=sig.symbol, side="buy",
                                 type="market", amount=qty, reference_price=last.close)
        await self.orders.submit(intent, runtime.account)
        if sig.action is SignalAction.ENTER_LONG and sig.stop_loss is not None and sig.stop_loss > 0:
            runtime.stops[sig.symbol] = to_decimal(sig.stop_loss).quantize(Decimal("1e-8"))
        if not runtime.account.broker.capabilities.get("in_process"):
            await self._load_positions(runtime)  # a live venue may have filled it already
            await self._protect(runtime)
        return True

    # ------------------------------------------------------------------------ venue stops
    async def _cancel_stops(self, runtime: BotRuntime, symbol: str) -> None:
        for order in await self.orders.open_orders(bot_id=runtime.id):
            if order["symbol"] == symbol and order["type"] == "stop_loss":
                await self.orders.cancel(order, runtime.account)

    async def _protect(self, runtime: BotRuntime) -> None:
        """Every open long position of the bot has a stop-loss resting on the venue (where the
        venue supports stops): placed from the entry signal's stop, re-placed from the last
        recorded one after a restart; a position left without protection raises an alert."""
        if not runtime.account.broker.capabilities.get("venue_stops"):
            await self._alert_watched_stops(runtime)
            return
        open_orders = await self.orders.open_orders(bot_id=runtime.id)
        for symbol, pos in runtime.positions.items():
            if pos.quantity <= 0 or any(o["symbol"] == symbol and o["type"] == "stop_loss" for o in open_orders):
                continue
            recorded = await self._stop_history(runtime.id, symbol)
            price = runtime.stops.get(symbol) or (recorded[-1] if recorded else None)
            problem = None
            if price is None:
                problem = "no stop-loss price is known for this position"
            else:
                intent = OrderIntent(user_id=runtime.row["user_id"], bot_id=runtime.id,
                                     signal_id=f"{symbol}:stop:{len(recorded)}", symbol=symbol, side="sell",
                                     type="stop_loss", amount=pos.quantity, stop_price=price, reduce_only=True,
                                     reference_price=price)
                try:
                    placed = await self.orders.submit(intent, runtime.account)
                    if placed["state"] in ("rejected", "expired"):
                        problem = f"the venue refused the stop-loss: {placed['reason']}"
                except NijaError as exc:
                    problem = f"the stop-loss could not be placed: {exc.message}"
            if problem and symbol not in runtime.alerted:
                runtime.alerted.add(symbol)
                await self.orders.alert(runtime.row["user_id"], runtime.id, symbol, "POSITION_UNPROTECTED", problem)
            elif not problem:
                runtime.alerted.discard(symbol)

    # ------------------------------------------------------------------------ engine-watched stops
    # A venue that keeps no stop orders for NIJA (capabilities["venue_stops"] false): the entry
    # signal's stop-loss is watched by the engine instead — a reduce-only market sell once a
    # closed candle trades at or below it — and the user is told, once per position, that it
    # does not protect the position while NIJA is not running (it is not persisted either: after
    # a restart such a position has no known stop, and the alert says so).
    async def _alert_watched_stops(self, runtime: BotRuntime) -> None:
        exchange = runtime.account.exchange
        for symbol in [s for s in runtime.alerted if s not in runtime.positions]:
            runtime.alerted.discard(symbol)  # flat again: the next position is announced anew
        for symbol, pos in runtime.positions.items():
            if pos.quantity <= 0 or symbol in runtime.alerted:
                continue
            price = runtime.stops.get(symbol)
            if price is None:
                problem = f"no stop-loss price is known for this position, and {exchange} keeps no stop orders for NIJA"
            else:
                problem = (f"{exchange} keeps no stop orders for NIJA: the stop-loss at {decimal_str(price)} is watched "
                           f"by the engine (a market sell once a closed candle trades through it) and does not protect "
                           f"the position while NIJA is not running")
            runtime.alerted.add(symbol)
            await self.orders.alert(runtime.row["user_id"], runtime.id, symbol, "POSITION_UNPROTECTED", problem)

    async def _watched_stops(self, runtime: BotRuntime, t: int, candle: dict, current: list[bool]) -> None:
        """Sell, at market and reduce-only, each position whose watched stop the candle at ``t``
        reached (its low at or below the stop)."""
        tf = runtime.row["timeframe"]
        for j, symbol in enumerate(runtime.row["markets"]):
            stop = runtime.stops.get(symbol)
            held = runtime.positions.get(symbol)
            if stop is None or held is None or held.quantity <= 0 or not current[j] or candle["low"][j] > float(stop):
                continue
            intent = OrderIntent(user_id=runtime.row["user_id"], bot_id=runtime.id, signal_id=f"{symbol}:{tf}:{t}:stop",
                                 symbol=symbol, side="sell", type="market", amount=held.quantity, reduce_only=True,
                                 reference_price=to_decimal(candle["close"][j]))
            log.info("bot %s: %s traded through the watched stop %s; selling %s at market", runtime.id, symbol,
                     decimal_str(stop), decimal_str(held.quantity))
            placed = await self.orders.submit(intent, runtime.account)
            if placed["state"] not in ("rejected", "expired"):
                runtime.stops.pop(symbol, None)
            await self._load_positions(runtime)

    async def _stop_history(self, bot_id: str, symbol: str) -> list[Decimal]:
        from nija.core.trading._tables import orders as orders_t

        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(orders_t.c.stop_price).where(
                orders_t.c.bot_id == bot_id, orders_t.c.symbol == symbol, orders_t.c.type == "stop_loss")
                .order_by(orders_t.c.created_at))).all()
        return [r.stop_price for r in rows]

    async def _lot_step(self, runtime: BotRuntime, symbol: str) -> Decimal:
        """The venue's lot step, so the amount written ahead is exactly the amount sent."""
        market = (await runtime.account.broker.load_markets()).get(symbol)
        step = market.amount_increment if market is not None else None
        return step if step and step > 0 else Decimal("0.00000001")

    async def _cap(self, user_id: str, quote: str, price: Decimal, qty: Decimal) -> Decimal:
        if self.settings is None:
            return qty
        usd = self.orders._usd(quote)
        limit = getattr(await self.settings(user_id), "max_position_size", None)
        if not usd or not limit:
            return qty
        # 2% under the limit: the fill price moves (slippage) between sizing and the check.
        most = (limit * Decimal("0.98") / (price * usd)).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
        return min(qty, most)

    def running(self) -> dict[str, BotRuntime]:
        return dict(self._bots)


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the venue could not be reached for now."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, Unavailable):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
