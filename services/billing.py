"""``nija.billing.v1.BillingService``: proto ⇄ :mod:`nija.core.billing`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from nija.billing.v1 import billing_pb2, billing_pb2_grpc
from nija.core.billing import PLANS, Billing, SubscriptionView, handle_webhook, usage
from nija.core.events import EventBus
from nija.core.money import decimal_to_str
from nija.services.context import current


def subscription_message(view: SubscriptionView) -> billing_pb2.Subscription:
    return billing_pb2.Subscription(
        plan=view.plan,
        status=view.status,
        interval=view.interval,
        current_period_end=view.current_period_end,
        cancel_at_period_end=view.cancel_at_period_end,
        trial_end=view.trial_end,
        grace_until=view.grace_until,
        billed_plan=view.billed_plan,
        source=view.source,
    )


def _limit_text(value) -> str:
    return "unlimited" if value is None else (decimal_to_str(value) if not isinstance(value, (bool, int)) else str(value).lower())


def _plan_message(plan) -> billing_pb2.Plan:
    lim = plan.limits
    limits = {
        "live_trading": _limit_text(lim.live_trading),
        "max_exchanges": _limit_text(lim.max_exchanges),
        "max_position_usd": _limit_text(lim.max_position_usd),
        "max_positions": _limit_text(lim.max_positions),
        "max_trades_per_day": _limit_text(lim.max_trades_per_day),
        "api_calls_per_minute": _limit_text(lim.api_calls_per_minute),
    }
    if not lim.live_trading:
        limits["max_position_usd"] = "paper only"
    return billing_pb2.Plan(
        id=plan.id, name=plan.name,
        price_month_usd=decimal_to_str(plan.price_month_usd), price_year_usd=decimal_to_str(plan.price_year_usd),
        limits=limits, features=sorted(lim.features),
    )


def event_publisher(get_bus):
    """A :data:`nija.core.billing._service.Publisher` for ``nija.billing.<user_id>.subscription``;
    ``get_bus`` is read at publish time (the bus connects after the platform is built)."""

    async def publish(view: SubscriptionView, event_id: str) -> None:
        bus: EventBus | None = get_bus()
        if bus is not None:
            payload = subscription_message(view).SerializeToString()
            await bus.publish(f"nija.billing.{view.user_id}.subscription", payload, event_id=event_id)

    return publish


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def ListPlans(self, request, context):
        return billing_pb2.ListPlansResponse(plans=[_plan_message(p) for p in PLANS.values()])

    async def GetCurrentSubscription(self, request, context):
        return subscription_message(await self.billing.view(current().user_id))

    async def GetUsage(self, request, context):
        items = await usage(self.billing, current().user_id)
        return billing_pb2.Usage(items=[billing_pb2.UsageItem(name=i.name, used=i.used, limit=i.limit) for i in items])

    async def Upgrade(self, request, context):
        ctx = current()
        view = await self.billing.upgrade(ctx.user_id, request.plan.strip().lower(), request.interval.strip().lower(),
                                          request.payment_method_id.strip(), client_ip=ctx.client_ip)
        return subscription_message(view)

    async def Cancel(self, request, context):
        ctx = current()
        return subscription_message(await self.billing.cancel(ctx.user_id, client_ip=ctx.client_ip))

    async def StripeWebhook(self, request, context):
        # Envoy passes the HTTP headers as gRPC metadata; the raw body arrives as HttpBody.data.
        await handle_webhook(self.billing, bytes(request.data), current().header("stripe-signature"))
        return empty_pb2.Empty()
