"""The read side: balances, positions, history, performance and stats of one user (every query
is scoped by the caller's user id)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from nija.core.errors import InvalidArgument
from nija.core.trading._model import paper_account_key
from nija.core.trading._tables import fills, paper_balances, positions

ZERO = Decimal(0)
MAX_PAGE = 500


@dataclass(frozen=True)
class Stats:
    total_trades: int
    wins: int
    losses: int
    gross_profit: Decimal
    gross_loss: Decimal
    realized_pnl: Decimal
    fees: Decimal
    active_positions: int
    total_volume: Decimal

    @property
    def win_rate(self) -> Decimal:
        closed = self.wins + self.losses
        return (Decimal(self.wins) / closed * 100).quantize(Decimal("0.01")) if closed else ZERO

    @property
    def total_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    @property
    def profit_factor(self) -> Decimal | None:
        return (self.gross_profit / -self.gross_loss).quantize(Decimal("0.0001")) if self.gross_loss < 0 else None


class TradingQueries:
    def __init__(self, db) -> None:
        self.db = db

    async def paper_balances(self, user_id: str) -> dict[str, Decimal]:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(paper_balances.c.asset, paper_balances.c.total)
                                       .where(paper_balances.c.account_key == paper_account_key(user_id)))).all()
        return {r.asset: r.total for r in rows}

    async def positions(self, user_id: str, bot_id: str | None = None, *, open_only: bool = True) -> list[dict]:
        q = select(positions).where(positions.c.user_id == user_id)
        if bot_id:
            q = q.where(positions.c.bot_id == bot_id)
        if open_only:
            q = q.where(positions.c.quantity != 0)
        async with self.db.transaction() as conn:
            return [dict(r._mapping) for r in (await conn.execute(q.order_by(positions.c.symbol, positions.c.bot_id))).all()]

    async def history(self, user_id: str, *, bot_id: str | None = None, symbol: str | None = None, since: int = 0,
                      page_size: int = 0, page_token: str = "") -> tuple[list[dict], str, int]:
        size = min(page_size or 50, MAX_PAGE)
        try:
            offset = int(page_token) if page_token else 0
        except ValueError:
            raise InvalidArgument("page_token is not valid", field="page.page_token") from None
        if offset < 0:
            raise InvalidArgument("page_token is not valid", field="page.page_token")
        where = [fills.c.user_id == user_id, fills.c.executed_at >= since]
        if bot_id:
            where.append(fills.c.bot_id == bot_id)
        if symbol:
            where.append(fills.c.symbol == symbol)
        async with self.db.transaction() as conn:
            total = (await conn.execute(select(func.count()).select_from(fills).where(*where))).scalar_one()
            rows = (await conn.execute(select(fills).where(*where).order_by(fills.c.executed_at.desc(), fills.c.id)
                                       .offset(offset).limit(size))).all()
        next_token = str(offset + size) if offset + size < total else ""
        return [dict(r._mapping) for r in rows], next_token, total

    async def _fills(self, user_id: str, bot_id: str | None = None, since: int = 0):
        q = select(fills.c.executed_at, fills.c.price, fills.c.amount, fills.c.realized_pnl, fills.c.fee_quote) \
            .where(fills.c.user_id == user_id, fills.c.executed_at >= since)
        if bot_id:
            q = q.where(fills.c.bot_id == bot_id)
        async with self.db.transaction() as conn:
            return (await conn.execute(q.order_by(fills.c.executed_at))).all()

    async def performance(self, user_id: str, bot_id: str | None = None, since: int = 0):
        """Equity curve as cumulative net P&L (realised minus fees) at each fill, and its max
        drawdown relative to the running peak."""
        curve: list[tuple[int, Decimal]] = []
        total = ZERO
        peak = ZERO
        max_dd = ZERO
        for r in await self._fills(user_id, bot_id, since):
            total += r.realized_pnl - r.fee_quote
            curve.append((r.executed_at, total))
            peak = max(peak, total)
            max_dd = max(max_dd, peak - total)
        return curve, max_dd

    async def stats(self, user_id: str) -> Stats:
        wins = losses = trades = 0
        gp = gl = realized = fees = volume = ZERO
        for r in await self._fills(user_id):
            trades += 1
            volume += r.price * r.amount
            fees += r.fee_quote
            realized += r.realized_pnl
            if r.realized_pnl > 0:
                wins += 1
                gp += r.realized_pnl
            elif r.realized_pnl < 0:
                losses += 1
                gl += r.realized_pnl
        active = len(await self.positions(user_id))
        return Stats(trades, wins, losses, gp, gl, realized, fees, active, volume)
