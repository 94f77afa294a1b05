"""What is in force for a user now: a pure function of the stored row, the account's age and
the time. Kept free of I/O so every rule (trial, grace, cancellation, override) is testable."""

from __future__ import annotations

from dataclasses import dataclass

from nija.core.billing._plans import FREE, PLANS, TRIAL_PLAN, Plan

DAY_MS = 86_400_000


@dataclass(frozen=True)
class SubscriptionView:
    """The subscription as users and services see it.

    ``plan`` is the plan in force (free|basic|pro|enterprise); ``status`` one of trialing,
    active, past_due, canceled. ``billed_plan`` is what the user pays for (may differ from
    ``plan`` after a grace period ran out or a cancellation took effect).
    """

    user_id: str
    plan: str
    status: str
    interval: str
    current_period_end: int
    cancel_at_period_end: bool
    trial_end: int
    grace_until: int
    billed_plan: str
    source: str  # trial | stripe | admin | free

    @property
    def limits(self):
        return PLANS[self.plan].limits


def resolve(user_id: str, created_at: int, row: dict | None, now_ms: int, trial_days: int) -> SubscriptionView:
    """Resolve the stored state to the plan in force at ``now_ms``.

    Rules, in order: an admin override wins; a paid subscription that is active (or past_due
    within its grace period) grants its plan; past_due after the grace period, or canceled,
    drops to Free; with no paid subscription the account's trial grants Pro for ``trial_days``
    from sign-up, then Free.
    """
    trial_end = created_at + trial_days * DAY_MS
    row = row or {}
    status = row.get("status") or "none"
    billed = row.get("plan") or FREE.id
    common = dict(
        user_id=user_id,
        interval=row.get("interval") or "",
        current_period_end=row.get("current_period_end") or 0,
        cancel_at_period_end=bool(row.get("cancel_at_period_end")),
        trial_end=trial_end,
        grace_until=row.get("grace_until") or 0,
        billed_plan=billed,
    )
    override = row.get("plan_override")
    if override:
        return SubscriptionView(plan=override, status="active", source="admin", **common)
    if status in ("active", "trialing"):
        period_end = common["current_period_end"]
        if common["cancel_at_period_end"] and period_end and now_ms >= period_end:
            # Stripe sends customer.subscription.deleted at this moment; do not wait for it.
            return SubscriptionView(plan=FREE.id, status="canceled", source="stripe", **common)
        return SubscriptionView(plan=billed, status=status, source="stripe", **common)
    if status == "past_due":
        in_grace = common["grace_until"] and now_ms < common["grace_until"]
        return SubscriptionView(plan=billed if in_grace else FREE.id, status="past_due", source="stripe", **common)
    if status == "canceled":
        return SubscriptionView(plan=FREE.id, status="canceled", source="stripe", **common)
    if now_ms < trial_end:
        trial = dict(common, current_period_end=trial_end)
        return SubscriptionView(plan=TRIAL_PLAN.id, status="trialing", source="trial", **trial)
    return SubscriptionView(plan=FREE.id, status="active", source="free", **common)


def plan_or_none(plan_id: str) -> Plan | None:
    return PLANS.get(plan_id)
