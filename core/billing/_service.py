"""Billing: the subscription of each user, upgrades and cancellations through Stripe, admin
assignments, and the entitlements every service asks.

Stripe is the source of truth for payments; the ``billing_subscriptions`` row is NIJA's copy,
moved by this module's calls and by webhooks (:mod:`._webhooks`). What is *in force* is always
derived from the row, the account's age and the clock (:func:`._state.resolve`).
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core.audit import record
from nija.core.billing import _store
from nija.core.billing._config import BillingConfig
from nija.core.billing._plans import INTERVALS, PLANS
from nija.core.billing._sources import SqlUsageSources
from nija.core.billing._state import SubscriptionView, resolve
from nija.core.billing._stripe import StripeGateway, subscription_fields
from nija.core.clock import Clock, SystemClock
from nija.core.db import Database
from nija.core.entitlements import PlanLimits
from nija.core.errors import FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger(__name__)

#: Called after a committed change: (view, event id) → publish ``nija.billing.<user>.subscription``.
Publisher = Callable[[SubscriptionView, str], Awaitable[None]]


class UsageSources(Protocol):
    """Counts owned by other features (risk, trading). The default, :class:`SqlUsageSources`,
    reads their tables; :class:`NoUsageSources` counts nothing."""

    async def trades_today(self, user_id: str, day_start_ms: int) -> int: ...

    async def exchanges_connected(self, user_id: str) -> int: ...


class NoUsageSources:
    """Counts nothing (for deployments or tests without trading)."""

    async def trades_today(self, user_id: str, day_start_ms: int) -> int:
        return 0

    async def exchanges_connected(self, user_id: str) -> int:
        return 0


class Billing:
    """Subscriptions and entitlements. One per process; state lives in the database."""

    def __init__(
        self,
        db: Database,
        config: BillingConfig,
        *,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        gateway: StripeGateway | None = None,
        publish: Publisher | None = None,
        usage_sources: UsageSources | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock or SystemClock()
        # Stripe stamps events with its wall clock; ordering against them needs the same clock,
        # even when tests move the domain clock (trial and grace) forward.
        self.wall_clock = wall_clock or SystemClock()
        if gateway is None and config.online:
            gateway = StripeGateway(config.secret_key, config.api_base)
        self.gateway = gateway
        self.publish = publish
        self.usage_sources: UsageSources = usage_sources if usage_sources is not None else SqlUsageSources(db)

    @property
    def online(self) -> bool:
        return self.gateway is not None

    # -- reading ------------------------------------------------------------------------------
    async def view(self, user_id: str, *, conn: AsyncConnection | None = None) -> SubscriptionView:
        """``user_id``'s subscription as in force now; read in ``conn``'s transaction when given."""
        if conn is None:
            async with self.db.transaction() as own:
                user, row = await _store.load_joined(own, user_id)
        else:
            user, row = await _store.load_joined(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        return resolve(user_id, user["created_at"], row, self.clock.now_ms(), self.config.trial_days)

    # Entitlements protocol (nija.core.entitlements.Entitlements) -------------------------------
    async def limits(self, user_id: str, conn: AsyncConnection | None = None) -> PlanLimits:
        """The limits in force for ``user_id``; an unknown user gets Free."""
        try:
            return (await self.view(user_id, conn=conn)).limits
        except NotFound:
            return PLANS["free"].limits

    async def may(self, user_id: str, feature: str) -> bool:
        limits = await self.limits(user_id)
        if feature == "live_trading":
            return limits.live_trading
        return feature in limits.features

    # -- changing -----------------------------------------------------------------------------
    async def upgrade(self, user_id: str, plan_id: str, interval: str, payment_method_id: str,
                      client_ip: str | None = None) -> SubscriptionView:
        """Subscribe to (or switch to) a paid plan through Stripe, paying with a payment method
        token. A switch keeps the subscription and lets Stripe prorate."""
        plan = PLANS.get(plan_id)
        if plan is None or not plan.paid:
            paid = ", ".join(p for p in PLANS if PLANS[p].paid)
            raise InvalidArgument(f"plan must be one of {paid}", field="plan")
        if interval not in INTERVALS:
            raise InvalidArgument("interval must be month or year", field="interval")
        if not payment_method_id.startswith("pm_") or len(payment_method_id) > 255:
            raise InvalidArgument("payment_method_id must be a Stripe PaymentMethod id (pm_…)", field="payment_method_id")
        gateway = self._require_gateway()
        now = self.clock.now_ms()

        async with self.db.transaction() as conn:
            user, row = await _store.load(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        if row and row.get("plan_override"):
            raise FailedPrecondition("an administrator assigned your plan; contact support to change it")
        customer_id = row.get("stripe_customer_id") if row else None
        if not customer_id:
            customer_id = await gateway.create_customer(user_id, user["email"])
            async with self.db.transaction() as conn:
                await _store.ensure_row(conn, user_id, now)
                await _store.update(conn, user_id, {"stripe_customer_id": customer_id, "updated_at": now})
        await gateway.set_default_payment_method(customer_id, payment_method_id)

        stripe_plan = plan.stripe_plan_id(interval)
        live_sub = row.get("stripe_subscription_id") if row and row.get("status") in ("active", "trialing", "past_due") else None
        if live_sub:
            sub = await gateway.change_plan(live_sub, stripe_plan)
        else:
            sub = await gateway.create_subscription(customer_id, user_id, stripe_plan)
        fields = subscription_fields(sub)
        status = fields["stripe_status"] if fields["stripe_status"] in ("active", "trialing", "past_due") else "active"
        changes = {
            "plan": plan.id, "interval": interval, "status": status,
            "stripe_subscription_id": fields["stripe_subscription_id"],
            "current_period_end": fields["current_period_end"] or None,
            "cancel_at_period_end": False,
            "grace_until": None if status != "past_due" else (row or {}).get("grace_until"),
        }
        return await self._commit_change(user_id, changes, action="billing.upgrade", actor_id=user_id,
                                         client_ip=client_ip, detail={"plan": plan.id, "interval": interval},
                                         stamp_wall_clock=True)

    async def cancel(self, user_id: str, client_ip: str | None = None) -> SubscriptionView:
        """Cancel at the end of the paid period (the plan stays in force until then)."""
        gateway = self._require_gateway()
        async with self.db.transaction() as conn:
            user, row = await _store.load(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        if not row or not row.get("stripe_subscription_id") or row["status"] not in ("active", "trialing", "past_due"):
            raise FailedPrecondition("there is no paid subscription to cancel")
        sub = await gateway.cancel_at_period_end(row["stripe_subscription_id"])
        fields = subscription_fields(sub)
        changes = {"cancel_at_period_end": True, "current_period_end": fields["current_period_end"] or row["current_period_end"]}
        return await self._commit_change(user_id, changes, action="billing.cancel", actor_id=user_id,
                                         client_ip=client_ip, detail={"at_period_end": True}, stamp_wall_clock=True)

    async def assign_plan(self, actor_id: str, user_id: str, plan_id: str | None, client_ip: str | None = None) -> SubscriptionView:
        """Force ``plan_id`` on ``user_id`` (``None`` removes the override). For admins: the way
        plans are given in offline mode, and a support tool otherwise. The caller checks the
        admin role."""
        if plan_id is not None and plan_id not in PLANS:
            raise InvalidArgument(f"plan must be one of {', '.join(PLANS)}", field="plan")
        async with self.db.transaction() as conn:
            user, _ = await _store.load(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        return await self._commit_change(user_id, {"plan_override": plan_id}, action="billing.assign_plan",
                                         actor_id=actor_id, client_ip=client_ip, detail={"plan_override": plan_id})

    # -- internals ----------------------------------------------------------------------------
    def _require_gateway(self) -> StripeGateway:
        if self.gateway is None:
            raise FailedPrecondition("billing is offline (no Stripe key configured): an administrator assigns plans",
                                     reason="BILLING_OFFLINE")
        return self.gateway

    async def _commit_change(self, user_id: str, changes: dict, *, action: str, actor_id: str | None,
                             client_ip: str | None, detail: dict, stamp_wall_clock: bool = False) -> SubscriptionView:
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            row = await _store.ensure_row(conn, user_id, now)
            user, _ = await _store.load(conn, user_id)
            before = resolve(user_id, user["created_at"], row, now, self.config.trial_days)
            values = dict(changes, updated_at=now)
            if stamp_wall_clock:
                # Stripe events created before this change must not undo it (see _webhooks).
                values["last_event_at"] = max(row["last_event_at"], self.wall_clock.now_ms() // 1000 * 1000)
            await _store.update(conn, user_id, values)
            after = resolve(user_id, user["created_at"], {**row, **values}, now, self.config.trial_days)
            await record(conn, action=action, outcome="ok", at=now, user_id=user_id, actor_id=actor_id, client_ip=client_ip,
                         detail={**detail, "from": f"{before.plan}/{before.status}", "to": f"{after.plan}/{after.status}"})
        await self.notify(after, f"{action}-{user_id}-{now}")
        return after

    async def notify(self, view: SubscriptionView, event_id: str) -> None:
        """Publish the committed state; the database stays the truth if NATS is down."""
        if self.publish is None:
            return
        try:
            await self.publish(view, event_id)
        except Exception:  # noqa: BLE001 - a lost notification must not fail a committed change
            log.warning("could not publish the billing event of user %s", view.user_id, exc_info=True)
