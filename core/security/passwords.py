from __future__ import annotations

import asyncio

import argon2
from argon2 import Type


class PasswordHasher:
    """argon2id hashing, off the event loop (a hash costs tens of milliseconds of CPU)."""

    def __init__(self, time_cost: int = 2, memory_cost: int = 19 * 1024, parallelism: int = 1) -> None:
        # OWASP's minimum argon2id profile (m=19 MiB, t=2, p=1).
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the email is unknown, so both paths cost the same.
        self._dummy = self._hasher.hash("nija-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        target = stored_hash or self._dummy
        try:
            ok = await asyncio.to_thread(self._hasher.verify, target, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return bool(ok) and stored_hash is not None
