"""``ListPlugins`` (GET /api/v1/plugins): discovered strategies with their parameter forms."""

from __future__ import annotations

import grpc
import pytest

from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc
from nija.platform.v1 import platform_pb2, platform_pb2_grpc


async def test_plugins_list_strategies_with_parameters(grpc_platform):
    accounts = accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)
    ip = (("x-forwarded-for", unique_ip()),)
    email = unique_email()
    await accounts.Register(accounts_pb2.RegisterRequest(email=email, password="correct horse battery"), metadata=ip)
    tokens = await accounts.Login(accounts_pb2.LoginRequest(email=email, password="correct horse battery"), metadata=ip)
    stub = platform_pb2_grpc.PlatformServiceStub(grpc_platform.channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListPlugins(platform_pb2.ListPluginsRequest())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reply = await stub.ListPlugins(platform_pb2.ListPluginsRequest(), metadata=bearer(tokens.access_token))
    plugins = {(p.kind, p.name): p for p in reply.plugins}
    apex = plugins[("strategy", "apex")]
    assert apex.distribution == "nija-strategy-apex" and apex.version == "1.0.0"
    params = {p.name: p for p in apex.parameters}
    assert (params["oversold"].type, params["oversold"].default, params["oversold"].minimum,
            params["oversold"].maximum) == ("float", "30.0", "1.0", "50.0")
    assert params["trend_filter"].default == "true" and params["trend_filter"].minimum == ""
    assert params["rsi_fast"].description == "Period of the fast RSI"
    exit_at = {p.name: p for p in plugins[("strategy", "bollinger_reversion")].parameters}["exit_at"]
    assert exit_at.type == "str" and "middle, upper" in exit_at.description
    assert ("strategy", "macd_trend") in plugins and ("broker", "paper") in plugins
