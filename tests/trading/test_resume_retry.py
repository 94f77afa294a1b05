"""Resuming after a restart while the venue cannot be reached: the real ccxt Binance class
against the venue simulator, a real database.

The bot does not trade before its account is reconciled. An unreachable venue (network, 5xx,
429) puts it in ``waiting`` with the reason and the attempt is repeated in the background;
once the venue answers, it is reconciled and runs. A stop while it waits ends the retries; a
venue still unreachable after the last attempt sends it to ``error`` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import pytest

from nija.core.clock import SystemClock
from nija.core.entitlements import StaticEntitlements
from nija.core.plugins import PluginManager
from nija.core.risk import RiskEngine
from nija.core.trading import EventRelay, OrderManager, ReplayFeed
from nija.core.trading._credentials import CredentialVault, MasterKeys
from nija.core.trading._engine import TradingEngine
from risk_support import PRO, make_user
from venue.ccxt_support import make_sim, until, validate_keys

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"


@pytest.fixture
async def sim(monkeypatch):
    venue = make_sim(key="rr-key-" + uuid.uuid4().hex[:8], secret="rr-secret-" + uuid.uuid4().hex)
    await venue.start()
    monkeypatch.setenv("NIJA_CCXT_BASE_URLS", f'{{"binance": "{venue.url}"}}')
    yield venue
    await venue.stop()


async def _live_bot(sim, db, tmp_path, engines, retry_delays):
    """A running live bot whose engine was closed; returns (a maker of new engines, the user,
    the bot id)."""
    vault = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path), validate_keys)
    user = await make_user(db)
    conn = await vault.add(user, broker="ccxt", exchange="binance", api_key=sim.api_key, secret=sim.secret)

    def engine() -> TradingEngine:
        clock = SystemClock()
        manager = OrderManager(db, clock, RiskEngine(db, entitlements=StaticEntitlements(PRO)),
                               EventRelay(db, None, clock), resolve_delays=(0.05, 0.1))
        made = TradingEngine(db, clock, PluginManager().load_entry_points(), manager, ReplayFeed(DATA), vault)
        made.resume_retry_delays = retry_delays
        engines.append(made)
        return made

    first = engine()
    bot = await first.start_bot(user_id=user, strategy="apex", params={}, markets=["ETH/BTC"], timeframe="5m",
                                paper=False, connection_id=conn.id)
    assert bot["state"] == "running"
    await first.close()
    return engine, user, bot["id"]


async def _live_bot_then_restart(sim, db, tmp_path, engines, retry_delays):
    """A running live bot, its engine stopped, the venue down, a new engine resumed."""
    engine, user, bot_id = await _live_bot(sim, db, tmp_path, engines, retry_delays)
    await sim.stop()  # the venue is down while NIJA restarts
    restarted = engine()
    await restarted.resume()
    return restarted, user, bot_id


async def _state(engine: TradingEngine, user: str, bot_id: str) -> tuple[str, str | None]:
    row = await engine._bot_row(user, bot_id)
    return row["state"], row["error"]


async def test_a_bot_waits_for_an_unreachable_venue_and_runs_once_it_answers(sim, db, tmp_path, engines):
    engine, user, bot_id = await _live_bot_then_restart(sim, db, tmp_path, engines, (0.2, 0.2, 0.2, 0.2))
    state, reason = await _state(engine, user, bot_id)
    assert state == "waiting" and "retrying in 0.2 s (attempt 1 of 4)" in reason, reason
    assert "could not verify the exchange key" in reason and bot_id not in engine.running()
    await sim.start(sim.port)  # the venue is back
    await until(lambda: bot_id in engine.running(), "the bot resumed", timeout=30)
    assert await _state(engine, user, bot_id) == ("running", None)
    await engine.stop_bot(user, bot_id)  # later tests' platforms must not resume it


async def test_a_stop_while_waiting_ends_the_retries(sim, db, tmp_path, engines):
    engine, user, bot_id = await _live_bot_then_restart(sim, db, tmp_path, engines, (0.3,))
    assert (await _state(engine, user, bot_id))[0] == "waiting"
    await engine.stop_bot(user, bot_id)
    assert await _state(engine, user, bot_id) == ("stopped", None)
    await sim.start(sim.port)
    await asyncio.sleep(0.6)  # past the retry that was due: it was cancelled, nothing resumed
    assert await _state(engine, user, bot_id) == ("stopped", None) and bot_id not in engine.running()


async def test_a_venue_unreachable_through_the_last_attempt_sends_the_bot_to_error(sim, db, tmp_path, engines):
    engine, user, bot_id = await _live_bot_then_restart(sim, db, tmp_path, engines, ())
    state, reason = await _state(engine, user, bot_id)
    assert state == "error" and "could not verify the exchange key" in reason and "retrying" not in reason
    assert bot_id not in engine.running()


@contextlib.asynccontextmanager
async def _blackhole(port: int):
    """A server on ``port`` that accepts connections and never answers; yields the connections
    it holds, and closes them and itself at the end."""
    hung: list[asyncio.StreamWriter] = []

    async def never_answer(reader, writer):
        hung.append(writer)
        await reader.read()  # holds the connection until the client gives up

    server = await asyncio.start_server(never_answer, "127.0.0.1", port)
    try:
        yield hung
    finally:
        for writer in hung:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_venue_that_hangs_holds_up_only_its_own_account(sim, db, tmp_path, engines):
    """While a retry waits on a venue that accepts connections and never answers, another
    user's paper bot starts at once: accounts are opened under their own lock, not one lock
    for the whole engine."""
    engine, user, bot_id = await _live_bot_then_restart(sim, db, tmp_path, engines, (1.0, 1.0))
    async with _blackhole(sim.port) as hung:
        await until(lambda: hung, "the retry connected to the hung venue", timeout=10)
        retry = engine._resume_retries[bot_id]
        other = await make_user(db)
        paper = await engine.start_bot(user_id=other, strategy="apex", params={}, markets=["ETH/BTC"],
                                       timeframe="5m", paper=True)
        assert paper["state"] == "running" and not retry.done()  # the live attempt is still waiting
        await engine.stop_bot(user, bot_id)  # ends the retry
        assert retry.cancelled() or retry.done()
        await engine.stop_bot(other, paper["id"])


async def test_a_venue_that_hangs_at_restart_holds_up_only_its_own_accounts_bots(sim, db, tmp_path, engines):
    """Resuming after a restart opens accounts side by side: another user's paper bot resumes
    while the live account's venue accepts the connection and never answers."""
    engine, user, bot_id = await _live_bot(sim, db, tmp_path, engines, (0.2,))
    other = await make_user(db)
    paper = await engine().start_bot(user_id=other, strategy="apex", params={}, markets=["ETH/BTC"],
                                     timeframe="5m", paper=True)  # resumed after the live bot (row order)
    await engines[-1].close()
    await sim.stop()
    async with _blackhole(sim.port) as hung:
        restarted = engine()
        resuming = asyncio.create_task(restarted.resume())
        await until(lambda: paper["id"] in restarted.running(), "the paper bot resumed", timeout=10)
        assert hung and not resuming.done()  # the live account is still waiting on its venue
    await asyncio.wait_for(resuming, 30)
    assert (await _state(restarted, user, bot_id))[0] in ("waiting", "error")
    await restarted.stop_bot(user, bot_id)
    await restarted.stop_bot(other, paper["id"])
