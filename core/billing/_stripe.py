"""Stripe through the official SDK: customers, payment methods, subscriptions, the catalogue.

The SDK is synchronous; every call runs in a worker thread so the event loop never blocks.
Stripe errors become domain errors here, with messages safe to show (Stripe's own user-facing
text for card declines, never the secret key or a raw response).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

import stripe

from nija.core.billing._plans import INTERVALS, PLANS
from nija.core.errors import FailedPrecondition, InvalidArgument, Unavailable

log = logging.getLogger(__name__)


def _plain(obj: Any) -> dict:
    """SDK objects are not dicts (v8+): convert, recursively."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _translate(exc: stripe.StripeError) -> Exception:
    if isinstance(exc, stripe.CardError):
        return FailedPrecondition(f"the card was declined: {exc.user_message or 'try another card'}", reason="CARD_DECLINED")
    if isinstance(exc, stripe.InvalidRequestError):
        field = "payment_method_id" if (exc.param or "").startswith("payment_method") or "payment_method" in str(exc.user_message or "") else None
        return InvalidArgument(f"the payment provider rejected the request: {exc.user_message or 'invalid request'}", field=field)
    if isinstance(exc, stripe.AuthenticationError):
        log.error("Stripe rejected the configured secret key")
        return Unavailable("billing is misconfigured; try again later")
    return Unavailable("the payment provider is unavailable; try again later")


class StripeGateway:
    """The few Stripe operations billing needs, behind async methods."""

    def __init__(self, secret_key: str, api_base: str | None = None) -> None:
        kwargs: dict = {"max_network_retries": 2}
        if api_base:
            kwargs["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(secret_key, **kwargs)
        self._catalogue_ready = False
        self._catalogue_lock = threading.Lock()

    async def _call(self, fn: Callable[[], Any]) -> dict:
        def run():
            try:
                return _plain(fn())
            except stripe.StripeError as exc:
                raise _translate(exc) from exc

        return await asyncio.to_thread(run)

    # -- catalogue ---------------------------------------------------------------------------
    def _ensure_catalogue_sync(self) -> None:
        """Create a Product per paid plan and a Plan per interval unless they exist.

        Uses the Plans API (which localstripe speaks too); Stripe treats plans as prices.
        Safe to run from several processes: a concurrent create answers "already exists".
        """
        with self._catalogue_lock:
            if self._catalogue_ready:
                return
            v1 = self._client.v1
            for plan in PLANS.values():
                if not plan.paid:
                    continue
                product_id = f"nija_{plan.id}"
                try:
                    v1.products.retrieve(product_id)
                except stripe.InvalidRequestError:
                    try:
                        v1.products.create(params={"id": product_id, "name": f"NIJA {plan.name}"})
                    except stripe.StripeError:
                        v1.products.retrieve(product_id)  # created meanwhile, or a real failure
                for interval in INTERVALS:
                    plan_id = plan.stripe_plan_id(interval)
                    try:
                        v1.plans.retrieve(plan_id)
                        continue
                    except stripe.InvalidRequestError:
                        pass
                    cents = int(plan.price(interval) * 100)
                    try:
                        v1.plans.create(params={
                            "id": plan_id, "product": product_id, "amount": cents,
                            "currency": "usd", "interval": interval,
                        })
                    except stripe.StripeError:
                        v1.plans.retrieve(plan_id)
            self._catalogue_ready = True

    async def ensure_catalogue(self) -> None:
        def run():
            try:
                self._ensure_catalogue_sync()
            except stripe.StripeError as exc:
                raise _translate(exc) from exc

        await asyncio.to_thread(run)

    # -- customers and payment methods --------------------------------------------------------
    async def create_customer(self, user_id: str, email: str) -> str:
        customer = await self._call(lambda: self._client.v1.customers.create(
            params={"email": email, "metadata": {"nija_user_id": user_id}},
            options={"idempotency_key": f"nija-customer-{user_id}"},
        ))
        return customer["id"]

    async def set_default_payment_method(self, customer_id: str, payment_method_id: str) -> str:
        """Attach the token made by Stripe.js / the mobile SDK and make it the default for
        invoices. Returns the attached payment method's id. NIJA never sees card numbers."""
        attached = await self._call(lambda: self._client.v1.payment_methods.attach(
            payment_method_id, params={"customer": customer_id}
        ))
        await self._call(lambda: self._client.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method": attached["id"]}}
        ))
        return attached["id"]

    # -- subscriptions ------------------------------------------------------------------------
    async def create_subscription(self, customer_id: str, user_id: str, stripe_plan_id: str) -> dict:
        await self.ensure_catalogue()
        # error_if_incomplete: a declined first payment fails the call instead of leaving an
        # unpaid subscription behind.
        return await self._call(lambda: self._client.v1.subscriptions.create(params={
            "customer": customer_id,
            "items": [{"plan": stripe_plan_id}],
            "payment_behavior": "error_if_incomplete",
            "metadata": {"nija_user_id": user_id},
        }))

    async def change_plan(self, subscription_id: str, stripe_plan_id: str) -> dict:
        """Switch the subscription's single item; Stripe prorates by default."""
        await self.ensure_catalogue()
        current = await self._call(lambda: self._client.v1.subscriptions.retrieve(subscription_id))
        item_id = current["items"]["data"][0]["id"]
        return await self._call(lambda: self._client.v1.subscriptions.update(subscription_id, params={
            "items": [{"id": item_id, "plan": stripe_plan_id}],
            "cancel_at_period_end": False,
        }))

    async def cancel_at_period_end(self, subscription_id: str) -> dict:
        return await self._call(lambda: self._client.v1.subscriptions.update(
            subscription_id, params={"cancel_at_period_end": True}
        ))


def subscription_fields(sub: dict) -> dict:
    """The parts of a Stripe subscription object billing stores.

    ``current_period_end`` moved from the subscription to its items in newer API versions;
    both places are read.
    """
    items = (sub.get("items") if isinstance(sub.get("items"), dict) else {}).get("data")
    item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    period_end = sub.get("current_period_end") or item.get("current_period_end") or 0
    if not isinstance(period_end, int):
        period_end = 0
    plan = item.get("plan") or item.get("price") or {}
    return {
        "stripe_subscription_id": sub.get("id"),
        "stripe_plan_id": plan.get("id") if isinstance(plan, dict) else plan,
        "stripe_status": sub.get("status"),
        "current_period_end": int(period_end) * 1000,
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
    }
