"""BillingService over a real gRPC channel (the `grpc_platform` server, SQLite and PostgreSQL).

The session's platform runs without a Stripe key: billing is offline there.
"""

from __future__ import annotations

import grpc
import pytest
from google.api import httpbody_pb2

from billing.support import event, sign
from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc
from nija.billing.v1 import billing_pb2, billing_pb2_grpc

PASSWORD = "correct horse battery staple"


async def _token(grpc_platform) -> tuple[str, str]:
    accounts = accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)
    email, ip = unique_email("grpc-billing"), unique_ip()
    user = await accounts.Register(accounts_pb2.RegisterRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))
    tokens = await accounts.Login(accounts_pb2.LoginRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))
    return user.id, tokens.access_token


async def test_billing_rpcs(grpc_platform):
    user_id, token = await _token(grpc_platform)
    stub = billing_pb2_grpc.BillingServiceStub(grpc_platform.channel)
    plans = await stub.ListPlans(billing_pb2.ListPlansRequest(), metadata=bearer(token))
    assert [p.id for p in plans.plans] == ["free", "basic", "pro", "enterprise"]
    assert plans.plans[1].limits["max_position_usd"] == "500" and plans.plans[0].limits["max_position_usd"] == "paper only"

    current = await stub.GetCurrentSubscription(billing_pb2.GetCurrentSubscriptionRequest(), metadata=bearer(token))
    assert (current.plan, current.status, current.source) == ("pro", "trialing", "trial")
    # The platform's entitlements are billing's: risk and trading see the trial.
    limits = await grpc_platform.platform.entitlements.limits(user_id)
    assert limits.plan == "pro" and await grpc_platform.platform.entitlements.may(user_id, "meta_ai")

    usage = await stub.GetUsage(billing_pb2.GetUsageRequest(), metadata=bearer(token))
    assert {i.name: i.limit for i in usage.items}["api_calls_this_minute"] == 100

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Upgrade(billing_pb2.UpgradeRequest(plan="pro", interval="month", payment_method_id="pm_card_visa"),
                           metadata=bearer(token))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "offline" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Cancel(billing_pb2.CancelRequest(), metadata=bearer(token))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetCurrentSubscription(billing_pb2.GetCurrentSubscriptionRequest())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_webhook_is_public_but_needs_configuration_and_a_signature(grpc_platform):
    stub = billing_pb2_grpc.BillingServiceStub(grpc_platform.channel)
    payload = event("invoice.paid", {"object": "invoice"})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StripeWebhook(httpbody_pb2.HttpBody(content_type="application/json", data=payload),
                                 metadata=(("stripe-signature", sign(payload)),))
    # No webhook secret on this platform: refused, and not as a 500.
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "NIJA_STRIPE_WEBHOOK_SECRET" in info.value.details()
