"""Stripe webhooks: signature check, exactly-once processing, no regression on late events.

Each event id is inserted into ``billing_events`` in the same transaction as the change it
causes, so a replay (Stripe retries, an attacker resending a captured request) finds the id
and changes nothing, and a crash before commit leaves no trace and Stripe delivers again.

Ordering: Stripe does not guarantee delivery order. The row remembers the ``created`` time of
the newest event applied (and of NIJA's own changes); an older event is recorded as "stale"
and ignored, and a canceled subscription is never revived by an event about it.
"""

from __future__ import annotations

import json
import logging

import stripe
from sqlalchemy import select

from nija.core.audit import record
from nija.core.billing import _store
from nija.core.billing._plans import plan_for_stripe_id
from nija.core.billing._service import Billing
from nija.core.billing._state import DAY_MS, resolve
from nija.core.billing._stripe import subscription_fields
from nija.core.billing._tables import billing_events, billing_subscriptions
from nija.core.errors import FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

#: The event types that move a subscription; others are acknowledged and recorded only.
HANDLED = (
    "invoice.payment_succeeded",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


def verify(payload: bytes, signature: str | None, secret: str, tolerance_s: int) -> dict:
    """The event of a correctly signed ``payload``; :class:`InvalidArgument` (HTTP 400) otherwise."""
    if not secret:
        raise FailedPrecondition("Stripe webhooks are not configured (NIJA_STRIPE_WEBHOOK_SECRET)", reason="BILLING_OFFLINE")
    if not signature:
        raise InvalidArgument("missing Stripe-Signature header", field="Stripe-Signature")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=tolerance_s)
        event = json.loads(text)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        raise InvalidArgument("invalid Stripe-Signature (bad signature, wrong secret or too old)", field="Stripe-Signature") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidArgument("the body is not a Stripe event")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidArgument("the Stripe event has no data.object")
    if not isinstance(event.get("created", 0), int):
        raise InvalidArgument("the Stripe event's created time is not an integer")
    return event


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _ids(event_type: str, obj: dict) -> tuple[str | None, str | None]:
    """(subscription id, customer id) an event is about."""
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    if event_type.startswith("customer.subscription."):
        return (obj["id"] if isinstance(obj.get("id"), str) else None), customer
    sub = obj.get("subscription")
    if not sub:
        # API versions from 2025 moved it under parent.subscription_details.
        sub = _dict(_dict(obj.get("parent")).get("subscription_details")).get("subscription")
    if not sub:
        lines = _list(_dict(obj.get("lines")).get("data"))
        sub = _dict(lines[0]).get("subscription") if lines else None
    return (sub if isinstance(sub, str) else None), customer


def _invoice_period_end(obj: dict) -> int | None:
    lines = _list(_dict(obj.get("lines")).get("data"))
    ends = [_dict(_dict(line).get("period")).get("end") for line in lines]
    ends = [e for e in ends if isinstance(e, int)]
    return max(ends) * 1000 if ends else None


def _changes(event_type: str, obj: dict, row: dict, now_ms: int, grace_ms: int) -> dict | None:
    """The row changes an event asks for; ``None`` when it asks for none."""
    def grace_from_now() -> int:
        # Repeated failures keep the first deadline: the grace period is not extended.
        return row["grace_until"] if row["status"] == "past_due" and row["grace_until"] else now_ms + grace_ms

    if event_type in ("invoice.payment_succeeded", "invoice.paid"):
        changes = {"status": "active", "grace_until": None}
        period_end = _invoice_period_end(obj)
        if period_end and period_end > (row["current_period_end"] or 0):
            changes["current_period_end"] = period_end
        return changes
    if event_type == "invoice.payment_failed":
        if obj.get("status") == "paid":
            return None  # paid meanwhile; the failure is history
        return {"status": "past_due", "grace_until": grace_from_now()}
    if event_type == "customer.subscription.deleted":
        return {"status": "canceled", "grace_until": None}
    if event_type in ("customer.subscription.created", "customer.subscription.updated"):
        fields = subscription_fields(obj)
        changes: dict = {"cancel_at_period_end": fields["cancel_at_period_end"]}
        if fields["current_period_end"]:
            changes["current_period_end"] = fields["current_period_end"]
        known = plan_for_stripe_id(fields["stripe_plan_id"] or "")
        if known:
            changes["plan"], changes["interval"] = known[0].id, known[1]
        status = fields["stripe_status"]
        if status in ("active", "trialing"):
            changes.update(status=status, grace_until=None)
        elif status == "past_due":
            changes.update(status="past_due", grace_until=grace_from_now())
        elif status == "unpaid":
            # Stripe gave up retrying: the grace period is over.
            changes.update(status="past_due", grace_until=min(grace_from_now(), now_ms))
        elif status in ("canceled", "incomplete_expired"):
            changes.update(status="canceled", grace_until=None)
        return changes
    return None


async def _find_row(conn, sub_id: str | None, customer_id: str | None) -> dict | None:
    if sub_id:
        row = (await conn.execute(
            select(billing_subscriptions).where(billing_subscriptions.c.stripe_subscription_id == sub_id).with_for_update()
        )).mappings().first()
        if row:
            return dict(row)
    if customer_id:
        row = (await conn.execute(
            select(billing_subscriptions).where(billing_subscriptions.c.stripe_customer_id == customer_id).with_for_update()
        )).mappings().first()
        # Adopt the subscription only if the row has none yet (an upgrade still in flight);
        # events about an older subscription of the same customer are not ours to apply.
        if row and (row["stripe_subscription_id"] in (None, sub_id)):
            return dict(row)
    return None


async def handle_webhook(billing: Billing, payload: bytes, signature: str | None) -> str:
    """Verify and apply one Stripe event. Returns the outcome: applied, stale, ignored or
    duplicate (all acknowledged with 200 so Stripe stops retrying)."""
    cfg = billing.config
    event = verify(payload, signature, cfg.webhook_secret, cfg.webhook_tolerance_s)
    event_type = event["type"]
    obj = event["data"]["object"]
    created_ms = int(event.get("created") or 0) * 1000
    now = billing.clock.now_ms()
    view = None
    async with billing.db.transaction() as conn:
        inserted = await conn.execute(
            _store.upsert(conn, billing_events)
            .values(id=event["id"][:255], type=event_type[:100], created=created_ms, received_at=now, outcome="received")
            .on_conflict_do_nothing(index_elements=["id"])
        )
        if inserted.rowcount == 0:
            log.info("Stripe event %s (%s) was already processed", event["id"], event_type)
            return "duplicate"
        outcome, user_id = "ignored", None
        row = None
        if event_type in HANDLED:
            sub_id, customer_id = _ids(event_type, obj)
            row = await _find_row(conn, sub_id, customer_id)
        if row is not None:
            user_id = row["user_id"]
            terminal = row["status"] == "canceled" and row["stripe_subscription_id"] == _ids(event_type, obj)[0]
            if created_ms < row["last_event_at"] or (terminal and event_type != "customer.subscription.deleted"):
                outcome = "stale"
            else:
                changes = _changes(event_type, obj, row, now, cfg.grace_days * DAY_MS)
                outcome = "applied" if changes else "ignored"
                if changes and row["stripe_subscription_id"] is None:
                    changes["stripe_subscription_id"] = _ids(event_type, obj)[0]
                if changes:
                    user, _ = await _store.load(conn, user_id)
                    before = resolve(user_id, user["created_at"], row, now, cfg.trial_days)
                    new_row = {**row, **changes, "last_event_at": max(row["last_event_at"], created_ms), "updated_at": now}
                    await _store.update(conn, user_id, {k: new_row[k] for k in (*changes, "last_event_at", "updated_at")})
                    view = resolve(user_id, user["created_at"], new_row, now, cfg.trial_days)
                    if (before.plan, before.status) != (view.plan, view.status):
                        await record(conn, action="billing.stripe_event", outcome="ok", at=now, user_id=user_id,
                                     detail={"event": event["id"], "type": event_type,
                                             "from": f"{before.plan}/{before.status}", "to": f"{view.plan}/{view.status}"})
        await conn.execute(billing_events.update().where(billing_events.c.id == event["id"][:255])
                           .values(outcome=outcome, user_id=user_id))
    log.info("Stripe event %s (%s): %s", event["id"], event_type, outcome)
    if view is not None:
        await billing.notify(view, f"stripe-{event['id']}")
    return outcome
