"""Billing against a real Stripe API peer (localstripe) and real databases (SQLite, PostgreSQL).

Time that billing reasons about (trial, grace) runs on a FakeClock; webhook signatures and
Stripe's event times are real wall-clock times, as in production.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from billing.support import DAY, event, make_billing, make_offline_billing, new_user, sign
from nija.core.billing import PLANS, billing_events, billing_subscriptions, count_api_call, handle_webhook, usage
from nija.core.db.models import audit_log
from nija.core.errors import FailedPrecondition, InvalidArgument


async def _row(billing, user_id):
    async with billing.db.transaction() as conn:
        row = (await conn.execute(select(billing_subscriptions).where(billing_subscriptions.c.user_id == user_id))).mappings().first()
    return dict(row) if row else None


async def _events_count(billing):
    async with billing.db.transaction() as conn:
        return (await conn.execute(select(func.count()).select_from(billing_events))).scalar_one()


def _stripe_events(localstripe, event_type: str, customer: str) -> list[dict]:
    """Events localstripe itself generated for this customer (newest first)."""
    found = localstripe.client().v1.events.list(params={"type": event_type, "limit": 100}).to_dict()["data"]
    return [e for e in found if e["data"]["object"].get("customer") == customer]


async def _deliver(billing, payload: bytes):
    return await handle_webhook(billing, payload, sign(payload))


async def test_trial_then_upgrade_then_failing_card_then_grace_then_free(database_url, localstripe):
    billing, clock = make_billing(database_url, localstripe)
    user_id = await new_user(billing)

    # A new user: a 14-day trial on Pro.
    view = await billing.view(user_id)
    assert (view.plan, view.status, view.source) == ("pro", "trialing", "trial")
    assert (await billing.limits(user_id)) == PLANS["pro"].limits
    assert await billing.may(user_id, "tradingview") and await billing.may(user_id, "live_trading")
    clock.advance(15 * DAY)
    view = await billing.view(user_id)
    assert (view.plan, view.status) == ("free", "active")
    assert not await billing.may(user_id, "live_trading")
    assert (await billing.limits(user_id)).api_calls_per_minute == 10

    # Upgrade with a good test card (a PaymentMethod token, as Stripe.js makes them).
    view = await billing.upgrade(user_id, "basic", "month", "pm_card_visa")
    assert (view.plan, view.status, view.interval) == ("basic", "active", "month")
    assert view.current_period_end > 0
    row = await _row(billing, user_id)
    stripe_sub = localstripe.client().v1.subscriptions.retrieve(row["stripe_subscription_id"]).to_dict()
    assert stripe_sub["status"] == "active" and stripe_sub["items"]["data"][0]["plan"]["id"] == "nija_basic_month"
    assert stripe_sub["items"]["data"][0]["plan"]["amount"] == 4900

    # The webhook Stripe sends for the paid first invoice (localstripe's own event object).
    paid = _stripe_events(localstripe, "invoice.payment_succeeded", row["stripe_customer_id"])
    assert paid, "localstripe generated invoice.payment_succeeded"
    assert await _deliver(billing, json.dumps(paid[0]).encode()) in ("applied", "stale")
    limits = await billing.limits(user_id)
    assert limits.plan == "basic" and limits.live_trading and limits.api_calls_per_minute == 30

    # The card starts failing; the renewal invoice is charged and declined at localstripe.
    client = localstripe.client()
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": row["stripe_customer_id"]})
    client.v1.customers.update(row["stripe_customer_id"], params={"invoice_settings": {"default_payment_method": bad.id}})
    invoice = client.v1.invoices.create(params={"customer": row["stripe_customer_id"], "subscription": row["stripe_subscription_id"]})
    invoice = client.v1.invoices.pay(invoice.id).to_dict()
    assert invoice["status"] == "open", "the declined charge leaves the invoice unpaid"
    # localstripe does not emit invoice.payment_failed for this path; Stripe would: build it
    # from the real invoice object and sign it with Stripe's scheme.
    assert await _deliver(billing, event("invoice.payment_failed", invoice)) == "applied"
    view = await billing.view(user_id)
    assert (view.plan, view.status, view.billed_plan) == ("basic", "past_due", "basic")
    assert view.grace_until == clock.now_ms() + 7 * DAY
    assert (await billing.limits(user_id)).plan == "basic", "the plan holds during the grace period"

    clock.advance(7 * DAY + 1)
    view = await billing.view(user_id)
    assert (view.plan, view.status, view.billed_plan) == ("free", "past_due", "basic")
    limits = await billing.limits(user_id)
    assert limits.plan == "free" and not limits.live_trading and limits.api_calls_per_minute == 10

    async with billing.db.transaction() as conn:
        actions = (await conn.execute(select(audit_log.c.action).where(audit_log.c.user_id == user_id))).scalars().all()
    assert "billing.upgrade" in actions and "billing.stripe_event" in actions


@pytest.mark.parametrize("paid_type", ["invoice.payment_succeeded", "invoice.paid"])
async def test_payment_recovers_after_failure(database_url, localstripe, paid_type):
    billing, clock = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    await billing.upgrade(user_id, "pro", "year", "pm_card_visa")
    row = await _row(billing, user_id)
    invoice = {"id": f"in_{uuid.uuid4().hex[:12]}", "object": "invoice", "customer": row["stripe_customer_id"],
               "subscription": row["stripe_subscription_id"], "status": "open"}
    assert await _deliver(billing, event("invoice.payment_failed", invoice)) == "applied"
    assert (await billing.view(user_id)).status == "past_due"
    paid = dict(invoice, status="paid", lines={"data": [{"period": {"end": int(time.time()) + 400 * 86400}}]})
    assert await _deliver(billing, event(paid_type, paid)) == "applied"
    view = await billing.view(user_id)
    assert (view.plan, view.status, view.grace_until) == ("pro", "active", 0)
    assert view.current_period_end > int(time.time() + 399 * 86400) * 1000, "the paid period extends the subscription"


async def test_forged_signature_is_rejected_and_changes_nothing(database_url, localstripe):
    billing, _ = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    await billing.upgrade(user_id, "basic", "month", "pm_card_visa")
    row = await _row(billing, user_id)
    before_events = await _events_count(billing)
    payload = event("customer.subscription.deleted", {"id": row["stripe_subscription_id"], "object": "subscription",
                                                      "customer": row["stripe_customer_id"], "status": "canceled"})
    for header in (sign(payload, secret="whsec_attacker"), None, "t=1,v1=deadbeef",
                   sign(payload, timestamp=int(time.time()) - 3600)):  # too old: replay window is 5 minutes
        with pytest.raises(InvalidArgument) as info:
            await handle_webhook(billing, payload, header)
        assert info.value.field == "Stripe-Signature"
    tampered = payload.replace(b"canceled", b"cancelez")
    with pytest.raises(InvalidArgument):
        await handle_webhook(billing, tampered, sign(payload))
    assert await _events_count(billing) == before_events
    assert await _row(billing, user_id) == row


async def test_the_same_event_twice_has_one_effect(database_url, localstripe):
    billing, clock = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    await billing.upgrade(user_id, "basic", "month", "pm_card_visa")
    row = await _row(billing, user_id)
    invoice = {"id": "in_dup", "object": "invoice", "customer": row["stripe_customer_id"],
               "subscription": row["stripe_subscription_id"], "status": "open"}
    payload = event("invoice.payment_failed", invoice)
    assert await _deliver(billing, payload) == "applied"
    first = await _row(billing, user_id)
    clock.advance(3 * DAY)  # a replay later must not restart the grace period
    assert await _deliver(billing, payload) == "duplicate"
    assert await _row(billing, user_id) == first
    async with billing.db.transaction() as conn:
        audits = (await conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.user_id == user_id, audit_log.c.action == "billing.stripe_event"))).scalar_one()
    assert audits == 1


async def test_events_out_of_order_do_not_move_the_subscription_back(database_url, localstripe):
    billing, _ = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    await billing.upgrade(user_id, "pro", "month", "pm_card_visa")
    row = await _row(billing, user_id)
    ids = {"customer": row["stripe_customer_id"], "subscription": row["stripe_subscription_id"]}
    now = int(time.time())
    assert await _deliver(billing, event("invoice.payment_succeeded", {"object": "invoice", "status": "paid", **ids}, created=now + 5)) == "applied"
    # A failure from before the success, delivered late.
    late_fail = event("invoice.payment_failed", {"object": "invoice", "status": "open", **ids}, created=now - 60)
    assert await _deliver(billing, late_fail) == "stale"
    # A subscription snapshot from before the upgrade (another plan, past_due), delivered late.
    old_sub = {"id": ids["subscription"], "object": "subscription", "customer": ids["customer"], "status": "past_due",
               "items": {"data": [{"plan": {"id": "nija_basic_month"}}]}}
    assert await _deliver(billing, event("customer.subscription.updated", old_sub, created=now - 120)) == "stale"
    view = await billing.view(user_id)
    assert (view.plan, view.status) == ("pro", "active")

    # A deletion is final: an older "active" snapshot arriving after it does not revive it.
    deleted = dict(old_sub, status="canceled", items={"data": [{"plan": {"id": "nija_pro_month"}}]})
    assert await _deliver(billing, event("customer.subscription.deleted", deleted, created=now + 10)) == "applied"
    revived = dict(deleted, status="active")
    assert await _deliver(billing, event("customer.subscription.updated", revived, created=now + 10)) == "stale"
    view = await billing.view(user_id)
    assert (view.plan, view.status) == ("free", "canceled")


async def test_subscription_updated_changes_plan_and_cancel_flag(database_url, localstripe):
    billing, _ = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    await billing.upgrade(user_id, "basic", "month", "pm_card_visa")
    row = await _row(billing, user_id)
    period_end = int(time.time()) + 31 * 86400
    sub = {"id": row["stripe_subscription_id"], "object": "subscription", "customer": row["stripe_customer_id"],
           "status": "active", "cancel_at_period_end": True, "current_period_end": period_end,
           "items": {"data": [{"plan": {"id": "nija_enterprise_year"}}]}}
    assert await _deliver(billing, event("customer.subscription.updated", sub)) == "applied"
    view = await billing.view(user_id)
    assert (view.plan, view.interval, view.cancel_at_period_end) == ("enterprise", "year", True)
    assert view.current_period_end == period_end * 1000
    assert (await billing.limits(user_id)).max_exchanges is None


async def test_upgrade_switch_and_cancel_at_period_end_through_stripe(database_url, localstripe):
    billing, clock = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    first = await billing.upgrade(user_id, "basic", "month", "pm_card_visa")
    row = await _row(billing, user_id)
    switched = await billing.upgrade(user_id, "pro", "month", "pm_card_visa")
    assert (switched.plan, switched.status) == ("pro", "active")
    after = await _row(billing, user_id)
    assert after["stripe_subscription_id"] == row["stripe_subscription_id"], "a switch keeps the subscription"
    client = localstripe.client()
    sub = client.v1.subscriptions.retrieve(row["stripe_subscription_id"]).to_dict()
    assert sub["items"]["data"][0]["plan"]["id"] == "nija_pro_month"
    # Stripe prorates: the unused time of the old plan is credited.
    items = client.v1.invoice_items.list(params={"customer": row["stripe_customer_id"]}).to_dict()["data"]
    assert any(i.get("proration") and i["amount"] < 0 for i in items)

    # A downgrade (and a change of interval) goes through the same call.
    down = await billing.upgrade(user_id, "basic", "year", "pm_card_visa")
    assert (down.plan, down.interval, down.status) == ("basic", "year", "active")
    sub = client.v1.subscriptions.retrieve(row["stripe_subscription_id"]).to_dict()
    assert sub["items"]["data"][0]["plan"]["id"] == "nija_basic_year"
    assert (await billing.limits(user_id)).max_position_usd == PLANS["basic"].limits.max_position_usd

    canceled = await billing.cancel(user_id)
    assert (canceled.plan, canceled.status, canceled.cancel_at_period_end) == ("basic", "active", True)
    assert client.v1.subscriptions.retrieve(row["stripe_subscription_id"]).to_dict()["cancel_at_period_end"] is True
    clock.advance(max(0, canceled.current_period_end - clock.now_ms()) + 1)
    view = await billing.view(user_id)
    assert (view.plan, view.status) == ("free", "canceled")
    assert first.current_period_end > 0


async def test_bad_upgrades_are_clear_errors(database_url, localstripe):
    billing, _ = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    for plan, interval, pm, field in (("free", "month", "pm_card_visa", "plan"), ("gold", "month", "pm_card_visa", "plan"),
                                      ("pro", "week", "pm_card_visa", "interval"), ("pro", "month", "4242424242424242", "payment_method_id")):
        with pytest.raises(InvalidArgument) as info:
            await billing.upgrade(user_id, plan, interval, pm)
        assert info.value.field == field
    with pytest.raises(FailedPrecondition) as info:
        await billing.upgrade(user_id, "pro", "month", "pm_card_visa_chargeDeclined")
    assert "declined" in info.value.message
    with pytest.raises(FailedPrecondition):
        await billing.cancel(user_id)
    view = await billing.view(user_id)
    assert view.status == "trialing", "a declined card changes nothing"


async def test_offline_billing_admin_assigns_plans(database_url):

    billing, _ = make_offline_billing(database_url)
    user_id = await new_user(billing)
    with pytest.raises(FailedPrecondition) as info:
        await billing.upgrade(user_id, "pro", "month", "pm_card_visa")
    assert info.value.reason == "BILLING_OFFLINE"
    admin_id = await new_user(billing)
    view = await billing.assign_plan(admin_id, user_id, "enterprise")
    assert (view.plan, view.source) == ("enterprise", "admin")
    assert (await billing.limits(user_id)).max_positions == 50
    with pytest.raises(InvalidArgument):
        await billing.assign_plan(admin_id, user_id, "platinum")
    view = await billing.assign_plan(admin_id, user_id, None)
    assert (view.plan, view.status) == ("pro", "trialing")
    async with billing.db.transaction() as conn:
        actors = (await conn.execute(select(audit_log.c.actor_id).where(
            audit_log.c.user_id == user_id, audit_log.c.action == "billing.assign_plan"))).scalars().all()
    assert actors == [admin_id, admin_id]


async def test_api_calls_are_counted_per_user_window_against_the_plan(database_url):

    billing, clock = make_offline_billing(database_url, trial_days=0)
    user_id = await new_user(billing)
    other = await new_user(billing)
    decisions = [await count_api_call(billing, user_id) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert decisions[9].remaining == 0 and decisions[0].limit == 10 and decisions[10].reset_s == 60
    assert (await count_api_call(billing, other)).allowed, "counts are per user"
    assert await count_api_call(billing, str(uuid.uuid4())) is None, "unknown users are not counted"
    items = {i.name: (i.used, i.limit) for i in await usage(billing, user_id)}
    assert items == {"trades_today": (0, 10), "api_calls_this_minute": (11, 10), "api_calls_today": (11, -1),
                     "exchanges_connected": (0, 1)}
    clock.advance(60_000)
    assert (await count_api_call(billing, user_id)).allowed, "a new window starts after the old one ends"
    items = {i.name: i.used for i in await usage(billing, user_id)}
    assert items["api_calls_this_minute"] == 1 and items["api_calls_today"] == 12


async def test_signed_but_malformed_events_are_400_not_500(database_url, localstripe):
    billing, _ = make_billing(database_url, localstripe)
    before = await _events_count(billing)
    for body in (b"not json", b'{"id": 1, "type": "x"}', b'[1, 2]',
                 b'{"id": "evt_bad1", "type": "invoice.paid", "data": {"object": []}}',
                 b'{"id": "evt_bad2", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}}',
                 "\u00ff".encode("latin-1")):
        with pytest.raises(InvalidArgument):
            await handle_webhook(billing, body, sign(body))
    assert await _events_count(billing) == before
    # Odd shapes inside a well-formed event are tolerated (and match nobody).
    odd = event("invoice.payment_failed", {"customer": 7, "subscription": ["x"], "lines": [], "parent": "p"})
    assert await _deliver(billing, odd) == "ignored"
    odd_sub = event("customer.subscription.updated", {"id": 5, "items": "none", "current_period_end": "soon"})
    assert await _deliver(billing, odd_sub) == "ignored"


async def test_subscription_created_is_adopted_for_the_customer(database_url, localstripe):
    """Stripe may deliver customer.subscription.created before NIJA stored the subscription id
    (an upgrade still in flight): the customer's row adopts it."""
    from nija.core.billing import _store

    billing, _ = make_billing(database_url, localstripe)
    user_id = await new_user(billing)
    customer = await billing.gateway.create_customer(user_id, f"{user_id}@example.com")
    async with billing.db.transaction() as conn:
        await _store.ensure_row(conn, user_id, billing.clock.now_ms())
        await _store.update(conn, user_id, {"stripe_customer_id": customer})
    sub = {"id": f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "customer": customer, "status": "active",
           "current_period_end": int(time.time()) + 30 * 86400, "items": {"data": [{"plan": {"id": "nija_pro_month"}}]}}
    assert await _deliver(billing, event("customer.subscription.created", sub)) == "applied"
    view = await billing.view(user_id)
    assert (view.plan, view.status, view.interval, view.source) == ("pro", "active", "month", "stripe")
    assert (await _row(billing, user_id))["stripe_subscription_id"] == sub["id"]
    # Another subscription of the same customer is not ours to apply.
    other = dict(sub, id=f"sub_{uuid.uuid4().hex[:14]}", status="canceled")
    assert await _deliver(billing, event("customer.subscription.deleted", other)) == "ignored"
    assert (await billing.view(user_id)).status == "active"
