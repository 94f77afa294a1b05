"""Billing and per-plan rate limits end to end: `nija up` (Envoy, NATS, SQLite) over HTTP, with
localstripe as the Stripe API and as the sender of webhooks."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.parse
import urllib.request

import pytest

from billing.support import WEBHOOK_SECRET, event, sign
from e2e.conftest import start_nija
from helpers import http, unique_email

PASSWORD = "correct horse battery staple"


def _login(nija) -> tuple[str, str]:
    email = unique_email("billing")
    status, _, user = http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert status == 200, user
    status, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return user["id"], tokens["access_token"]


def _db_rows(nija, query: str, *args) -> list[tuple]:
    with sqlite3.connect(f"file:{nija.data_dir / 'nija.db'}?mode=ro", uri=True) as conn:
        return conn.execute(query, args).fetchall()


def _wait_for(predicate, what: str, timeout: float = 30):
    """Wait for an asynchronous delivery (localstripe sends webhooks ~1 s after the fact)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def offline_nija(tmp_path_factory):
    """No Stripe key, and no trial: every new user is on Free (10 API calls per minute)."""
    running = start_nija(tmp_path_factory.mktemp("nija-offline"), {"NIJA_BILLING_TRIAL_DAYS": "0"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stripe_nija(tmp_path_factory, localstripe):
    running = start_nija(tmp_path_factory.mktemp("nija-stripe"), {
        "NIJA_STRIPE_SECRET_KEY": "sk_test_nija", "NIJA_STRIPE_API_BASE": localstripe.base,
        "NIJA_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    })
    # localstripe delivers its events, signed with Stripe's scheme, to NIJA's public webhook.
    data = urllib.parse.urlencode({"url": f"{running.base}/webhooks/stripe", "secret": WEBHOOK_SECRET}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{localstripe.base}/_config/webhooks/nija", data=data), timeout=10)
    yield running
    running.stop()


def test_offline_mode_is_announced_at_start_up(offline_nija, stripe_nija):
    assert "billing is OFFLINE" in "".join(offline_nija.output)
    assert "billing is OFFLINE" not in "".join(stripe_nija.output)


def test_the_11th_call_in_a_minute_of_a_free_user_is_429(offline_nija):
    user_id, token = _login(offline_nija)
    status, _, current = http("GET", f"{offline_nija.base}/api/v1/subscription/current", token=token)
    assert status == 200 and current["plan"] == "free"
    statuses = [status] + [http("GET", f"{offline_nija.base}/api/v1/subscription/usage", token=token)[0] for _ in range(9)]
    assert statuses == [200] * 10
    status, headers, body = http("GET", f"{offline_nija.base}/api/v1/subscription/plans", token=token)
    assert status == 429
    assert body["code"] == 8 and "10 API calls per minute" in body["message"], body
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers.get("x-ratelimit-limit") == "10" and headers.get("x-ratelimit-remaining") == "0"

    # Public routes are never blocked by it, nor are other users.
    assert http("GET", f"{offline_nija.base}/healthz")[0] == 200
    email = unique_email("other")
    http("POST", f"{offline_nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    status, _, other = http("POST", f"{offline_nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200
    assert http("GET", f"{offline_nija.base}/api/v1/subscription/current", token=other["access_token"])[0] == 200


def test_a_forged_user_header_on_public_routes_counts_nothing(offline_nija):
    user_id, token = _login(offline_nija)
    for _ in range(12):
        assert http("GET", f"{offline_nija.base}/healthz", headers={"x-nija-user": user_id})[0] == 200
    statuses = [http("GET", f"{offline_nija.base}/api/v1/subscription/current", token=token)[0] for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_usage_counts_api_calls(offline_nija):
    _, token = _login(offline_nija)
    http("GET", f"{offline_nija.base}/api/v1/subscription/plans", token=token)
    status, _, body = http("GET", f"{offline_nija.base}/api/v1/subscription/usage", token=token)
    assert status == 200
    items = {i["name"]: (int(i["used"]), int(i["limit"])) for i in body["items"]}
    # The usage call itself is counted before it is answered.
    assert items["api_calls_this_minute"] == (2, 10) and items["api_calls_today"] == (2, -1)
    assert items["trades_today"] == (0, 10) and items["exchanges_connected"] == (0, 1)


def test_upgrade_is_refused_offline(offline_nija):
    _, token = _login(offline_nija)
    status, _, body = http("POST", f"{offline_nija.base}/api/v1/subscription/upgrade",
                           {"plan": "pro", "interval": "month", "payment_method_id": "pm_card_visa"}, token=token)
    assert status == 400 and "offline" in body["message"]


def test_trial_upgrade_webhook_failure_through_envoy(stripe_nija):
    base = stripe_nija.base
    user_id, token = _login(stripe_nija)
    status, _, plans = http("GET", f"{base}/api/v1/subscription/plans", token=token)
    assert status == 200
    by_id = {p["id"]: p for p in plans["plans"]}
    assert list(by_id) == ["free", "basic", "pro", "enterprise"]
    assert (by_id["pro"]["price_month_usd"], by_id["pro"]["price_year_usd"]) == ("149", "1430")
    assert by_id["enterprise"]["limits"]["max_exchanges"] == "unlimited"

    status, _, current = http("GET", f"{base}/api/v1/subscription/current", token=token)
    assert (current["plan"], current["status"], current["source"]) == ("pro", "trialing", "trial")
    assert int(current["current_period_end"]) == int(current["trial_end"]) > 0

    status, _, body = http("POST", f"{base}/api/v1/subscription/upgrade",
                           {"plan": "basic", "interval": "fortnight", "payment_method_id": "pm_card_visa"}, token=token)
    assert status == 400 and "interval" in body["message"]
    status, _, body = http("POST", f"{base}/api/v1/subscription/upgrade",
                           {"plan": "basic", "interval": "month", "payment_method_id": "pm_card_visa"}, token=token)
    assert status == 200, body
    assert (body["plan"], body["status"], body["interval"]) == ("basic", "active", "month")

    # localstripe delivers invoice.payment_succeeded (and more) to /webhooks/stripe via Envoy.
    delivered = _wait_for(lambda: _db_rows(stripe_nija, "SELECT outcome FROM billing_events WHERE user_id = ? AND type = ?",
                                           user_id, "invoice.payment_succeeded"), "invoice.payment_succeeded")
    assert delivered[0][0] in ("applied", "stale")
    status, _, usage = http("GET", f"{base}/api/v1/subscription/usage", token=token)
    limits = {i["name"]: int(i["limit"]) for i in usage["items"]}
    assert limits["api_calls_this_minute"] == 30 and limits["exchanges_connected"] == 2 and limits["trades_today"] == 30

    customer, subscription = _db_rows(stripe_nija, "SELECT stripe_customer_id, stripe_subscription_id FROM billing_subscriptions "
                                      "WHERE user_id = ?", user_id)[0]
    failed = event("invoice.payment_failed", {"object": "invoice", "customer": customer, "subscription": subscription,
                                              "status": "open"})
    # Forged, missing or stale signatures: 400 and nothing changes.
    for headers in ({"stripe-signature": sign(failed, secret="whsec_forged")}, {},
                    {"stripe-signature": sign(failed, timestamp=int(time.time()) - 600)}):
        status, _, body = http("POST", f"{base}/webhooks/stripe", raw=failed, headers=headers)
        assert status == 400 and "Stripe-Signature" in body["message"], body
    assert http("GET", f"{base}/api/v1/subscription/current", token=token)[2]["status"] == "active"

    for _ in range(2):  # delivered twice: one effect
        status, _, _ = http("POST", f"{base}/webhooks/stripe", raw=failed, headers={"stripe-signature": sign(failed)})
        assert status == 200
    event_id = json.loads(failed)["id"]
    assert _db_rows(stripe_nija, "SELECT outcome FROM billing_events WHERE id = ?", event_id) == [("applied",)]
    status, _, current = http("GET", f"{base}/api/v1/subscription/current", token=token)
    assert (current["plan"], current["status"]) == ("basic", "past_due") and int(current["grace_until"]) > 0

    # The retry succeeds: Stripe's invoice.payment_succeeded brings the subscription back.
    paid = event("invoice.payment_succeeded", {"object": "invoice", "customer": customer, "subscription": subscription,
                                               "status": "paid"})
    assert http("POST", f"{base}/webhooks/stripe", raw=paid, headers={"stripe-signature": sign(paid)})[0] == 200
    status, _, current = http("GET", f"{base}/api/v1/subscription/current", token=token)
    assert (current["plan"], current["status"], int(current["grace_until"])) == ("basic", "active", 0)

    status, _, body = http("POST", f"{base}/api/v1/subscription/cancel", {}, token=token)
    assert status == 200 and body["cancel_at_period_end"] is True

    # Secrets never reach a log.
    logs = "".join(stripe_nija.output) + "".join(p.read_text(errors="replace") for p in (stripe_nija.data_dir / "logs").glob("*.log"))
    assert "Stripe" in logs or "stripe" in logs
    assert "sk_test_nija" not in logs and WEBHOOK_SECRET not in logs


def test_native_grpc_webhook_without_signature_is_invalid(stripe_nija):
    status, _, body = http("POST", f"{stripe_nija.base}/webhooks/stripe", raw=b'{"id": "evt_x", "type": "x"}')
    assert status == 400 and body["code"] == 3
