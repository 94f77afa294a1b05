"""Billing: plans as data, subscriptions through Stripe, the 14-day trial, webhooks, usage,
and the entitlements every service obeys (``Billing`` implements
:class:`nija.core.entitlements.Entitlements`)."""

from nija.core.billing._config import BillingConfig
from nija.core.billing._plans import FREE, INTERVALS, PLANS, TRIAL_PLAN, Plan, plan_for_stripe_id
from nija.core.billing._service import Billing, NoUsageSources, UsageSources
from nija.core.billing._sources import SqlUsageSources
from nija.core.billing._state import SubscriptionView, resolve
from nija.core.billing._stripe import StripeGateway
from nija.core.billing._tables import api_usage, billing_events, billing_subscriptions
from nija.core.billing._usage import RateDecision, UsageItem, count_api_call, usage
from nija.core.billing._webhooks import HANDLED, handle_webhook, verify

__all__ = [
    "Billing", "BillingConfig", "FREE", "HANDLED", "INTERVALS", "NoUsageSources", "PLANS", "Plan", "RateDecision",
    "SqlUsageSources", "StripeGateway", "SubscriptionView", "TRIAL_PLAN", "UsageItem", "UsageSources", "api_usage", "billing_events",
    "billing_subscriptions", "count_api_call", "handle_webhook", "plan_for_stripe_id", "resolve", "usage", "verify",
]
