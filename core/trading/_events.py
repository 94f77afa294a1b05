"""Trading events: protobuf payloads written to the outbox in the transaction of the change,
published to NATS JetStream after commit (event id = ``Nats-Msg-Id``), re-sent after a crash.

Subjects: ``nija.user.<user_id>.orders|fills|positions`` (docs/events.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.common.v1 import common_pb2
from nija.core.db import Prepared
from nija.core.money import decimal_to_str
from nija.core.trading._tables import events
from nija.trading.v1 import trading_pb2

log = logging.getLogger(__name__)

_SIDES = {"buy": common_pb2.ORDER_SIDE_BUY, "sell": common_pb2.ORDER_SIDE_SELL}


def _s(value: Decimal | None) -> str:
    return "" if value is None else decimal_to_str(value)


def order_message(row: Mapping[str, Any]) -> trading_pb2.Order:
    return trading_pb2.Order(
        id=row["id"], bot_id=row["bot_id"], client_order_id=row["client_order_id"],
        venue_order_id=row.get("venue_order_id") or "", symbol=row["symbol"], side=_SIDES[row["side"]],
        type=row["type"], amount=_s(row["amount"]), price=_s(row.get("price")), stop_price=_s(row.get("stop_price")),
        state=row["state"], filled=_s(row["filled"]), average_price=_s(row.get("average_price")),
        fee=_s(row["fee"]), reason=row.get("reason") or "", created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def trade_message(row: Mapping[str, Any]) -> trading_pb2.Trade:
    return trading_pb2.Trade(
        id=row["id"], order_id=row["order_id"], client_order_id=row["client_order_id"], symbol=row["symbol"],
        side=_SIDES[row["side"]], price=_s(row["price"]), quantity=_s(row["amount"]), fee=_s(row["fee"]),
        fee_asset=row["fee_asset"], executed_at=row["executed_at"], bot_id=row["bot_id"],
        realized_pnl=_s(row["realized_pnl"]),
    )


def position_message(row: Mapping[str, Any]) -> trading_pb2.Position:
    mark = row.get("mark_price")
    qty, entry = row["quantity"], row["average_entry"]
    unrealized = (mark - entry) * qty if mark is not None and qty != 0 else Decimal(0)
    return trading_pb2.Position(
        symbol=row["symbol"], quantity=_s(qty), entry_price=_s(entry), mark_price=_s(mark),
        unrealized_pnl=_s(unrealized), realized_pnl=_s(row["realized_pnl"]), bot_id=row["bot_id"],
        fees=_s(row["fees"]),
    )


@dataclass
class PendingEvent:
    id: str
    subject: str
    payload: bytes


_FIELDS = {"orders": "order", "fills": "fill", "positions": "position", "notifications": "alert"}


@dataclass
class EventWriter:
    """Collects the events of one unit of work for the outbox; ``pending`` is what to publish
    once the unit committed.

    ``add`` writes one outbox row at once. ``stage`` only collects it, and ``write`` puts every
    staged row in the outbox with one statement: the caller must ``write`` in the same
    transaction before it commits (the order path does, at the end of each unit).
    """

    now_ms: int
    pending: list[PendingEvent] = field(default_factory=list)
    _rows: list[dict] = field(default_factory=list)

    def stage(self, user_id: str, kind: str, message) -> None:
        event_id = uuid.uuid4().hex
        envelope = trading_pb2.TradingEvent(event_id=event_id, time=self.now_ms, user_id=user_id)
        getattr(envelope, _FIELDS[kind]).CopyFrom(message)
        payload = envelope.SerializeToString()
        subject = f"nija.user.{user_id}.{kind}"
        self._rows.append(dict(id=event_id, user_id=user_id, subject=subject, kind=kind, payload=payload,
                               created_at=self.now_ms))
        self.pending.append(PendingEvent(event_id, subject, payload))

    async def write(self, conn: AsyncConnection) -> None:
        """Insert the staged rows (in staging order: ``seq`` keeps it) in ``conn``'s transaction."""
        if self._rows:
            rows, self._rows = self._rows, []
            await _INSERT_EVENT.execute(conn, rows, defer=True)

    async def add(self, conn: AsyncConnection, user_id: str, kind: str, message) -> None:
        self.stage(user_id, kind, message)
        await self.write(conn)


_INSERT_EVENT = Prepared(events.insert())


class EventRelay:
    """Publishes committed outbox rows to the bus and marks them published.

    A crash between commit and publish leaves rows with ``published_at`` NULL; ``flush()`` at
    start-up sends them. Publishing twice is harmless: JetStream de-duplicates on the event id.

    ``publish`` waits for JetStream's acks. ``post`` hands committed events to one background
    publisher and returns at once (the order path uses it: its latency ends at the durable
    outbox row, the ack follows asynchronously); ``drain`` waits until everything posted was
    acked or failed. The publisher takes batches in the order they were posted and sends each
    batch in commit order on the bus's one connection (``publish_batch``: one round trip of
    acks per batch), so events reach JetStream in commit order.
    While an order-path call is in progress (``order_path()``: submit, fill booking) the
    publisher waits for it to return, up to ``max_defer_s`` (5 ms) per batch, so publishing
    does not lengthen the order's own latency on the shared event loop; what was posted
    meanwhile then goes out as one batch.
    """

    def __init__(self, db, bus, clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self._lock = asyncio.Lock()
        # How long published ids wait to be marked (one UPDATE for all of them). Each marking
        # is a write unit that holds SQLite's write lock while it runs, which an order arriving
        # then waits for; every 0.2 s that was most of the order path's p99. A crash before the
        # marking re-publishes at most these seconds of events at start-up, which JetStream
        # drops as duplicates (same event ids, inside its 2-minute duplicate window).
        self.mark_delay_s = 5.0
        self._to_mark: list[str] = []
        self._marker: asyncio.Task | None = None
        self._posted: list[list[PendingEvent]] = []
        self._publisher: asyncio.Task | None = None
        # Order-path calls in progress (``order_path``): the publisher lets them finish first,
        # for at most ``max_defer_s`` per batch, so its work does not lengthen theirs.
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.max_defer_s = 0.005

    @contextlib.contextmanager
    def order_path(self):
        """Mark an order-path call (submit, fill booking) in progress for its duration."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def publish(self, pending: list[PendingEvent]) -> bool:
        """Publish and mark; False when the bus failed (the rows stay for the next flush)."""
        if self.bus is None or not pending:
            return False
        try:
            # In commit order on the bus's connection, the acks awaited together.
            await self.bus.publish_batch([(e.subject, e.payload, e.id) for e in pending])
        except ConnectionError as exc:
            log.debug("no event bus (%s); %d event(s) stay in the outbox", exc, len(pending))
            return False
        except Exception:  # noqa: BLE001 - the outbox keeps them; flush() retries
            log.warning("publishing %d trading event(s) failed; they stay in the outbox", len(pending), exc_info=True)
            return False
        # Marking is batched off the hot path: one UPDATE for many events. A crash before it
        # only means those events are published again at start-up (same event ids).
        self._to_mark.extend(e.id for e in pending)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_soon())
        return True

    def post(self, pending: list[PendingEvent]) -> None:
        """Queue committed events for the background publisher (never blocks, never raises)."""
        if self.bus is None or not pending:
            return
        self._posted.append(pending)
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_posted(), name="trading-events")

    async def _publish_posted(self) -> None:
        while self._posted:
            if self._in_flight:
                # The order path is running (its units commit, then post): publish once it
                # returned, or after max_defer_s, whichever comes first. The events are durable
                # in the outbox meanwhile; a backlog then goes out as one batch.
                try:
                    await asyncio.wait_for(self._idle.wait(), self.max_defer_s)
                except asyncio.TimeoutError:
                    pass
            # One unit at a time; a backlog (the bus is slower than the order path) goes as one
            # batch, its acks awaited together.
            if len(self._posted) == 1:
                batch = self._posted.pop()
            else:
                batch, self._posted = [event for unit in self._posted for event in unit], []
            await self.publish(batch)  # failures are logged; the rows stay for flush()

    async def drain(self) -> None:
        """Wait until every posted event was published (or failed and stays in the outbox)."""
        while self._publisher is not None and not self._publisher.done():
            await asyncio.shield(self._publisher)

    async def _mark_soon(self) -> None:
        await asyncio.sleep(self.mark_delay_s)
        await self.mark_published()

    async def mark_published(self) -> None:
        """Write ``published_at`` for every event published since the last call."""
        while self._to_mark:
            ids, self._to_mark = self._to_mark[:500], self._to_mark[500:]
            async with self.db.transaction() as conn:
                await conn.execute(update(events).where(events.c.id.in_(ids)).values(published_at=self.clock.now_ms()))

    async def flush(self, batch: int = 500) -> int:
        """Publish everything still unpublished, oldest first. Returns how many were sent."""
        if self.bus is None:
            return 0
        sent = 0
        async with self._lock:
            while True:
                async with self.db.transaction() as conn:
                    rows = (await conn.execute(
                        select(events.c.id, events.c.subject, events.c.payload)
                        .where(events.c.published_at.is_(None)).order_by(events.c.seq).limit(batch)
                    )).all()
                if not rows:
                    return sent
                if not await self.publish([PendingEvent(r.id, r.subject, bytes(r.payload)) for r in rows]):
                    return sent
                await self.mark_published()
                sent += len(rows)
                if len(rows) < batch:
                    return sent
