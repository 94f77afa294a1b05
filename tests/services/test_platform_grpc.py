"""Readiness reflects the database and NATS; the plugin list is real."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from helpers import free_port
from nija.core.events import NatsEventBus
from nija.platform.v1 import platform_pb2, platform_pb2_grpc


async def test_healthz_follows_nats(grpc_platform):
    stub = platform_pb2_grpc.PlatformServiceStub(grpc_platform.channel)
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("nats-server")), "-a", "127.0.0.1", "-p", str(port), "-js"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    platform = grpc_platform.platform
    try:
        for _ in range(100):
            try:
                platform.bus = await NatsEventBus(f"nats://127.0.0.1:{port}").connect()
                break
            except Exception:
                await asyncio.sleep(0.05)
        reply = await stub.Healthz(platform_pb2.HealthzRequest())
        assert reply.status == "ok" and dict(reply.components)["nats"] == "ok"
        proc.terminate()
        proc.wait(10)
        await asyncio.sleep(0.2)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Healthz(platform_pb2.HealthzRequest())
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "nats" in info.value.details()
    finally:
        proc.kill()
        bus, platform.bus = platform.bus, None
        if bus is not None:
            try:
                await asyncio.wait_for(bus._nc.close(), 2)
            except Exception:
                pass


async def test_healthz_without_nats_configured_is_not_ready(grpc_platform):
    stub = platform_pb2_grpc.PlatformServiceStub(grpc_platform.channel)
    assert grpc_platform.platform.bus is None
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Healthz(platform_pb2.HealthzRequest())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_and_reflection_are_served(grpc_platform):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(grpc_platform.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service="nija.accounts.v1.AccountsService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
