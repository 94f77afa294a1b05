"""The trade-only permission end to end: the real ccxt Binance class against the venue simulator,
a real database, the real RiskEngine in the order path.

Keys that can withdraw are refused when they are connected (tests/trading/test_credentials.py);
here the user widens the key's rights on the exchange afterwards: the next account open (bot
start, restart) asks the venue again and refuses to trade, and an order that reaches the order
path through such a key is rejected and recorded with the rule ``user.trade_only``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from nija.core.clock import SystemClock
from nija.core.entitlements import StaticEntitlements
from nija.core.errors import FailedPrecondition
from nija.core.plugins import BrokerContext, PluginManager
from nija.core.risk import RiskEngine, RiskRejected
from nija.core.trading import Account, EventRelay, OrderIntent, OrderManager, ReplayFeed
from nija.core.trading._credentials import CredentialVault, MasterKeys
from nija.core.trading._engine import TradingEngine
from nija.core.trading._tables import bots, orders
from nija_broker_ccxt import CcxtBroker
from risk_support import PRO, make_user
from venue.binance_sim import VenueSim
from venue.ccxt_support import validate_keys

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"
KEY, SECRET = "to-key-" + uuid.uuid4().hex[:8], "to-secret-" + uuid.uuid4().hex


@pytest.fixture
async def sim(monkeypatch):
    venue = VenueSim(api_key=KEY, secret=SECRET, prices={"ETHBTC": Decimal("0.1")},
                     balances={"BTC": Decimal(5), "ETH": Decimal(20)}, markets={"ETHBTC": ("ETH", "BTC")})
    await venue.start()
    monkeypatch.setenv("NIJA_CCXT_BASE_URLS", f'{{"binance": "{venue.url}"}}')
    yield venue
    await venue.stop()


def _engine(db, vault) -> TradingEngine:
    clock = SystemClock()
    risk = RiskEngine(db, entitlements=StaticEntitlements(PRO))
    manager = OrderManager(db, clock, risk, EventRelay(db, None, clock), resolve_delays=(0.05, 0.1))
    return TradingEngine(db, clock, PluginManager().load_entry_points(), manager, ReplayFeed(DATA), vault)


async def _venue_orders(sim) -> int:
    return sum(1 for method, path, _ in sim.requests if method == "POST" and path == "/api/v3/order")


async def test_a_key_given_withdraw_rights_after_connecting_stops_trading(sim, db, tmp_path):
    vault = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path), validate_keys)
    user = await make_user(db)
    conn = await vault.add(user, broker="ccxt", exchange="binance", api_key=KEY, secret=SECRET)

    engine = _engine(db, vault)
    bot = await engine.start_bot(user_id=user, strategy="apex", params={}, markets=["ETH/BTC"], timeframe="5m",
                                 paper=False, connection_id=conn.id)
    assert bot["state"] == "running"
    assert engine.running()[bot["id"]].account.can_withdraw is False
    await engine.close()

    # The user ticks "enable withdrawals" on the exchange for the same key.
    sim.can_withdraw = True
    restarted = _engine(db, vault)
    await restarted.resume()
    assert bot["id"] not in restarted.running()
    async with db.transaction() as c:
        row = (await c.execute(select(bots).where(bots.c.id == bot["id"]))).one()
    assert row.state == "error" and "withdraw" in row.error
    assert KEY not in row.error and SECRET not in row.error

    # A new bot on that connection is refused too, with the reason.
    with pytest.raises(FailedPrecondition) as refused:
        await restarted.start_bot(user_id=user, strategy="apex", params={}, markets=["ETH/BTC"], timeframe="5m",
                                  paper=False, connection_id=conn.id)
    assert refused.value.reason == "TRADE_ONLY" and "trading permission only" in refused.value.message
    await restarted.close()
    assert await _venue_orders(sim) == 0


async def test_an_order_through_a_withdraw_capable_key_is_rejected_and_recorded(sim, db):
    # Venue equity 5 BTC + 20 ETH = 98,000 USD at the prices below; 1.4 ETH at 0.1 BTC is
    # 1,960 USD: 2% of equity, inside the PRO plan's 2,000 USD.
    user = await make_user(db, max_position_size=Decimal(5000))
    broker = CcxtBroker(BrokerContext(account_key=f"ccxt:{uuid.uuid4().hex[:8]}", clock=SystemClock(),
                                      credentials={"api_key": KEY, "secret": SECRET},
                                      options={"exchange": "binance", "base_url": sim.url}))
    clock = SystemClock()
    usd = {"BTC": Decimal(14000), "ETH": Decimal(1400)}
    manager = OrderManager(db, clock, RiskEngine(db, entitlements=StaticEntitlements(PRO)),
                           EventRelay(db, None, clock), usd_price=usd.get, resolve_delays=(0.05, 0.1))
    try:
        await broker.load_markets()
        intent = OrderIntent(user_id=user, bot_id=str(uuid.uuid4()), signal_id="s1", symbol="ETH/BTC", side="buy",
                             type="market", amount=Decimal("1.4"), reference_price=Decimal("0.1"))
        for can_withdraw, expected in ((True, "user.trade_only"), (False, None)):
            account = Account(broker.context.account_key, broker, paper=False, exchange="binance",
                              can_withdraw=can_withdraw)
            try:
                placed = await manager.submit(intent, account)
                rule = None
            except RiskRejected as exc:
                rule = exc.rule
            assert rule == expected
            async with db.transaction() as c:
                row = (await c.execute(select(orders).where(orders.c.client_order_id == placed["client_order_id"])
                                       if rule is None else
                                       select(orders).where(orders.c.bot_id == intent.bot_id))).one()
            if expected:
                assert row.state == "rejected" and row.reason.startswith("user.trade_only:")
                assert await _venue_orders(sim) == 0
                intent = replace(intent, signal_id="s2")
            else:
                assert row.state == "filled"
        assert await _venue_orders(sim) == 1
    finally:
        await broker.close()
