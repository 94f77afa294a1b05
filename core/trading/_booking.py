"""Fill booking: what a venue's fill of an order changes in our books.

One fill, in the caller's transaction (``OrderManager`` opens it with
``db.transaction(write=True)``, so on SQLite the position read here cannot change before the
commit): the fill row, the bot's position and realised P&L (``nija.core.portfolio.Position``,
the backtester's accounting), the paper balances of a paper account, the exposure risk gives
back when the fill shrinks or closes a position, and the ``fills`` and ``positions`` events.
The order's own state (filled amount, average price, fee, transition) stays with the order
path (``_orders.py``).

Invariants
----------
- A fill is recorded once per (account, venue fill id): the unique index decides, so a retry,
  a replay or another process booking the same fill inserts nothing and moves nothing.
- Positions and paper balances move only when a fill row is inserted, in the same transaction.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.db import Prepared
from nija.core.plugins.broker import VenueFill
from nija.core.portfolio import Fill, Position, Side
from nija.core.trading._events import EventWriter, position_message, trade_message
from nija.core.trading._ledger import balance_changes, fee_in_quote
from nija.core.trading._model import split_symbol
from nija.core.trading._tables import fills, paper_balances, positions

if TYPE_CHECKING:  # the order path imports this module
    from nija.core.trading._orders import Account

ZERO = Decimal(0)

# Built once, executed with parameters (see _orders.py).
_POSITION_LOCKED = Prepared(select(positions).where(
    positions.c.bot_id == bindparam("b_bot"), positions.c.symbol == bindparam("b_symbol")).with_for_update())
_UPDATE_POSITION = Prepared(update(positions).where(positions.c.id == bindparam("b_id")))
_INSERT_POSITION = Prepared(positions.insert())
# Every asset of the account (a paper account holds a handful), not an IN list of the two a
# fill moves: an IN list is expanded per execution, which Prepared leaves to SQLAlchemy.
_BALANCES_LOCKED = Prepared(select(paper_balances.c.asset, paper_balances.c.total).where(
    paper_balances.c.account_key == bindparam("b_key")).with_for_update())
_SET_BALANCE = Prepared(update(paper_balances).where(
    paper_balances.c.account_key == bindparam("b_key"), paper_balances.c.asset == bindparam("b_asset"),
).values(total=bindparam("b_total"), updated_at=bindparam("b_now")))


class Booking:
    """Books fills of an order into fills, positions, paper balances and risk's exposure.

    Parameters
    ----------
    risk : PreTradeCheck
        Told of every fill that shrinks or closes a position (``release_position``, when it
        has one).
    usd : callable
        ``asset -> Decimal | None``: the USD value of one unit (risk's exposure and P&L).
    """

    def __init__(self, risk, usd: Callable[[str], Decimal | None]) -> None:
        self.risk = risk
        self._usd = usd
        self._fill_insert: dict[str, Any] = {}

    async def book(self, conn: AsyncConnection, writer: EventWriter, order: dict, account: Account,
                   venue_fills: Sequence[VenueFill]) -> list[dict]:
        """Book the fills of ``order`` not booked yet, in ``conn``; returns the fill rows inserted."""
        base, quote = split_symbol(order["symbol"])
        booked: list[dict] = []
        for f in venue_fills:
            fee_quote = fee_in_quote(f.fee, f.fee_asset, base, f.price)
            prow = (await _POSITION_LOCKED.execute(conn, {"b_bot": order["bot_id"], "b_symbol": order["symbol"]})).first()
            pos = Position(order["bot_id"], order["symbol"])
            if prow is not None:
                pos.quantity, pos.avg_entry_price = prow.quantity, prow.average_entry
                pos.realized_pnl, pos.fees = prow.realized_pnl, prow.fees
            was_open = pos.quantity
            realized = pos.apply(Fill(account=order["bot_id"], symbol=order["symbol"], side=Side(f.side),
                                      quantity=f.amount, price=f.price, fee=fee_quote, ts_ms=f.timestamp,
                                      order_id=order["client_order_id"], liquidity="maker" if f.maker else "taker"))
            fill_row = dict(
                id=str(uuid.uuid4()), order_id=order["id"], user_id=order["user_id"], bot_id=order["bot_id"],
                account_key=account.key, venue_fill_id=f.fill_id, client_order_id=order["client_order_id"],
                symbol=order["symbol"], side=f.side, price=f.price, amount=f.amount, fee=f.fee, fee_asset=f.fee_asset,
                fee_quote=fee_quote, realized_pnl=realized, executed_at=f.timestamp,
            )
            # The unique (account, venue fill id) decides "booked already" (nothing was written
            # for this fill before this statement, so skipping it leaves no trace).
            if (await self._insert_fill_once(conn).execute(conn, fill_row)).rowcount == 0:
                continue
            pvalues = dict(quantity=pos.quantity, average_entry=pos.avg_entry_price, realized_pnl=pos.realized_pnl,
                           fees=pos.fees, mark_price=f.price, updated_at=writer.now_ms)
            if prow is None:
                await _INSERT_POSITION.execute(conn, dict(id=str(uuid.uuid4()), user_id=order["user_id"],
                                                          bot_id=order["bot_id"], symbol=order["symbol"], **pvalues),
                                               defer=True)
            else:
                await _UPDATE_POSITION.execute(conn, {"b_id": prow.id, **pvalues}, defer=True)
            if account.paper:
                await _add_balances(conn, account.key, balance_changes(f.side, f.amount, f.price, f.fee, f.fee_asset,
                                                                       base, quote), writer.now_ms)
            await self._release_position(conn, order, was_open, pos.quantity, f, realized - fee_quote, quote)
            writer.stage(order["user_id"], "fills", trade_message(fill_row))
            writer.stage(order["user_id"], "positions", position_message(
                dict(symbol=order["symbol"], bot_id=order["bot_id"], **pvalues)))
            booked.append(fill_row)
        return booked

    def _insert_fill_once(self, conn: AsyncConnection):
        """``INSERT … ON CONFLICT (account_key, venue_fill_id) DO NOTHING`` for ``conn``'s
        dialect: a fill already booked (retry, replay, another process) inserts nothing."""
        name = conn.dialect.name
        stmt = self._fill_insert.get(name)
        if stmt is None:
            if name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = self._fill_insert[name] = Prepared(insert(fills).on_conflict_do_nothing(
                index_elements=["account_key", "venue_fill_id"]))
        return stmt

    async def _release_position(self, conn: AsyncConnection, order: dict, before: Decimal, after: Decimal,
                                f: VenueFill, net_pnl: Decimal, quote: str) -> None:
        release = getattr(self.risk, "release_position", None)
        if release is None or before == 0 or (before > 0) == (f.side == "buy"):
            return
        usd = self._usd(quote) or ZERO
        closed = min(abs(before), f.amount)
        await release(conn, order["user_id"], notional_usd=closed * f.price * usd, closed=after == 0 or (after > 0) != (before > 0),
                      realized_pnl_usd=net_pnl * usd)


async def _add_balances(conn: AsyncConnection, account_key: str, changes: dict[str, Decimal], now: int) -> None:
    """Add ``changes`` (asset -> delta) to the account's paper balances: one locked read of the
    account's balances, one batched update, an insert for an asset the account never held."""
    if not changes:
        return
    current = {r.asset: r.total for r in (await _BALANCES_LOCKED.execute(conn, {"b_key": account_key})).all()
               if r.asset in changes}
    updates = [{"b_key": account_key, "b_asset": a, "b_total": current[a] + d, "b_now": now}
               for a, d in changes.items() if a in current]
    if updates:
        await _SET_BALANCE.execute(conn, updates, defer=True)
    for asset, delta in changes.items():
        if asset not in current:
            await conn.execute(paper_balances.insert().values(account_key=account_key, asset=asset, total=delta,
                                                              updated_at=now))
