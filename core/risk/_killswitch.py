"""The global kill switch: a persisted flag plus a NATS control subject every process obeys.

Two layers, checked in this order by :meth:`RiskEngine.pre_trade`:

1. an in-memory flag flipped by the ``nija.control.killswitch`` subscription (no I/O: a
   process stops accepting orders as soon as the message arrives);
2. the persisted row ``risk_kill_switch('global')``, read with ``FOR SHARE`` inside the order's
   transaction. :meth:`GlobalKillSwitch.set` updates that row, which waits for every order
   transaction that already read it; so once ``set`` returns (the switch is *acknowledged*),
   every order accepted anywhere has committed and every later order sees the flag. On SQLite
   the order transaction holds the database write lock, which orders them the same way.

The row is the source of truth at start-up and after a NATS reconnect; a periodic refresh
repairs a process that missed a message. Changing the switch is audited.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Awaitable, Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core import audit
from nija.core.clock import Clock, SystemClock
from nija.core.db import Prepared
from nija.core.risk._tables import risk_kill_switch

log = logging.getLogger(__name__)

SUBJECT = "nija.control.killswitch"
GLOBAL_ID = "global"
# Read on every order (built once, executed with parameters: see trading/_orders.py).
_READ = select(risk_kill_switch).where(risk_kill_switch.c.id == bindparam("b_id"))
_READ_PREPARED = Prepared(_READ)  # also the start-up and refresh read (load)
_READ_SHARED = Prepared(_READ.with_for_update(read=True))


@dataclass(frozen=True)
class KillSwitchView:
    active: bool
    flatten: bool
    changed_at: int
    changed_by: str | None
    reason: str

    def blocks(self, reduce_only: bool) -> bool:
        """Whether an order is refused: all orders while active, except reduce-only orders when
        the admin asked for a flatten (those are the flatten)."""
        return self.active and not (self.flatten and reduce_only)


INACTIVE = KillSwitchView(active=False, flatten=False, changed_at=0, changed_by=None, reason="")


def _encode(view: KillSwitchView) -> bytes:
    # The control subject carries the contract's KillSwitchState message.
    from nija.admin.v1 import admin_pb2

    return admin_pb2.KillSwitchState(
        active=view.active, flatten=view.flatten, changed_at=view.changed_at,
        changed_by=view.changed_by or "", reason=view.reason,
    ).SerializeToString()


def _decode(data: bytes) -> KillSwitchView:
    from nija.admin.v1 import admin_pb2

    msg = admin_pb2.KillSwitchState.FromString(data)
    return KillSwitchView(msg.active, msg.flatten, msg.changed_at, msg.changed_by or None, msg.reason)


def _view(row) -> KillSwitchView:
    if row is None:
        return INACTIVE
    return KillSwitchView(bool(row.active), bool(row.flatten), row.changed_at, row.changed_by, row.reason or "")


Listener = Callable[[KillSwitchView], Awaitable[None]]


class GlobalKillSwitch:
    """The process-local view of the global kill switch, and the one way to change it.

    Parameters
    ----------
    db:
        The platform database (``nija.core.db.Database``).
    clock:
        Time source for ``changed_at``.
    refresh_s:
        How often a started switch re-reads the persisted row, repairing a missed message.
    """

    def __init__(self, db, clock: Clock | None = None, *, refresh_s: float = 5.0) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.refresh_s = refresh_s
        self.current: KillSwitchView = INACTIVE
        self._listeners: list[Listener] = []
        self._nc = None
        self._refresher: asyncio.Task | None = None

    # ------------------------------------------------------------------ reading
    def blocks(self, reduce_only: bool) -> bool:
        """The in-memory check: no I/O, first thing in every pre-trade check."""
        return self.current.blocks(reduce_only)

    async def read_locked(self, conn: AsyncConnection) -> KillSwitchView:
        """The persisted state, share-locked for the rest of the order's transaction (a
        concurrent :meth:`set` waits until that transaction ends)."""
        query = _READ_SHARED if conn.dialect.name == "postgresql" else _READ_PREPARED
        view = _view((await query.execute(conn, {"b_id": GLOBAL_ID})).first())
        self._apply(view)
        return view

    async def load(self, *, force: bool = True) -> KillSwitchView:
        """Re-read the persisted state (start-up, reconnect, periodic refresh) and adopt it;
        with ``force=False`` a newer state already heard on NATS (an engage announced before
        it is committed) is kept."""
        async with self.db.transaction() as conn:
            row = (await _READ_PREPARED.execute(conn, {"b_id": GLOBAL_ID})).first()
        view = _view(row)
        self._apply(view, force=force)
        return view

    def on_change(self, listener: Listener) -> None:
        """Register ``await listener(view)`` for every change this process learns of (trading
        cancels open orders and, when ``view.flatten``, flattens positions)."""
        self._listeners.append(listener)

    def _apply(self, view: KillSwitchView, *, force: bool = False) -> None:
        previous = self.current
        # Messages can arrive out of order with a refresh: never go back to an older state.
        if not force and view.changed_at < previous.changed_at:
            return
        self.current = view
        if (view.active, view.flatten, view.changed_at) != (previous.active, previous.flatten, previous.changed_at):
            log.warning("global kill switch %s by %s: %s", "ENGAGED" if view.active else "cleared",
                        view.changed_by, view.reason)
            for listener in self._listeners:
                task = asyncio.get_running_loop().create_task(listener(view))
                task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ changing
    async def set(
        self, *, active: bool, flatten: bool, reason: str, actor_id: str, client_ip: str | None = None
    ) -> KillSwitchView:
        """Engage or clear the switch: persist (audited), apply here, announce on NATS.

        Engaging announces first (every subscribed process stops accepting orders as soon as
        the message lands, without waiting for the database), then persists. Clearing persists
        first. Returns once the change is committed — the acknowledgement: from then on no order
        is accepted anywhere, because every order reads the row under a share lock — and
        announced to every subscribed process.
        """
        now = self.clock.now_ms()
        view = KillSwitchView(active, flatten and active, now, actor_id, reason[:500])
        if active:
            # Stopping is the safe direction: stop first, persist second.
            self._apply(view, force=True)
            await self.publish(view)
        try:
            async with self.db.transaction() as conn:
                # The UPDATE waits for in-flight orders holding the row FOR SHARE.
                values = dict(active=view.active, flatten=view.flatten, changed_by=actor_id, reason=view.reason,
                              changed_at=now)
                done = await conn.execute(
                    update(risk_kill_switch).where(risk_kill_switch.c.id == GLOBAL_ID).values(**values)
                )
                if done.rowcount == 0:
                    await conn.execute(risk_kill_switch.insert().values(id=GLOBAL_ID, **values))
                await audit.record(
                    conn, action="risk.kill_switch.global." + ("engage" if active else "clear"), outcome="success",
                    at=now, actor_id=actor_id, client_ip=client_ip,
                    detail={"flatten": view.flatten, "reason": view.reason},
                )
        except BaseException:
            if active:
                # Not persisted: put every process back on the persisted state.
                try:
                    await self.publish(replace(await self.load(), changed_at=now))
                except Exception:  # noqa: BLE001 - the periodic refresh repairs it
                    log.exception("could not take back an unpersisted kill switch")
            raise
        self._apply(view, force=True)
        await self.publish(view)
        return view

    async def publish(self, view: KillSwitchView) -> None:
        """Announce ``view`` on the control subject (no-op without NATS)."""
        if self._nc is None:
            return
        await self._nc.publish(SUBJECT, _encode(view))
        await self._nc.flush(timeout=2)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, nats_url: str | None) -> "GlobalKillSwitch":
        """Load the persisted state, (with ``nats_url``) subscribe to the control subject, and
        refresh from the database every ``refresh_s`` seconds."""
        await self.load()
        if nats_url:
            import nats

            # Import the message classes now: a first import inside the message handler would
            # cost tens of milliseconds exactly when the switch is pulled.
            _decode(_encode(INACTIVE))

            async def reconnected() -> None:
                await self.load()

            self._nc = await nats.connect(
                nats_url, name="nija-killswitch", max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                connect_timeout=5, reconnected_cb=reconnected,
            )
            await self._nc.subscribe(SUBJECT, cb=self._on_message)
            await self._nc.flush(timeout=5)
            # A change between load() and subscribe() would be missed; read once more.
            await self.load()
        # Without NATS the refresh is how this process learns of a change at all.
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())
        return self

    async def _on_message(self, msg) -> None:
        try:
            self._apply(_decode(msg.data))
        except Exception:  # noqa: BLE001 - a malformed message must not kill the subscription
            log.exception("ignored a malformed message on %s", SUBJECT)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.load(force=False)
            except Exception:  # noqa: BLE001 - database down: keep the last known state
                log.warning("kill switch refresh failed; keeping the last known state", exc_info=True)

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            try:
                # close, not drain: nothing is pending, and NATS may already be gone at shutdown.
                await asyncio.wait_for(nc.close(), 2)
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.debug("kill switch NATS connection did not close cleanly", exc_info=True)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kill switch listener failed", exc_info=task.exception())
