"""The stream service and the admin console behind the real Envoy of `nija up`: WebSockets with
the JWT as a query parameter, the dashboard at `/`, and admin REST routes acting on the message
the service receives."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from e2e_support import PASSWORD, admin_token
from helpers import http, unique_email


def _nats_url(nija) -> str:
    return next(line.split()[1] for line in nija.output if line.strip().startswith("NATS "))


def _login(nija, email=None):
    email = email or unique_email()
    status, _, user = http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert status == 200, user
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return user, tokens["access_token"]


async def test_websocket_through_envoy_delivers_only_own_events(nija):
    import nats

    alice, token_a = _login(nija)
    bob, token_b = _login(nija)
    nc = await nats.connect(_nats_url(nija))
    js = nc.jetstream()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{nija.base}/ws/trades") as resp:
            assert resp.status == 401 and (await resp.json())["code"] == 16
        ws_a = await session.ws_connect(f"{nija.base}/ws/trades?access_token={token_a}")
        ws_b = await session.ws_connect(f"{nija.base}/ws/trades?access_token={token_b}")
        assert (await ws_a.receive_json(timeout=10))["user_id"] == alice["id"]
        assert (await ws_b.receive_json(timeout=10))["user_id"] == bob["id"]
        await js.publish(f"nija.user.{alice['id']}.fills", json.dumps({"who": "alice"}).encode())
        await js.publish(f"nija.user.{bob['id']}.fills", json.dumps({"who": "bob"}).encode())
        got_a = await ws_a.receive_json(timeout=10)
        got_b = await ws_b.receive_json(timeout=10)
        assert got_a["data"] == {"who": "alice"} and got_b["data"] == {"who": "bob"}
        # Resume through Envoy: the event after the last one seen, nothing older.
        await ws_a.close()
        await js.publish(f"nija.user.{alice['id']}.fills", json.dumps({"who": "alice", "n": 2}).encode())
        ws_a = await session.ws_connect(f"{nija.base}/ws/trades?access_token={token_a}&last_event_id={got_a['id']}")
        assert (await ws_a.receive_json(timeout=10))["type"] == "ready"
        assert (await ws_a.receive_json(timeout=10))["data"] == {"who": "alice", "n": 2}
        await ws_a.close()
        await ws_b.close()
    await nc.drain()


def test_admin_acts_on_the_id_in_the_message_and_audits_it(nija):
    token = admin_token(nija)
    victim, _ = _login(nija)
    bystander, _ = _login(nija)
    # A query parameter overrides the path-bound field (ENVOY_NOTES): the service acts on the
    # message it receives, and the audit log names that user, not the one in the URL.
    status, _, body = http("DELETE", f"{nija.base}/api/v1/admin/users/{bystander['id']}?id={victim['id']}", token=token)
    assert status == 200, body
    status, _, detail = http("GET", f"{nija.base}/api/v1/admin/users/{bystander['id']}", token=token)
    assert status == 200 and detail["user"]["deleted_at"] == "0"
    status, _, detail = http("GET", f"{nija.base}/api/v1/admin/users/{victim['id']}", token=token)
    assert status == 200 and int(detail["user"]["deleted_at"]) > 0
    status, _, logs = http("GET", f"{nija.base}/api/v1/admin/audit-logs?action=admin.users.delete&user_id={victim['id']}", token=token)
    assert status == 200 and [r["user_id"] for r in logs["records"]] == [victim["id"]]
    status, _, users = http("GET", f"{nija.base}/api/v1/admin/users?email_contains={victim['email']}&include_deleted=true", token=token)
    assert status == 200 and [u["id"] for u in users["users"]] == [victim["id"]]
    status, _, metrics = http("GET", f"{nija.base}/api/v1/admin/metrics", token=token)
    assert status == 200 and int(metrics["users"]) >= 2 and metrics["service_health"]["accounts"] == "ok"
    status, _, body = http("PUT", f"{nija.base}/api/v1/admin/users/{bystander['id']}", {"roles": ["user", "root"]}, token=token)
    assert status == 400 and body["code"] == 3


def test_dashboard_is_served_at_the_root_without_a_token(nija):
    import re
    import urllib.request

    with urllib.request.urlopen(f"{nija.base}/", timeout=10) as resp:
        page = resp.read().decode()
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in page
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        with urllib.request.urlopen(f"{nija.base}{asset}", timeout=10) as resp:
            assert resp.status == 200 and len(resp.read()) > 100
    # the API next to it still needs its token
    status, _, body = http("GET", f"{nija.base}/api/v1/auth/me")
    assert status == 401 and body["code"] == 16
