"""The risk engine: the one :class:`PreTradeCheck` of the platform.

How the order path (trading) uses it — all methods taking ``conn`` run in the caller's
transaction and must be called inside the one that records the order or position change:

- ``await risk.pre_trade(conn, request)`` before any broker call. On SQLite open the
  transaction with ``db.transaction(write=True)`` (``BEGIN IMMEDIATE``: the database write lock
  is held before anything is read), or make ``pre_trade`` its first statement (its first
  statement is a write); on PostgreSQL it locks the user's ``risk_user_state`` row.
  It raises :class:`RiskRejected` (``.rule``, ``.flatten``) or counts the order: one more
  trade today, one more open position (``request.opens_position``), more exposure.
- ``await risk.release_order(conn, request)`` when an accepted order ends without any fill
  (broker rejected it, cancelled): gives back its position slot and exposure (the trade still
  counts against the daily limit).
- ``await risk.release_position(conn, user_id, notional_usd=…, closed=…, realized_pnl_usd=…)``
  when a fill shrinks or closes a position: lowers exposure, frees the slot when ``closed``, and
  adds realised P&L to today's loss tracking. ``sync_usage(conn, user_id, open_positions=…,
  exposure_usd=…)`` sets both from the order path's books (restart, reconciliation).
- ``await risk.on_broker_result(user_id, bot_id, ok, conn=None)`` after every broker call of
  an order; returns True when this result disabled the bot (5th consecutive error) — stop the
  bot then. Pass ``conn`` when a transaction is open (SQLite allows one writer at a time).
- ``await risk.engage_user_kill_switch(conn, user_id, actor_id)`` for
  ``POST /api/v1/trading/emergency-stop``; then stop the user's bots, cancel open orders and
  flatten with reduce-only orders (those still pass). ``clear_user_kill_switch`` lifts it.
- ``risk.kill_switch.on_change(callback)`` to cancel open orders / flatten on a global stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core import audit
from nija.core.accounts import AccountService
from nija.core.clock import Clock, SystemClock
from nija.core.db import Prepared
from nija.core.entitlements import Entitlements, PlanLimits, StaticEntitlements
from nija.core.risk._interface import OrderRequest, RiskRejected
from nija.core.risk._killswitch import GlobalKillSwitch
from nija.core.risk._rules import (
    HardLimits,
    Usage,
    UserLimits,
    check_order,
    daily_loss_usd,
    drawdown_pct,
)
from nija.core.risk._tables import risk_bot_state, risk_user_state

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
ZERO = Decimal(0)


def _insert(conn: AsyncConnection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class _Statements:
    """The statements of the order path, built once per dialect and executed with parameters
    (building a statement object costs more than running it on SQLite)."""

    def __init__(self, conn: AsyncConnection) -> None:
        insert = _insert(conn)
        # The user's row in one statement: inserted when missing, else "updated" (updated_at,
        # which the caller sets again) and returned. Being a write it takes SQLite's write lock
        # before anything is read, and on PostgreSQL ON CONFLICT DO UPDATE locks the row like
        # FOR UPDATE until the transaction ends.
        upsert = insert(risk_user_state)
        upsert = upsert.on_conflict_do_update(index_elements=["user_id"],
                                              set_={"updated_at": upsert.excluded.updated_at})
        self.lock_user = Prepared(upsert.returning(*risk_user_state.c))
        # ... with the bot's auto-disable stamp on the same row (NULL: enabled or unknown).
        disabled = select(risk_bot_state.c.disabled_at).where(risk_bot_state.c.bot_id == bindparam("b_bot"))
        self.lock_user_and_bot = Prepared(upsert.returning(*risk_user_state.c,
                                                           disabled.scalar_subquery().label("bot_disabled_at")))
        self.update_user = Prepared(update(risk_user_state).where(risk_user_state.c.user_id == bindparam("b_user")))
        bot = insert(risk_bot_state)
        # A success: claim the bot for the user if no one has (streak 0), or end the user's
        # streak; a row of another user is never touched.
        self.bot_ok = Prepared(bot.on_conflict_do_update(
            index_elements=["bot_id"], set_={"consecutive_errors": 0, "updated_at": bot.excluded.updated_at},
            where=(risk_bot_state.c.user_id == bot.excluded.user_id) & (risk_bot_state.c.consecutive_errors != 0),
        ))


_STATEMENTS: dict[str, _Statements] = {}


def _statements(conn: AsyncConnection) -> _Statements:
    st = _STATEMENTS.get(conn.dialect.name)
    if st is None:
        st = _STATEMENTS[conn.dialect.name] = _Statements(conn)
    return st


@dataclass(frozen=True)
class RiskLimitView:
    name: str
    limit: str
    used: str


@dataclass(frozen=True)
class RiskStateView:
    """What ``GET /api/v1/risk/state`` shows a user."""

    plan: str
    limits: tuple[RiskLimitView, ...]
    drawdown_pct: Decimal
    user_kill_switch: bool
    global_kill_switch: bool
    reduce_only: bool
    disabled_bots: tuple[str, ...]


class RiskEngine:
    """Pre-trade checks against user settings, plan limits, hard controls and kill switches.

    Parameters
    ----------
    db:
        The platform database.
    entitlements:
        The entitlements object, or a zero-argument callable returning the one in force now (so
        a billing implementation installed on the platform later is the one asked).
    clock:
        Time source (the UTC day of the daily counters).
    hard:
        The operator's hard limits (default :meth:`HardLimits.from_env`).
    kill_switch:
        The process's :class:`GlobalKillSwitch` (one is made when omitted).
    """

    def __init__(
        self,
        db,
        *,
        entitlements: Entitlements | Callable[[], Entitlements] | None = None,
        clock: Clock | None = None,
        hard: HardLimits | None = None,
        kill_switch: GlobalKillSwitch | None = None,
    ) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.hard = hard or HardLimits.from_env()
        self.kill_switch = kill_switch or GlobalKillSwitch(db, self.clock)
        if entitlements is None:
            entitlements = StaticEntitlements()
        self._entitlements = entitlements if callable(entitlements) and not hasattr(entitlements, "limits") else (
            lambda: entitlements
        )

    async def plan(self, user_id: str, conn: AsyncConnection | None = None) -> PlanLimits:
        """The user's plan limits; read in ``conn``'s transaction when given (the order's)."""
        return await self._entitlements().limits(user_id, conn)

    # ------------------------------------------------------------------ the check
    async def pre_trade(self, conn: AsyncConnection, request: OrderRequest) -> None:
        """Raise :class:`RiskRejected` naming the rule, or count the order and return."""
        # Fast path first: a kill-switch message already received needs no database round trip.
        if self.kill_switch.blocks(request.reduce_only):
            raise RiskRejected("kill_switch.global", "trading is halted platform-wide (global kill switch)")
        now = self.clock.now_ms()
        day = now // DAY_MS
        row = await self._lock_user(conn, request.user_id, day, now, bot_id=request.bot_id)
        switch = await self.kill_switch.read_locked(conn)
        # Again after the lock wait: the control message may have landed meanwhile.
        if switch.blocks(request.reduce_only) or self.kill_switch.blocks(request.reduce_only):
            raise RiskRejected("kill_switch.global", "trading is halted platform-wide (global kill switch)")

        equity = request.account_equity_usd
        same_day = row.day == day
        stored_peak = Decimal(row.peak_equity) if row.peak_equity is not None else None
        peak = max(stored_peak, equity) if stored_peak is not None else (equity if equity > 0 else None)
        day_start = Decimal(row.day_start_equity) if same_day and row.day_start_equity is not None else None
        usage = Usage(
            trades_today=row.trades_today if same_day else 0,
            open_positions=row.open_positions,
            exposure_usd=Decimal(row.exposure_usd),
            peak_equity=peak,
            day_start_equity=day_start if day_start is not None else (equity if equity > 0 else None),
            realized_pnl_today=Decimal(row.realized_pnl_today) if same_day else ZERO,
            reduce_only=row.reduce_only,
            user_kill_switch=row.kill_switch,
            bot_disabled=bool(request.bot_id) and row.bot_disabled_at is not None,
        )
        settings = await AccountService.load_settings(conn, request.user_id)
        # The plan is read in the order's transaction too: no unit (and round trips) of its own.
        plan = await self.plan(request.user_id, conn)
        check_order(request, usage, UserLimits.from_settings(settings), plan, self.hard)

        opening = not request.reduce_only
        await _statements(conn).update_user.execute(conn, dict(
            b_user=request.user_id,
            day=day,
            trades_today=usage.trades_today + 1,
            realized_pnl_today=usage.realized_pnl_today,
            day_start_equity=usage.day_start_equity,
            open_positions=usage.open_positions + (1 if opening and request.opens_position else 0),
            exposure_usd=usage.exposure_usd + (request.notional_usd if opening else ZERO),
            peak_equity=peak,
            last_equity=equity if equity > 0 else row.last_equity,
            updated_at=now,
        ), defer=True)  # the row is locked (_lock_user): nothing needs this write's answer

    async def _lock_user(self, conn: AsyncConnection, user_id: str, day: int, now: int, *, bot_id: str | None = None):
        """The user's row, locked (PostgreSQL: FOR UPDATE). With ``bot_id`` the row also carries
        ``bot_disabled_at``, the bot's auto-disable stamp (NULL: enabled or unknown)."""
        # One write: on SQLite it takes the write lock before anything is read (no
        # read-then-write race between connections); on PostgreSQL it locks the row.
        st = _statements(conn)
        values = dict(user_id=user_id, day=day, trades_today=0, realized_pnl_today=ZERO, day_start_equity=None,
                      open_positions=0, exposure_usd=ZERO, peak_equity=None, last_equity=None, reduce_only=False,
                      kill_switch=False, updated_at=now)
        if bot_id:
            return (await st.lock_user_and_bot.execute(conn, {**values, "b_bot": bot_id})).one()
        return (await st.lock_user.execute(conn, values)).one()

    # ------------------------------------------------------------------ order-path feedback
    async def release_order(self, conn: AsyncConnection, request: OrderRequest) -> None:
        """Undo the position slot and exposure of an accepted order that never filled."""
        if request.reduce_only:
            return
        await self._adjust(conn, request.user_id, slots=1 if request.opens_position else 0,
                           exposure=request.notional_usd, pnl=ZERO)

    async def release_position(
        self, conn: AsyncConnection, user_id: str, *, notional_usd: Decimal, closed: bool,
        realized_pnl_usd: Decimal = ZERO,
    ) -> None:
        """A fill shrank (``closed=False``) or closed a position by ``notional_usd`` of exposure."""
        await self._adjust(conn, user_id, slots=1 if closed else 0, exposure=notional_usd, pnl=realized_pnl_usd)

    async def sync_usage(self, conn: AsyncConnection, user_id: str, *, open_positions: int,
                         exposure_usd: Decimal) -> None:
        """Set the position count and exposure to what the order path's books hold (after a
        restart or a reconciliation with the venue), under the user's row lock."""
        now = self.clock.now_ms()
        await self._lock_user(conn, user_id, now // DAY_MS, now)
        await conn.execute(
            update(risk_user_state).where(risk_user_state.c.user_id == user_id).values(
                open_positions=max(open_positions, 0), exposure_usd=max(exposure_usd, ZERO), updated_at=now,
            )
        )

    async def _adjust(self, conn: AsyncConnection, user_id: str, *, slots: int, exposure: Decimal, pnl: Decimal) -> None:
        now = self.clock.now_ms()
        row = await self._lock_user(conn, user_id, now // DAY_MS, now)
        same_day = row.day == now // DAY_MS
        await _statements(conn).update_user.execute(conn, dict(
            b_user=user_id,
            open_positions=max(row.open_positions - slots, 0),
            exposure_usd=max(Decimal(row.exposure_usd) - exposure, ZERO),
            realized_pnl_today=(Decimal(row.realized_pnl_today) if same_day else ZERO) + pnl,
            trades_today=row.trades_today if same_day else 0,
            day_start_equity=row.day_start_equity if same_day else None,
            day=now // DAY_MS,
            updated_at=now,
        ), defer=True)

    async def on_broker_result(
        self, user_id: str, bot_id: str | None, ok: bool, *, conn: AsyncConnection | None = None
    ) -> bool:
        """Count consecutive broker API errors per bot; the ``hard.max_consecutive_broker_errors``
        -th in a row disables the bot (audited). Returns True when this call disabled it."""
        if not bot_id:
            return False
        if conn is None:
            async with self.db.transaction(write=True) as own:
                return await self._broker_result(own, user_id, bot_id, ok)
        return await self._broker_result(conn, user_id, bot_id, ok)

    async def _broker_result(self, conn: AsyncConnection, user_id: str, bot_id: str, ok: bool) -> bool:
        now = self.clock.now_ms()
        if ok:  # the common case, one statement: a success never disables
            await _statements(conn).bot_ok.execute(conn, dict(bot_id=bot_id, user_id=user_id, consecutive_errors=0,
                                                              disabled_at=None, updated_at=now), defer=True)
            return False
        insert = _insert(conn)
        await conn.execute(
            insert(risk_bot_state).values(bot_id=bot_id, user_id=user_id, consecutive_errors=0, disabled_at=None,
                                          updated_at=now).on_conflict_do_nothing(index_elements=["bot_id"])
        )
        query = select(risk_bot_state).where(
            risk_bot_state.c.bot_id == bot_id, risk_bot_state.c.user_id == user_id
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:  # the bot id belongs to another user: never touch it
            return False
        errors = 0 if ok else row.consecutive_errors + 1
        disable = row.disabled_at is None and errors >= self.hard.max_consecutive_broker_errors
        values: dict = {"consecutive_errors": errors, "updated_at": now}
        if disable:
            values["disabled_at"] = now
        await conn.execute(update(risk_bot_state).where(risk_bot_state.c.bot_id == bot_id).values(**values))
        if disable:
            await audit.record(conn, action="risk.bot.auto_disable", outcome="success", at=now, user_id=user_id,
                               actor_id="system", detail={"bot_id": bot_id, "consecutive_errors": errors})
            log.warning("bot %s of user %s disabled after %d consecutive broker errors", bot_id, user_id, errors)
        return disable

    async def enable_bot(self, conn: AsyncConnection, user_id: str, bot_id: str, *, actor_id: str,
                         client_ip: str | None = None) -> None:
        """Clear a bot's error streak and auto-disable (the user restarts it); audited."""
        now = self.clock.now_ms()
        done = await conn.execute(
            update(risk_bot_state).where(risk_bot_state.c.bot_id == bot_id, risk_bot_state.c.user_id == user_id)
            .values(consecutive_errors=0, disabled_at=None, updated_at=now)
        )
        if done.rowcount:
            await audit.record(conn, action="risk.bot.enable", outcome="success", at=now, user_id=user_id,
                               actor_id=actor_id, client_ip=client_ip, detail={"bot_id": bot_id})

    # ------------------------------------------------------------------ per-user switches
    async def engage_user_kill_switch(self, conn: AsyncConnection, user_id: str, actor_id: str, *,
                                      reason: str = "", client_ip: str | None = None) -> None:
        """The user's emergency stop: from now on only reduce-only orders of ``user_id`` pass.
        ``actor_id`` is the user or an admin. Audited. The caller stops bots, cancels, flattens."""
        await self._set_user_flag(conn, user_id, actor_id, "kill_switch", True, reason, client_ip)

    async def clear_user_kill_switch(self, conn: AsyncConnection, user_id: str, actor_id: str, *,
                                     reason: str = "", client_ip: str | None = None) -> None:
        await self._set_user_flag(conn, user_id, actor_id, "kill_switch", False, reason, client_ip)

    async def set_reduce_only(self, conn: AsyncConnection, user_id: str, on: bool, actor_id: str, *,
                              reason: str = "", client_ip: str | None = None) -> None:
        """Portfolio reduce-only mode across all of the user's bots and exchanges; audited."""
        await self._set_user_flag(conn, user_id, actor_id, "reduce_only", on, reason, client_ip)

    async def _set_user_flag(self, conn, user_id, actor_id, flag, on, reason, client_ip) -> None:
        now = self.clock.now_ms()
        await self._lock_user(conn, user_id, now // DAY_MS, now)
        values: dict = {flag: on, "updated_at": now}
        if flag == "kill_switch":
            values.update(kill_switch_by=actor_id, kill_switch_reason=reason[:500], kill_switch_at=now)
        await conn.execute(update(risk_user_state).where(risk_user_state.c.user_id == user_id).values(**values))
        name = "user_kill_switch" if flag == "kill_switch" else "reduce_only"
        await audit.record(conn, action=f"risk.{name}.{'engage' if on else 'clear'}", outcome="success", at=now,
                           user_id=user_id, actor_id=actor_id, client_ip=client_ip,
                           detail={"reason": reason[:500]} if reason else None)

    # ------------------------------------------------------------------ reporting
    async def state(self, user_id: str) -> RiskStateView:
        """The user's limits in force, today's usage, drawdown and switches."""
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            row = (await conn.execute(select(risk_user_state).where(risk_user_state.c.user_id == user_id))).first()
            settings = await AccountService.load_settings(conn, user_id)
            disabled = tuple(sorted((await conn.execute(
                select(risk_bot_state.c.bot_id).where(risk_bot_state.c.user_id == user_id,
                                                      risk_bot_state.c.disabled_at.is_not(None))
            )).scalars()))
        await self.kill_switch.load(force=False)  # the newer of the row and what NATS announced
        plan = await self.plan(user_id)
        user = UserLimits.from_settings(settings)
        hard = self.hard
        same_day = row is not None and row.day == now // DAY_MS
        trades = row.trades_today if same_day else 0
        positions = row.open_positions if row else 0
        exposure = Decimal(row.exposure_usd) if row else ZERO
        equity = Decimal(row.last_equity) if row is not None and row.last_equity is not None else None
        peak = Decimal(row.peak_equity) if row is not None and row.peak_equity is not None else None
        drawdown = drawdown_pct(peak, equity) if equity is not None else ZERO
        usage = Usage(
            day_start_equity=Decimal(row.day_start_equity) if same_day and row.day_start_equity is not None else None,
            realized_pnl_today=Decimal(row.realized_pnl_today) if same_day else ZERO,
        )
        loss = daily_loss_usd(usage, equity) if equity is not None else ZERO
        loss_pct = (loss / usage.day_start_equity * 100) if usage.day_start_equity else ZERO

        def fmt(value) -> str:
            return "" if value is None else (str(value) if not isinstance(value, Decimal) else f"{value.normalize():f}")

        position_usd = min(user.max_position_size, plan.max_position_usd) if plan.max_position_usd is not None \
            else user.max_position_size
        limits = (
            RiskLimitView("trades_per_day", fmt(min(hard.max_trades_per_day, plan.max_trades_per_day)), fmt(trades)),
            RiskLimitView("open_positions", fmt(min(user.max_concurrent_positions, plan.max_positions)), fmt(positions)),
            RiskLimitView("max_position_usd", fmt(position_usd), ""),
            RiskLimitView("position_size_min_pct", fmt(hard.min_position_pct), ""),
            RiskLimitView("position_size_max_pct", fmt(hard.max_position_pct), ""),
            RiskLimitView("daily_loss_usd", fmt(user.max_daily_loss_usd) if user.max_daily_loss_usd else "",
                          fmt(loss.quantize(Decimal("0.01")))),
            RiskLimitView("daily_loss_pct", fmt(user.max_daily_loss_pct), fmt(loss_pct.quantize(Decimal("0.01")))),
            RiskLimitView("total_exposure_usd",
                          fmt((equity * hard.max_total_exposure_pct / 100).quantize(Decimal("0.01")))
                          if equity is not None else "", fmt(exposure)),
            RiskLimitView("max_drawdown_pct", fmt(hard.max_drawdown_pct), fmt(drawdown.quantize(Decimal("0.01")))),
            RiskLimitView("live_trading", "true" if plan.live_trading else "false", ""),
        )
        return RiskStateView(
            plan=plan.plan, limits=limits, drawdown_pct=drawdown.quantize(Decimal("0.01")),
            user_kill_switch=bool(row.kill_switch) if row else False,
            global_kill_switch=self.kill_switch.current.active,
            reduce_only=bool(row.reduce_only) if row else False, disabled_bots=disabled,
        )
