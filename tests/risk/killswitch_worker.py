"""A trading process for the global kill-switch test and benchmark (run as a script).

``python killswitch_worker.py DATABASE_URL NATS_URL USER_ID [PAUSE_S]`` places paper orders for
USER_ID through a :class:`RiskEngine` in a loop (PAUSE_S seconds apart, default 0.002: a busy
bot, not a spin loop on a shared 2-core machine), each in its own transaction, and prints one JSON line
per event on stdout: ``ready``, ``accepted`` / ``rejected`` (with the rule) per order, ``flag``
when the kill-switch subscription flips the in-memory flag. ``t`` is ``time.time_ns()`` after
the order's commit (or the flag's arrival). SIGTERM ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_support import PRO, order  # noqa: E402

from nija.core.db import Database  # noqa: E402
from nija.core.entitlements import StaticEntitlements  # noqa: E402
from nija.core.risk import HardLimits, RiskEngine, RiskRejected  # noqa: E402
from dataclasses import replace  # noqa: E402


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _quiet() -> None:
    # The switch logs a warning on every change; the parent reads events from stdout only.
    logging.basicConfig(level=logging.ERROR)


async def main(database_url: str, nats_url: str, user_id: str, pause_s: str = "0.002") -> None:
    pause = float(pause_s)
    db = Database(database_url)
    # The operator loosened the daily-trade and exposure limits: the loop trades far more than a
    # person would; every other rule is the real one.
    engine = RiskEngine(db, entitlements=StaticEntitlements(replace(PRO, max_trades_per_day=10**9)),
                        hard=HardLimits(max_trades_per_day=10**9, max_total_exposure_pct=D(10**9)))

    async def heard(view) -> None:
        emit(event="flag", active=view.active, t=time.time_ns())

    engine.kill_switch.on_change(heard)
    await engine.kill_switch.start(nats_url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    emit(event="ready", t=time.time_ns())
    request = order(user_id)
    while not stop.is_set():
        try:
            async with db.transaction() as conn:
                await engine.pre_trade(conn, request)
            emit(event="accepted", t=time.time_ns())
        except RiskRejected as rejected:
            emit(event="rejected", rule=rejected.rule, t=time.time_ns())
            # A halted bot idles instead of spinning on rejections.
            await asyncio.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - reported, the test decides
            emit(event="error", error=f"{type(exc).__name__}: {exc}"[:300], t=time.time_ns())
            await asyncio.sleep(0.01)
        await asyncio.sleep(pause)
    await engine.kill_switch.stop()
    await db.close()


if __name__ == "__main__":
    _quiet()
    asyncio.run(main(*sys.argv[1:5]))
