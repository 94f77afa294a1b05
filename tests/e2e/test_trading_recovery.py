"""kill -9 of the trading process in the middle of a live (ccxt) run against the venue
simulator, restart, reconciliation: no lost and no duplicated order.

The platform is a real `nija up` (Envoy, NATS, SQLite); the exchange is the Binance simulator
reached by the real ccxt class. An order is in flight (the venue took it, its answer is held
back) when the process is killed; after the restart NIJA's records are compared with the
venue's book of record.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from e2e.conftest import start_nija
from helpers import http, unique_email, wait_until
from venue.binance_sim import VenueSim, VenueThread

DATA = Path(__file__).resolve().parents[1] / "data" / "ohlcv"
PASSWORD = "correct horse battery staple"
log = logging.getLogger("recovery")




def _orders(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM trading_orders")]
    finally:
        con.close()


def test_kill_9_mid_run_then_reconcile(tmp_path, capsys):
    key, secret = "rk-" + uuid.uuid4().hex[:12], "rs-" + uuid.uuid4().hex
    sim = VenueSim(api_key=key, secret=secret, prices={"ETHBTC": Decimal("0.1")},
                   balances={"BTC": Decimal("0.1"), "ETH": Decimal(1)}, markets={"ETHBTC": ("ETH", "BTC")})
    lines: list[str] = []

    def note(text: str) -> None:
        lines.append(text)
        print("recovery:", text)

    with VenueThread(sim) as venue:
        env = {"NIJA_MARKET_DATA": f"replay:{DATA},speed=max", "NIJA_CCXT_BASE_URLS": json.dumps({"binance": venue.url})}
        data_dir = tmp_path / "nija"
        nija = start_nija(data_dir, extra_env=env)
        try:
            base = nija.base
            email = unique_email("live")
            http("POST", f"{base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
            _, _, tokens = http("POST", f"{base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
            token = tokens["access_token"]
            s, _, conn = http("POST", f"{base}/api/v1/config/brokers",
                              {"broker": "ccxt", "exchange": "binance", "api_key": key, "api_secret": secret}, token=token)
            assert s == 200, conn
            assert conn["api_key_masked"] == "…" + key[-4:] and secret not in json.dumps(conn)
            s, _, body = http("POST", f"{base}/api/v1/trading/start", {
                "strategy": "apex", "markets": ["ETH/BTC"], "broker_account_id": conn["id"]}, token=token)
            assert s == 200, body
            note(f"bot {body['bot_id'][:8]} started on the simulated Binance account")
            wait_until(lambda: len([o for o in sim.orders.values() if o.status == "FILLED"]) >= 2, what="two fills")
            # The next order is taken by the venue but its answer is held back; kill -9 then.
            sim.inject("POST", "/api/v3/order", "accept_then_timeout")
            before = len(sim.orders)
            wait_until(lambda: len(sim.orders) > before, what="an order in flight")
            nija.proc.kill()
            nija.proc.wait(15)
            note(f"kill -9 with {len(sim.orders)} venue orders; NIJA states: "
                 f"{sorted(o['state'] for o in _orders(data_dir / 'nija.db'))}")
        finally:
            if nija.proc.poll() is None:
                nija.proc.kill()
        in_flight = [o for o in _orders(data_dir / "nija.db") if o["state"] in ("new", "submitted")]
        assert len(in_flight) == 1, "the order in flight was written ahead as submitted"

        nija = start_nija(data_dir, extra_env=env)
        try:
            db = data_dir / "nija.db"
            settled = wait_until(lambda: [o for o in _orders(db) if o["client_order_id"] == in_flight[0]["client_order_id"]
                                     and o["state"] not in ("new", "submitted")], what="reconciliation")
            note(f"restart: order {in_flight[0]['client_order_id']} settled as {settled[0]['state']} "
                 f"(venue id {settled[0]['venue_order_id']}) by fetching by client order id")
            posts_before = len(sim.orders)
            wait_until(lambda: len(sim.orders) > posts_before, timeout=180, what="trading resumed")
            s, _, st = http("GET", f"{nija.base}/api/v1/trading/status", token=_login(nija.base, email))
            assert [b["state"] for b in st["bots"]] == ["running"]
            http("POST", f"{nija.base}/api/v1/trading/stop", {"bot_id": st["bots"][0]["id"]},
                 token=_login(nija.base, email))
        finally:
            nija.stop()

    # The exchange secret never reached a log (service, Envoy, NATS) or the database in clear.
    for path in [*(data_dir / "logs").rglob("*"), *data_dir.glob("nija.db*")]:
        if path.is_file():
            blob = path.read_bytes()
            assert secret.encode() not in blob, f"secret found in {path.name}"
            assert key.encode() not in blob, f"api key found in {path.name}"
    mine = _orders(data_dir / "nija.db")
    by_cid = {o["client_order_id"]: o for o in mine}
    venue_cids = [o.client_order_id for o in sim.orders.values()]
    assert len(venue_cids) == len(set(venue_cids)), "no client order id twice on the venue"
    for vo in sim.orders.values():
        ours = by_cid.get(vo.client_order_id)
        assert ours is not None, f"venue order {vo.client_order_id} lost by NIJA"
        assert ours["venue_order_id"] == str(vo.order_id)
        assert Decimal(ours["filled"]) == vo.executed
    sent = [o for o in mine if o["state"] not in ("rejected", "expired")]
    assert {o["client_order_id"] for o in sent} == set(venue_cids), "every order NIJA sent is on the venue"
    assert not [o for o in mine if o["state"] in ("new", "submitted")]
    assert not [o for o in mine if o["type"] == "market" and o["state"] == "partially_filled"], \
        "amounts written ahead are exactly what the venue filled"
    con = sqlite3.connect(data_dir / "nija.db")
    n_fills = con.execute("SELECT count(*) FROM trading_fills").fetchone()[0]
    con.close()
    assert n_fills == len(sim.trades), "every venue fill booked once"
    note(f"compared: venue {len(sim.orders)} orders / {len(sim.trades)} fills, NIJA {len(sent)} sent orders / "
         f"{n_fills} fills; no loss, no duplicate; {sim.bans} bans")


def _login(base: str, email: str) -> str:
    _, _, tokens = http("POST", f"{base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return tokens["access_token"]
