"""The order path: write-ahead, risk gate, broker call, state machine, settlement, events.

Fills are booked (fill rows, positions, paper balances, P&L) by ``_booking.Booking``, in the
transactions opened here.

Invariants
----------
- The client order id is deterministic from (bot, signal) and unique in ``trading_orders``: a
  retried or replayed signal finds its order instead of making a second one.
- The order row reaches the database (state ``submitted``) *before* the broker is called, in
  the transaction where risk counted it. A crash after that leaves a ``submitted`` row that
  :meth:`OrderManager.resolve` settles by fetching by client order id — never by re-sending.
- A fill is recorded once per (account, venue fill id); positions and paper balances move only
  when a fill row is inserted, in the same transaction (``_booking``).
- Every transition, fill and position change writes an event to the outbox in that
  transaction; it is published after commit, in the background (``EventRelay.post``).
- A unit that reads what it then writes (write-ahead: the position and balances risk decides
  on; booking: the position a fill moves; settling: the order row) opens with
  ``db.transaction(write=True)``: on SQLite ``BEGIN IMMEDIATE`` holds the database write lock
  before the first read, so another writer can neither change what was read before the commit
  nor make the first write fail ("database is locked"). PostgreSQL locks the rows read
  (``FOR UPDATE``, risk's upsert).
- A venue that lives in this process (``capabilities["in_process"]``: paper) is called inside
  the write-ahead transaction, and the venue's answer is recorded in that same transaction:
  one commit per order instead of two. Nothing leaves the process before that commit, and the
  in-process venue's book is rebuilt from ours on restart, so a crash before the commit leaves
  no order anywhere (the replayed signal makes the same client order id) and a crash after it
  leaves the accepted order, which reconciliation hands back to the venue. A rollback after the
  venue took the order (the commit failed) takes it back out of the venue
  (``discard_order``), so the two books never differ in this process.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.db import Prepared
from nija.core.errors import Unavailable
from nija.core.money import decimal_to_str as decimal_str
from nija.core.plugins.broker import (
    Broker,
    BrokerBadRequest,
    BrokerError,
    BrokerNeedsOperator,
    BrokerOrderNotFound,
    BrokerOutcomeUnknown,
    BrokerRetryable,
    OrderSpec,
    VenueFill,
    VenueOrder,
)
from nija.core.risk import OrderRequest, RiskRejected
from nija.core.trading._booking import Booking
from nija.core.trading._events import EventRelay, EventWriter, order_message
from nija.core.trading._ledger import fee_in_quote
from nija.core.trading._model import OrderIntent, OrderState, check_transition, client_order_id, split_symbol, state_from_venue
from nija.core.trading._tables import fills, orders, paper_balances, positions

log = logging.getLogger(__name__)
ZERO = Decimal(0)
USD_LIKE = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI"})

# The hot statements, built once and executed with parameters through Prepared
# (core/db/_prepared.py: compiled once per dialect, run on the driver inside a write unit).
_INSERT_ORDER = Prepared(orders.insert())
# Locked (PostgreSQL; SQLite's write unit already holds the database lock): risk and the
# reduce-only check decide on this quantity, so a fill booked by another process must not
# move it before this transaction ends. Taken first in the write-ahead, like booking takes it
# before risk's row, so the two lock in the same order.
_POSITION_QTY = Prepared(select(positions.c.quantity).where(
    positions.c.bot_id == bindparam("b_bot"), positions.c.symbol == bindparam("b_symbol")).with_for_update())
_ORDER_LOCKED = Prepared(select(orders).where(orders.c.id == bindparam("b_id")).with_for_update())
_UPDATE_ORDER = Prepared(update(orders).where(orders.c.id == bindparam("b_id")))
_BALANCES = Prepared(select(paper_balances.c.asset, paper_balances.c.total).where(
    paper_balances.c.account_key == bindparam("b_key")))
_ORDER_BY_CID = Prepared(select(orders).where(
    orders.c.account_key == bindparam("b_key"), orders.c.client_order_id == bindparam("b_cid")).with_for_update())
_ORDER_BY_VENUE_ID = Prepared(select(orders).where(
    orders.c.account_key == bindparam("b_key"), orders.c.venue_order_id == bindparam("b_vid")).with_for_update())
_FILLS_OF = Prepared(select(fills.c.amount, fills.c.price, fills.c.fee_quote).where(
    fills.c.order_id == bindparam("b_id")))


@dataclass(frozen=True)
class Account:
    """A venue account as the order path sees it."""

    key: str
    broker: Broker
    paper: bool
    connection_id: str | None = None
    exchange: str = "paper"
    #: The venue's latest answer on the key's withdraw permission (None: not said / paper).
    can_withdraw: bool | None = None


def _row(r) -> dict[str, Any]:
    return dict(r._mapping)


def _new_order_row(intent: OrderIntent, account: Account, cid: str, now: int, state: OrderState,
                   reason: str | None = None) -> dict[str, Any]:
    """The row of an order first recorded in ``state`` (submitted, or rejected before sending)."""
    return dict(
        id=str(uuid.uuid4()), user_id=intent.user_id, bot_id=intent.bot_id, account_key=account.key,
        broker=account.broker.name, broker_connection_id=account.connection_id, client_order_id=cid,
        signal_id=intent.signal_id[:200], symbol=intent.symbol, side=intent.side, type=intent.type,
        amount=intent.amount, price=intent.price, stop_price=intent.stop_price, post_only=intent.post_only,
        reduce_only=intent.reduce_only, state=state.value, venue_order_id=None, filled=ZERO,
        average_price=None, fee=ZERO, reason=reason, flags=None, created_at=now, updated_at=now,
    )


class OrderManager:
    """Places, resolves, cancels and settles orders of every account.

    Parameters
    ----------
    db : nija.core.db.Database
    clock : nija.core.clock.Clock
    risk : PreTradeCheck
        The platform's risk engine (or the permissive default).
    relay : EventRelay
    usd_price : callable, optional
        ``asset -> Decimal | None``: the USD value of one unit, for risk's notional and equity
        (USD stablecoins count 1:1; an unknown price counts the notional as 0 and is logged).
    resolve_delays : sequence of float
        Back-off (seconds) between fetches when settling an order whose submit had no answer.
    """

    def __init__(self, db, clock, risk, relay: EventRelay, *, usd_price: Callable[[str], Decimal | None] | None = None,
                 resolve_delays: Sequence[float] = (0.05, 0.2, 0.5, 1.0, 2.0),
                 retry_delays: Sequence[float] = (0.5, 1.0, 2.0)) -> None:
        self.db = db
        self.clock = clock
        self.risk = risk
        self.relay = relay
        self.usd_price = usd_price or (lambda asset: None)
        self.resolve_delays = tuple(resolve_delays)
        self.retry_delays = tuple(retry_delays)
        self._locks: dict[str, asyncio.Lock] = {}
        # Booking is serialised per account in this process (an engine tick and a cancel may
        # report the same fill at once); across processes the unique index decides.
        self._book_locks: dict[str, asyncio.Lock] = {}
        # Risk engines that take the caller's connection record broker results in the order's
        # own transaction (one commit less); older PreTradeChecks get their own.
        try:
            self._risk_takes_conn = "conn" in inspect.signature(risk.on_broker_result).parameters
        except (TypeError, ValueError):
            self._risk_takes_conn = False
        self._booking = Booking(risk, self._usd)

    def _book_lock(self, account_key: str) -> asyncio.Lock:
        lock = self._book_locks.get(account_key)
        if lock is None:
            lock = self._book_locks[account_key] = asyncio.Lock()
        return lock

    # ------------------------------------------------------------------------------ helpers
    def _lock(self, client_id: str) -> asyncio.Lock:
        lock = self._locks.get(client_id)
        if lock is None:
            lock = self._locks[client_id] = asyncio.Lock()
        return lock

    def _usd(self, asset: str) -> Decimal | None:
        return Decimal(1) if asset in USD_LIKE else self.usd_price(asset)

    async def get(self, client_id: str) -> dict[str, Any] | None:
        async with self.db.transaction() as conn:
            r = (await conn.execute(select(orders).where(orders.c.client_order_id == client_id))).first()
        return _row(r) if r else None

    async def _equity_usd(self, conn: AsyncConnection, account: Account) -> Decimal:
        if not account.paper:
            return ZERO  # live equity comes from the venue; risk sizes against its own state then
        rows = (await _BALANCES.execute(conn, {"b_key": account.key})).all()
        return sum(((r.total * (self._usd(r.asset) or ZERO)) for r in rows), ZERO)

    async def _transition(self, conn, writer: EventWriter, order: dict, target: OrderState, **values) -> dict:
        check_transition(OrderState(order["state"]), target)
        values.update(state=target.value, updated_at=writer.now_ms)
        # SET takes the columns named by the parameters.
        await _UPDATE_ORDER.execute(conn, {"b_id": order["id"], **values}, defer=True)
        order = {**order, **values}
        writer.stage(order["user_id"], "orders", order_message(order))
        return order

    # ------------------------------------------------------------------------------ submit
    async def submit(self, intent: OrderIntent, account: Account) -> dict[str, Any]:
        """Place ``intent`` through ``account`` at most once; returns the order row.

        Raises
        ------
        RiskRejected
            After recording the order as rejected with the rule as its reason.
        BrokerNeedsOperator
            After recording the rejection: the bot must stop.
        """
        intent.validate()
        cid = client_order_id(intent.bot_id, intent.signal_id)
        with self.relay.order_path():
            return await self._submit(intent, account, cid)

    async def _submit(self, intent: OrderIntent, account: Account, cid: str) -> dict[str, Any]:
        async with self._lock(cid):
            # No read first: the unique client order id makes the write-ahead insert fail for a
            # retried or replayed signal (risk's counting rolls back with it), and we return the
            # order that exists. Orders a crash left "submitted" are settled by reconciliation.
            # Live equity is read from the venue before the transaction opens (no network call
            # while the database write lock is held).
            live_equity = None if account.paper else await self._venue_equity_usd(account)
            in_process = bool(account.broker.capabilities.get("in_process"))
            try:
                if in_process:
                    return await self._submit_in_process(intent, account, cid)
                order, pending = await self._write_ahead(intent, account, cid, live_equity)
            except RiskRejected as exc:
                try:
                    order, pending = await self._record_rejected(intent, account, cid, f"{exc.rule}: {exc.message}")
                except IntegrityError:
                    return await self._existing(cid)
                self.relay.post(pending)
                raise
            except BrokerBadRequest as exc:
                try:
                    order, pending = await self._record_rejected(intent, account, cid, exc.message)
                except IntegrityError:
                    return await self._existing(cid)
                self.relay.post(pending)
                return order
            except IntegrityError:
                return await self._existing(cid)
            self.relay.post(pending)
            return await self._send(order, account)

    async def _submit_in_process(self, intent: OrderIntent, account: Account, cid: str) -> dict:
        """Write-ahead, risk, the venue call and the venue's answer in one transaction (see the
        module's invariants: the venue is in this process, nothing leaves it before commit).
        Risk rejections and the reduce-only check raise out of here like ``_write_ahead``."""
        writer = EventWriter(self.clock.now_ms())
        placed = False
        deferred: BrokerError | None = None
        try:
            # Not durable on PostgreSQL (the commit does not wait for the WAL flush): every
            # effect of this unit, the venue's book included, lives in our database, so a
            # server crash loses the unit whole, never half of it (docs/trading.md).
            async with self.db.transaction(write=True, durable=False) as conn:
                order = await self._write_ahead_in(conn, writer, intent, account, cid, None)
                placed = True  # from here on a rollback must take the order back out of the venue
                try:
                    venue = await account.broker.place_order(self._spec(order))
                except BrokerBadRequest as exc:
                    await self._report(order, False, conn)
                    result = await self._reject_in(conn, writer, order, f"broker: {exc.message}")
                except BrokerError as exc:
                    # Refused for now / no answer / needs an operator: commit "submitted" as the
                    # generic path would have, then let it decide (same client order id).
                    deferred, result = exc, order
                else:
                    await self._report(order, True, conn)
                    result = await self._settle_in(conn, writer, order, account, venue, list(venue.fills), fresh=True)
                await writer.write(conn)
        except BaseException:
            if placed:
                # Rolled back (or the commit's outcome is unknown): the venue must not keep an
                # order our books do not have (a no-op when it never took it). Had the commit
                # landed after all, the row stays "accepted" and the next reconciliation hands
                # it back to the venue.
                await self._discard(account, cid)
            raise
        self.relay.post(writer.pending)
        if isinstance(deferred, BrokerOutcomeUnknown):
            return await self.resolve(result, account)
        if deferred is not None:
            return await self._send(result, account)
        return result

    @staticmethod
    async def _discard(account: Account, cid: str) -> None:
        discard = getattr(account.broker, "discard_order", None)
        try:
            if discard is not None:
                await discard(cid)
            else:
                await account.broker.cancel_order("", client_order_id=cid)
        except Exception:  # noqa: BLE001 - the original error is the one to raise
            log.exception("order %s: could not take it back from the in-process venue", cid)

    async def _existing(self, cid: str) -> dict:
        """The order a retried or replayed signal already made (never a second one)."""
        existing = await self.get(cid)
        if existing is None:
            raise Unavailable(f"order {cid} could not be recorded; retry")
        return existing

    def _risk_request(self, intent: OrderIntent, account: Account, equity: Decimal, opens: bool) -> OrderRequest:
        base, quote = split_symbol(intent.symbol)
        price = intent.price or intent.reference_price or intent.stop_price or ZERO
        quote_usd = self._usd(quote)
        if quote_usd is None:
            log.debug("no USD price for %s; risk sees a notional of 0 for %s", quote, intent.symbol)
        return OrderRequest(
            user_id=intent.user_id, bot_id=intent.bot_id, broker_connection_id=account.connection_id,
            exchange=account.exchange, symbol=intent.symbol, side=intent.side, quantity=intent.amount, price=price,
            notional_usd=intent.amount * price * (quote_usd or ZERO), reduce_only=intent.reduce_only,
            live=not account.paper, account_equity_usd=equity, opens_position=opens,
            key_can_withdraw=account.can_withdraw,
        )

    async def _venue_equity_usd(self, account: Account) -> Decimal:
        balances = await account.broker.fetch_balance()
        return sum((total * (self._usd(asset) or ZERO) for asset, (total, _free) in balances.items()), ZERO)

    async def _write_ahead(self, intent: OrderIntent, account: Account, cid: str, live_equity: Decimal | None = None):
        writer = EventWriter(self.clock.now_ms())
        async with self.db.transaction(write=True) as conn:
            order = await self._write_ahead_in(conn, writer, intent, account, cid, live_equity)
            await writer.write(conn)
        return order, writer.pending

    async def _write_ahead_in(self, conn, writer: EventWriter, intent: OrderIntent, account: Account, cid: str,
                              live_equity: Decimal | None) -> dict:
        """Risk counts the order and its row is inserted as ``submitted``, in ``conn``."""
        now = writer.now_ms
        pos = (await _POSITION_QTY.execute(conn, {"b_bot": intent.bot_id, "b_symbol": intent.symbol})).first()
        opens = pos is None or pos.quantity == 0
        if intent.reduce_only:
            # Reduce-only is enforced here, on the bot's own book, whatever the venue offers.
            held = pos.quantity if pos is not None else ZERO
            reduces = (held > 0 and intent.side == "sell") or (held < 0 and intent.side == "buy")
            if not reduces or intent.amount > abs(held):
                raise BrokerBadRequest(f"reduce-only {intent.side} of {decimal_str(intent.amount)} exceeds the "
                                       f"bot's position of {decimal_str(held)} {intent.symbol}")
        equity = live_equity if live_equity is not None else await self._equity_usd(conn, account)
        # Risk first: it counts this order on the same connection, so a rollback (crash,
        # rejection) un-counts it.
        await self.risk.pre_trade(conn, self._risk_request(intent, account, equity, opens))
        order = _new_order_row(intent, account, cid, now, OrderState.SUBMITTED)
        # Inserted as "submitted" (new -> submitted in one statement: no one can see "new"
        # in between). "submitted" is persisted before the broker is called: after a crash
        # this row says "maybe sent", and only a fetch by client order id settles it.
        check_transition(OrderState.NEW, OrderState.SUBMITTED)
        await _INSERT_ORDER.execute(conn, order)
        writer.stage(order["user_id"], "orders", order_message(order))
        return order

    async def _record_rejected(self, intent: OrderIntent, account: Account, cid: str, reason: str):
        now = self.clock.now_ms()
        writer = EventWriter(now)
        order = _new_order_row(intent, account, cid, now, OrderState.REJECTED, reason)
        async with self.db.transaction() as conn:
            await _INSERT_ORDER.execute(conn, order)
            await writer.add(conn, order["user_id"], "orders", order_message(order))
        return order, writer.pending

    def _spec(self, order: dict) -> OrderSpec:
        return OrderSpec(
            client_order_id=order["client_order_id"], symbol=order["symbol"], side=order["side"], type=order["type"],
            amount=order["amount"], price=order["price"], stop_price=order["stop_price"],
            post_only=order["post_only"], reduce_only=order["reduce_only"],
        )

    async def _report(self, order: dict, ok: bool, conn=None) -> None:
        try:
            if conn is not None and self._risk_takes_conn:
                await self.risk.on_broker_result(order["user_id"], order["bot_id"], ok, conn=conn)
            else:
                await self.risk.on_broker_result(order["user_id"], order["bot_id"], ok)
        except Exception:  # noqa: BLE001 - risk bookkeeping must not lose the order's outcome
            log.exception("risk.on_broker_result failed for order %s", order["client_order_id"])

    async def _send(self, order: dict, account: Account) -> dict:
        spec = self._spec(order)
        for attempt in range(len(self.retry_delays) + 1):
            try:
                venue = await account.broker.place_order(spec)
            except BrokerRetryable as exc:
                # Refused before processing (429): sending the same client order id again is safe.
                if attempt == len(self.retry_delays):
                    await self._report(order, False)
                    return await self.resolve(order, account)
                await asyncio.sleep(exc.retry_after_s or self.retry_delays[attempt])
                continue
            except BrokerOutcomeUnknown:
                log.warning("order %s: submit outcome unknown; resolving by client order id", order["client_order_id"])
                return await self.resolve(order, account)
            except (BrokerBadRequest, BrokerNeedsOperator) as exc:
                await self._report(order, False)
                rejected = await self._settle_rejected(order, f"broker: {exc.message}")
                if isinstance(exc, BrokerNeedsOperator):
                    raise
                return rejected
            await self._report(order, True)
            return await self.apply(order, account, venue)
        raise AssertionError("unreachable")

    async def _settle_rejected(self, order: dict, reason: str, state: OrderState = OrderState.REJECTED) -> dict:
        writer = EventWriter(self.clock.now_ms())
        async with self.db.transaction(write=True) as conn:
            current = _row((await conn.execute(select(orders).where(orders.c.id == order["id"]))).first())
            if OrderState(current["state"]).final:
                return current
            result = await self._reject_in(conn, writer, current, reason, state)
            await writer.write(conn)
        self.relay.post(writer.pending)
        return result

    async def _reject_in(self, conn, writer: EventWriter, current: dict, reason: str,
                         state: OrderState = OrderState.REJECTED) -> dict:
        result = await self._transition(conn, writer, current, state, reason=reason[:500])
        release = getattr(self.risk, "release_order", None)
        if release is not None and current["filled"] == 0:
            account_stub = Account(current["account_key"], None, paper=current["broker"] == "paper")  # type: ignore[arg-type]
            intent = _intent_of(current)
            await release(conn, self._risk_request(intent, account_stub, ZERO, True))
        return result

    # ------------------------------------------------------------------------------ resolve
    async def resolve(self, order: dict, account: Account) -> dict:
        """Settle an order whose submit outcome is unknown: fetch by client order id with
        back-off; adopt what the venue has; expire it when the venue never saw it.

        Raises
        ------
        Unavailable
            When the venue cannot be asked; the order stays ``submitted`` for the next try.
        """
        cid = order["client_order_id"]
        not_found = 0
        last_error: Exception | None = None
        for delay in (0.0, *self.resolve_delays):
            if delay:
                await asyncio.sleep(delay)
            try:
                venue = await account.broker.fetch_order(order["symbol"], client_order_id=cid)
            except BrokerOrderNotFound:
                not_found += 1
                # Twice "not found" with time between: a request still in flight would have
                # been matched by now.
                if not_found >= 2:
                    return await self._settle_rejected(order, "never reached the venue", OrderState.EXPIRED)
                continue
            except (BrokerRetryable, BrokerOutcomeUnknown) as exc:
                last_error = exc
                continue
            return await self.apply(order, account, venue)
        raise Unavailable(f"order {cid}: the venue could not confirm it ({last_error}); it stays submitted")

    # ------------------------------------------------------------------------------ settle
    async def apply(self, order: dict, account: Account, venue: VenueOrder) -> dict:
        """Apply a venue answer: state, fills (idempotent), position, balances, events."""
        found = list(venue.fills)
        if venue.filled > sum((f.amount for f in found), ZERO) and venue.filled > await self._recorded_amount(order["id"]):
            # The answer did not carry its executions: ask for them.
            since = order["created_at"] - 60_000
            found = [f for f in await account.broker.fetch_fills(order["symbol"], since)
                     if f.order_id == venue.order_id or (f.client_order_id and f.client_order_id == order["client_order_id"])]
        return await self._settle(order, account, venue, found)

    async def _recorded_amount(self, order_id: str) -> Decimal:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(fills.c.amount).where(fills.c.order_id == order_id))).all()
        return sum((r.amount for r in rows), ZERO)

    async def ingest_fills(self, account: Account, venue_fills: Sequence[VenueFill]) -> int:
        """Record fills reported outside an order answer (paper matching, reconciliation);
        returns how many were new. Fills of unknown orders are logged and skipped."""
        with self.relay.order_path():
            return await self._ingest_fills(account, venue_fills)

    async def _ingest_fills(self, account: Account, venue_fills: Sequence[VenueFill]) -> int:
        new = 0
        # A venue in this process (paper) is rebuilt from our books: its fills may commit
        # without waiting for the WAL flush (see _submit_in_process). A live venue's fill
        # keeps a durable commit.
        durable = not account.broker.capabilities.get("in_process")
        for f in venue_fills:
            writer = EventWriter(self.clock.now_ms())
            async with self._book_lock(account.key), self.db.transaction(write=True, durable=durable) as conn:
                if f.client_order_id:
                    r = (await _ORDER_BY_CID.execute(conn, {"b_key": account.key, "b_cid": f.client_order_id})).first()
                else:
                    r = (await _ORDER_BY_VENUE_ID.execute(conn, {"b_key": account.key, "b_vid": f.order_id})).first()
                if r is None:
                    log.warning("fill %s of unknown order %s on %s: flagged, not booked", f.fill_id, f.order_id,
                                account.key)
                    continue
                current = _row(r)
                added = await self._booking.book(conn, writer, current, account, [f])
                if added:
                    new += 1
                    filled = current["filled"] + f.amount
                    target = OrderState.FILLED if filled >= current["amount"] else OrderState.PARTIALLY_FILLED
                    fee = current["fee"] + fee_in_quote(f.fee, f.fee_asset, split_symbol(f.symbol)[0], f.price)
                    avg = ((current["average_price"] or ZERO) * current["filled"] + f.price * f.amount) / filled
                    if not OrderState(current["state"]).final:
                        await self._transition(conn, writer, current, target, filled=filled, fee=fee, average_price=avg,
                                               venue_order_id=current["venue_order_id"] or f.order_id)
                await writer.write(conn)
            self.relay.post(writer.pending)
        return new

    async def _settle(self, order: dict, account: Account, venue: VenueOrder, venue_fills: list[VenueFill]) -> dict:
        for attempt in (1, 2):
            try:
                async with self._book_lock(account.key):
                    return await self._settle_once(order, account, venue, venue_fills)
            except IntegrityError:
                if attempt == 2:
                    raise
                # Another process booked one of these fills first; the retry skips it.
        raise AssertionError("unreachable")

    async def _settle_once(self, order: dict, account: Account, venue: VenueOrder, venue_fills: list[VenueFill]) -> dict:
        writer = EventWriter(self.clock.now_ms())
        async with self.db.transaction(write=True) as conn:
            current = _row((await _ORDER_LOCKED.execute(conn, {"b_id": order["id"]})).first())
            result = await self._settle_in(conn, writer, current, account, venue, venue_fills)
            await writer.write(conn)
        self.relay.post(writer.pending)
        return result

    async def _settle_in(self, conn, writer: EventWriter, current: dict, account: Account, venue: VenueOrder,
                         venue_fills: list[VenueFill], *, fresh: bool = False) -> dict:
        """Book ``venue_fills`` and move ``current`` (locked in ``conn``) to the venue's state.
        ``fresh``: the order row was inserted in this transaction, so the fills booked here are
        all it has (no need to read them back)."""
        booked = await self._booking.book(conn, writer, current, account, venue_fills)
        if fresh:
            rows = [(f["amount"], f["price"], f["fee_quote"]) for f in booked]
        else:
            rows = [tuple(r) for r in (await _FILLS_OF.execute(conn, {"b_id": current["id"]})).all()]
        filled = sum((a for a, _, _ in rows), ZERO)
        fee = sum((q for _, _, q in rows), ZERO)
        avg = (sum((a * p for a, p, _ in rows), ZERO) / filled) if filled else venue.average
        # The venue's status with *our* recorded fills: never claim more than we booked.
        target = state_from_venue(venue.status, max(filled, ZERO), current["amount"])
        if venue.status == "closed" and filled < current["amount"] and venue.filled >= current["amount"]:
            target = OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.ACCEPTED
        state = OrderState(current["state"])
        values = dict(filled=filled, fee=fee, average_price=avg, venue_order_id=venue.order_id)
        if state.final:
            return current
        if target == state and target != OrderState.PARTIALLY_FILLED and current["filled"] == filled:
            await _UPDATE_ORDER.execute(conn, {"b_id": current["id"], **values}, defer=True)
            return {**current, **values}
        if target == OrderState.PARTIALLY_FILLED and state == OrderState.PARTIALLY_FILLED and current["filled"] == filled:
            return current
        return await self._transition(conn, writer, current, target, **values)

    # ------------------------------------------------------------------------------ cancel
    async def cancel(self, order: dict, account: Account) -> dict:
        if OrderState(order["state"]).final:
            return order
        try:
            venue = await account.broker.cancel_order(order["symbol"], order_id=order["venue_order_id"],
                                                      client_order_id=order["client_order_id"])
        except BrokerOrderNotFound:
            return await self.resolve(order, account)
        return await self.apply(order, account, venue)

    async def alert(self, user_id: str, bot_id: str, symbol: str, code: str, message: str) -> None:
        """Publish a notification (``nija.user.<id>.notifications``) through the outbox."""
        from nija.trading.v1 import trading_pb2

        log.warning("alert for bot %s %s: %s", bot_id, symbol, message)
        writer = EventWriter(self.clock.now_ms())
        async with self.db.transaction() as conn:
            await writer.add(conn, user_id, "notifications",
                             trading_pb2.Alert(bot_id=bot_id, symbol=symbol, code=code, message=message[:500]))
        self.relay.post(writer.pending)

    async def fills_of(self, order: dict) -> list[VenueFill]:
        """The fills we booked for ``order``, as the venue reported them."""
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(fills).where(fills.c.order_id == order["id"])
                                       .order_by(fills.c.executed_at))).all()
        return [VenueFill(fill_id=r.venue_fill_id, order_id=order["venue_order_id"] or "", client_order_id=r.client_order_id,
                          symbol=r.symbol, side=r.side, price=r.price, amount=r.amount, fee=r.fee, fee_asset=r.fee_asset,
                          timestamp=r.executed_at) for r in rows]

    async def open_orders(self, *, account_key: str | None = None, user_id: str | None = None,
                          bot_id: str | None = None) -> list[dict]:
        open_states = [OrderState.NEW.value, OrderState.SUBMITTED.value, OrderState.ACCEPTED.value,
                       OrderState.PARTIALLY_FILLED.value]
        q = select(orders).where(orders.c.state.in_(open_states))
        if account_key:
            q = q.where(orders.c.account_key == account_key)
        if user_id:
            q = q.where(orders.c.user_id == user_id)
        if bot_id:
            q = q.where(orders.c.bot_id == bot_id)
        async with self.db.transaction() as conn:
            return [_row(r) for r in (await conn.execute(q.order_by(orders.c.created_at))).all()]


def _intent_of(order: dict) -> OrderIntent:
    return OrderIntent(user_id=order["user_id"], bot_id=order["bot_id"], signal_id=order["signal_id"],
                       symbol=order["symbol"], side=order["side"], type=order["type"], amount=order["amount"],
                       price=order["price"], stop_price=order["stop_price"], post_only=order["post_only"],
                       reduce_only=order["reduce_only"])

