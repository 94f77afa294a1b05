"""End to end through the real edge: `nija up` with Envoy, NATS and SQLite, over HTTP."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from google.api import annotations_pb2

from e2e_support import admin_token, children_of, rest_routes, stream_headers
from helpers import free_port, http, unique_email

PASSWORD = "correct horse battery staple"


def test_healthz_is_ready(nija):
    status, _, body = http("GET", f"{nija.base}/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["components"] == {"database": "ok", "nats": "ok", "services": "ok"}


def test_auth_flow_register_login_me_refresh_reuse_logout(nija):
    email = unique_email()
    status, _, user = http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert status == 200 and user["email"] == email and user["roles"] == ["user"]

    status, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200 and set(tokens) >= {"access_token", "refresh_token", "expires_in"}

    status, _, body = http("GET", f"{nija.base}/api/v1/auth/me")
    assert status == 401 and body["code"] == 16 and body["message"]
    status, _, me = http("GET", f"{nija.base}/api/v1/auth/me", token=tokens["access_token"])
    assert status == 200 and me["id"] == user["id"] and me["email"] == email
    assert set(me) == {"id", "email", "roles", "created_at"}

    status, _, second = http("POST", f"{nija.base}/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 200 and second["refresh_token"] != tokens["refresh_token"]

    status, _, body = http("POST", f"{nija.base}/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 401 and "revoked" in body["message"]
    status, _, _ = http("POST", f"{nija.base}/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 401, "the whole family is revoked after reuse"

    status, _, third = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    status, _, _ = http("POST", f"{nija.base}/api/v1/auth/logout", {}, token=third["access_token"])
    assert status == 200
    status, _, _ = http("POST", f"{nija.base}/api/v1/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert status == 401


def test_settings_through_envoy(nija):
    email = unique_email()
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    token = tokens["access_token"]
    status, _, settings = http("GET", f"{nija.base}/api/v1/config/settings", token=token)
    assert status == 200
    assert settings == {
        "max_position_size": "100", "max_concurrent_positions": 3, "max_daily_loss_pct": "10",
        "risk_level": "medium", "allowed_pairs": [], "notifications_enabled": True,
        "max_daily_loss_usd": "0",
    }
    status, _, settings = http(
        "PUT", f"{nija.base}/api/v1/config/settings", {"risk_level": "low", "allowed_pairs": ["BTC/USDT"]}, token=token
    )
    assert status == 200 and settings["risk_level"] == "low" and settings["allowed_pairs"] == ["BTC/USDT"]
    status, _, body = http("PUT", f"{nija.base}/api/v1/config/settings", {"max_concurrent_positions": -1}, token=token)
    assert status == 400 and "max_concurrent_positions" in body["message"]
    assert any("fieldViolations" in d or "field_violations" in d for d in body["details"])
    status, _, body = http("PUT", f"{nija.base}/api/v1/config/settings", {"risk_level": 7}, token=token)
    assert status == 400 and isinstance(body, dict) and body["message"]


def test_every_rest_route_reaches_its_grpc_method(nija):
    token = admin_token(nija)
    routes = rest_routes()
    assert len(routes) >= 40
    for route in routes:
        path = route.path.replace("{id}", "00000000-0000-0000-0000-000000000000").replace("{bot_id}", "bot-1")
        body = {} if route.verb in ("POST", "PUT", "DELETE") else None
        if route.server_streaming:
            # A live stream never ends: its response headers are the proof it reached gRPC.
            status, headers = stream_headers(f"{nija.base}{path}", token)
            assert status == 200 and "x-envoy-upstream-service-time" in headers, f"{route.path}: {status}"
            continue
        status, headers, payload = http(route.verb, f"{nija.base}{path}", body, token=token)
        # Envoy adds this header only to responses that came from the upstream gRPC server.
        assert "x-envoy-upstream-service-time" in headers, f"{route.verb} {route.path} did not reach gRPC ({status}: {payload})"
        assert status < 500 or status in (501, 503), f"{route.verb} {route.path}: {status} {payload}"
        if status == 501:
            assert f"{route.method} is not implemented yet" in payload["message"]
        assert isinstance(payload, (dict, list)), f"{route.verb} {route.path} answered non-JSON: {payload!r}"


def test_envoy_errors_are_json(nija):
    token = admin_token(nija)
    status, _, body = http("GET", f"{nija.base}/api/v1/no/such/route", token=token)
    assert status == 404 and body["code"] == 5
    status, _, body = http("POST", f"{nija.base}/api/v1/auth/login", raw=b"{not json")
    assert status == 400 and isinstance(body, dict) and body["message"]
    status, _, body = http("GET", f"{nija.base}/api/v1/auth/me", token=token[:-6] + "AAAAAA")
    assert status == 401 and body["code"] == 16
    status, _, body = http("GET", f"{nija.base}/api/v1/auth/me", token="not.a.jwt")
    assert status == 401 and isinstance(body, dict)


def test_admin_routes_need_the_admin_role(nija):
    email = unique_email()
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    admin_routes = [r for r in rest_routes() if r.path.startswith("/api/v1/admin/")]
    assert len(admin_routes) == 7
    # Aimed at a real account (another user's): a refused call must change nothing.
    target = unique_email()
    _, _, victim = http("POST", f"{nija.base}/api/v1/auth/register", {"email": target, "password": PASSWORD})
    for route in admin_routes:
        path = route.path.replace("{id}", victim["id"])
        body = {"PUT": {"roles": ["user", "admin"], "disabled": True}, "POST": {"active": True}, "DELETE": {}}.get(route.verb)
        status, _, body = http(route.verb, f"{nija.base}{path}", body, token=tokens["access_token"])
        assert status == 403 and body["code"] == 7, f"{route.verb} {route.path}"
    status, _, after = http("POST", f"{nija.base}/api/v1/auth/login", {"email": target, "password": PASSWORD})
    assert status == 200, "a refused admin call changed the target account"
    _, _, me = http("GET", f"{nija.base}/api/v1/auth/me", token=after["access_token"])
    assert me["roles"] == ["user"]


def test_no_secret_reaches_the_logs(nija):
    email = unique_email()
    secret_password = "log-canary-" + unique_email()
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": secret_password})
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": secret_password})
    http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": secret_password + "x"})
    time.sleep(0.5)
    logs = "".join(p.read_text(errors="replace") for p in (nija.data_dir / "logs").glob("*.log"))
    logs += "".join(nija.output)
    assert logs
    for secret in (secret_password, tokens["refresh_token"], tokens["access_token"]):
        assert secret not in logs


def test_port_already_taken_is_a_one_line_error(tmp_path):
    from e2e.conftest import NIJA

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [NIJA, "up", "--data-dir", str(tmp_path), "--http-port", str(port), "--grpc-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(port) in lines[0] and "--http-port" in lines[0]


def test_sigterm_stops_every_child(tmp_path):
    from e2e.conftest import start_nija

    running = start_nija(tmp_path)
    kids = children_of(running.proc.pid)
    names = sorted(name for _, name in kids)
    assert names == ["envoy", "nats-server"], names
    started = time.monotonic()
    assert running.stop(timeout=15) == 0
    deadline = started + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid, _ in kids):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid, _ in kids), "a child outlived nija up"
    assert time.monotonic() - started < 10
