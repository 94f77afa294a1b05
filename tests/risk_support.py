"""Helpers shared by the risk tests and the kill-switch worker processes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal as D

from sqlalchemy import insert

from nija.core.db.models import user_settings, users
from nija.core.entitlements import PlanLimits
from nija.core.risk import OrderRequest

PRO = PlanLimits(plan="pro", live_trading=True, max_exchanges=3, max_position_usd=D(2000), max_positions=10,
                 max_trades_per_day=100, api_calls_per_minute=600)


async def make_user(db, *, max_position_size=D(1000), max_concurrent_positions=10, max_daily_loss_pct=D(10),
                    allowed_pairs=(), **extra) -> str:
    """A user row plus settings, written directly (the accounts flow is tested elsewhere)."""
    user_id = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(insert(users).values(id=user_id, email=f"risk-{user_id[:12]}@example.com",
                                                password_hash="x", roles="user", created_at=0, disabled=False))
        await conn.execute(insert(user_settings).values(
            user_id=user_id, max_position_size=max_position_size, max_concurrent_positions=max_concurrent_positions,
            max_daily_loss_pct=max_daily_loss_pct, risk_level="medium", allowed_pairs=list(allowed_pairs),
            notifications_enabled=True, updated_at=0, **extra))
    return user_id


def order(user_id: str, **changes) -> OrderRequest:
    """A 2%-of-equity paper order that adds to a position (equity 5,000 USD, notional 100 USD)."""
    base = OrderRequest(user_id=user_id, bot_id=None, broker_connection_id=None, exchange="paper",
                        symbol="BTC/USDT", side="buy", quantity=D("0.002"), price=D(50000), notional_usd=D(100),
                        reduce_only=False, live=False, account_equity_usd=D(5000), opens_position=False)
    return replace(base, **changes)


# ---------------------------------------------------------------------------- kill-switch fleet
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

WORKER = Path(__file__).with_name("risk") / "killswitch_worker.py"


async def start_nats(tmp_dir: Path):
    """A real nats-server from the venv on a free port; returns (process, url)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = Path(sys.executable).with_name("nats-server")
    proc = await asyncio.create_subprocess_exec(
        str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_dir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.025)
    else:
        proc.kill()
        raise RuntimeError("nats-server did not start")
    return proc, f"nats://127.0.0.1:{port}"


class Worker:
    """One trading process (``tests/risk/killswitch_worker.py``) and the events it printed."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.events: list[dict] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "noise", "line": line.decode(errors="replace")[:200]})
            self.changed.set()

    def count(self, event: str, since: int = 0, **match) -> int:
        return sum(1 for e in self.events if e["event"] == event and e.get("t", 0) >= since
                   and all(e.get(k) == v for k, v in match.items()))

    def last(self, event: str, **match) -> dict | None:
        found = [e for e in self.events if e["event"] == event and all(e.get(k) == v for k, v in match.items())]
        return found[-1] if found else None

    async def wait_for(self, predicate, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.proc.returncode is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}): {self.events[-3:]}")
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"worker never got there; last events {self.events[-3:]}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self.reader


async def start_workers(database_url: str, nats_url: str, user_ids: list[str]) -> list[Worker]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    workers = []
    for user_id in user_ids:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), database_url, nats_url, user_id,
            stdout=asyncio.subprocess.PIPE, env=env,
        )
        workers.append(Worker(proc))
    return workers


async def trades_counted(db, user_ids: list[str]) -> int:
    """Orders risk accepted and counted (committed), summed over ``user_ids``."""
    from sqlalchemy import func, select

    from nija.core.risk._tables import risk_user_state

    async with db.transaction() as conn:
        return (await conn.execute(
            select(func.coalesce(func.sum(risk_user_state.c.trades_today), 0))
            .where(risk_user_state.c.user_id.in_(user_ids))
        )).scalar()
