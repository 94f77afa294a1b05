"""Process shapes: readiness through Envoy follows an external NATS; `nija serve` runs chosen
services only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from e2e.conftest import NIJA, start_nija
from helpers import free_port, http


def _nats(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("nats-server")), "-a", "127.0.0.1", "-p", str(port), "-js"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nats-server did not start")


def test_healthz_through_envoy_is_503_while_nats_is_down(tmp_path):
    port = free_port()
    nats = _nats(port)
    running = start_nija(tmp_path, {"NIJA_NATS_URL": f"nats://127.0.0.1:{port}"})
    try:
        assert any("NATS              nats://127.0.0.1" in line and "embedded" not in line for line in running.output)
        status, _, body = http("GET", f"{running.base}/healthz")
        assert status == 200, body
        nats.terminate()
        nats.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, _, body = http("GET", f"{running.base}/healthz")
            if status != 200:
                break
            time.sleep(0.1)
        assert status == 503 and body["code"] == 14 and "nats" in body["message"]
    finally:
        nats.kill()
        assert running.stop() == 0


def test_serve_runs_only_the_chosen_services(tmp_path):
    from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc
    from nija.trading.v1 import trading_pb2, trading_pb2_grpc

    port = free_port()
    env = {**os.environ, "NIJA_NATS_URL": "nats://127.0.0.1:4222"}
    env.pop("NIJA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [NIJA, "serve", "accounts", "platform", "--grpc-port", str(port), "--data-dir", str(tmp_path), "--migrate"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        line = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not line.startswith("serving"):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert line.startswith("serving accounts, platform"), line
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        user = accounts_pb2_grpc.AccountsServiceStub(channel).Register(
            accounts_pb2.RegisterRequest(email="serve@example.com", password="a long enough password")
        )
        assert user.email == "serve@example.com"
        with pytest.raises(grpc.RpcError) as info:
            trading_pb2_grpc.TradingServiceStub(channel).GetTradingStatus(trading_pb2.GetTradingStatusRequest())
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "not implemented yet" not in (info.value.details() or "")  # not served at all here
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_serve_rejects_an_unknown_service(tmp_path):
    result = subprocess.run([NIJA, "serve", "nonsense", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "nonsense" in result.stderr
