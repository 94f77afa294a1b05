"""Builders for the billing tests: a Billing on a test database, users, fake time."""

from __future__ import annotations

import time
import uuid

from nija.core.billing import Billing, BillingConfig
from nija.core.clock import FakeClock
from nija.core.db import Database
from nija.core.db.models import users

DAY = 86_400_000
WEBHOOK_SECRET = "whsec_nija_tests"


def make_billing(database_url: str, localstripe, **config) -> tuple[Billing, FakeClock]:
    clock = FakeClock(time.time_ns() // 1_000_000)
    cfg = BillingConfig(secret_key="sk_test_nija", webhook_secret=WEBHOOK_SECRET, api_base=localstripe.base, **config)
    return Billing(Database(database_url), cfg, clock=clock), clock


def make_offline_billing(database_url: str, **config) -> tuple[Billing, FakeClock]:
    clock = FakeClock(time.time_ns() // 1_000_000)
    return Billing(Database(database_url), BillingConfig(**config), clock=clock), clock


async def new_user(billing: Billing) -> str:
    """A user row created now (billing's clock): the trial starts here."""
    user_id = str(uuid.uuid4())
    async with billing.db.transaction() as conn:
        await conn.execute(users.insert().values(
            id=user_id, email=f"billing-{user_id[:12]}@example.com", password_hash="not-a-hash", roles="user",
            created_at=billing.clock.now_ms(), disabled=False,
        ))
    return user_id


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header made with Stripe's scheme: HMAC-SHA256 over "t.payload"."""
    import hashlib
    import hmac

    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_type: str, obj: dict, created: int | None = None, event_id: str | None = None) -> bytes:
    import json

    return json.dumps({
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": event_type,
        "created": int(time.time()) if created is None else created, "data": {"object": obj},
    }).encode()
