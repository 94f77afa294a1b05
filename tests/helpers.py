"""Small helpers shared by the tests (importable because pytest's pythonpath includes tests/)."""

from __future__ import annotations

import itertools
import uuid

_ip_counter = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def unique_ip() -> str:
    """A distinct client address per test, so per-address login throttling of one test never
    spills into another (the gRPC port trusts x-forwarded-for; it listens on loopback only)."""
    n = next(_ip_counter)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def bearer(token: str, ip: str | None = None) -> tuple[tuple[str, str], ...]:
    md = [("authorization", f"Bearer {token}")]
    if ip:
        md.append(("x-forwarded-for", ip))
    return tuple(md)
