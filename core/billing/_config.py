"""Billing configuration from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BillingConfig:
    """``secret_key`` empty means offline: no Stripe, plans are assigned by an admin."""

    secret_key: str = ""
    webhook_secret: str = ""
    api_base: str | None = None
    trial_days: int = 14
    #: How long a past_due subscription keeps its plan before dropping to Free.
    grace_days: int = 7
    #: Webhook signatures older than this are rejected (Stripe's default tolerance).
    webhook_tolerance_s: int = 300
    #: The API rate window; the limit per window is the plan's calls per minute.
    rate_window_s: int = 60

    @property
    def online(self) -> bool:
        return bool(self.secret_key)

    @classmethod
    def from_env(cls, **overrides: object) -> "BillingConfig":
        env = os.environ
        values: dict[str, object] = {
            "secret_key": env.get("NIJA_STRIPE_SECRET_KEY", ""),
            "webhook_secret": env.get("NIJA_STRIPE_WEBHOOK_SECRET", ""),
            "api_base": env.get("NIJA_STRIPE_API_BASE") or None,
        }
        for name, key in (("trial_days", "NIJA_BILLING_TRIAL_DAYS"), ("grace_days", "NIJA_BILLING_GRACE_DAYS"),
                          ("rate_window_s", "NIJA_RATELIMIT_WINDOW_S")):
            if env.get(key):
                values[name] = int(env[key])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
