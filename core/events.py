"""The event bus interface and its NATS JetStream implementation.

Subjects (the contract, see docs/events.md): ``nija.user.<user_id>.orders|fills|positions|notifications``,
``nija.market.<exchange>.<symbol>.candles|ticker``, ``nija.control.killswitch``,
``nija.billing.<user_id>.subscription``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, Sequence

log = logging.getLogger(__name__)

STREAM = "NIJA"
STREAM_SUBJECTS = ["nija.user.>", "nija.market.>", "nija.control.>", "nija.billing.>"]


class EventBus(Protocol):
    async def publish(self, subject: str, payload: bytes, *, event_id: str | None = None) -> None:
        """Publish durably; ``event_id`` de-duplicates retries (JetStream Nats-Msg-Id)."""

    async def publish_batch(self, events: Sequence[tuple[str, bytes, str | None]]) -> None:
        """Publish ``(subject, payload, event_id)`` in this order and return once every one was
        acknowledged; raise if any was not (the caller publishes the whole batch again: the
        event ids de-duplicate what was stored)."""

    async def ping(self) -> None:
        """Raise if the bus is not usable right now."""

    async def close(self) -> None: ...


class NatsEventBus:
    """nats-py behind :class:`EventBus`. Creates the ``NIJA`` stream if it is missing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc = None
        self._js = None

    async def connect(self) -> "NatsEventBus":
        import nats

        self._nc = await nats.connect(
            self.url, name="nija", max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5
        )
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(STREAM)
        except Exception:  # noqa: BLE001 - nats raises NotFoundError; create it then
            await self._js.add_stream(name=STREAM, subjects=STREAM_SUBJECTS)
        log.info("connected to NATS at %s (JetStream stream %s)", _redact(self.url), STREAM)
        return self

    async def publish(self, subject: str, payload: bytes, *, event_id: str | None = None) -> None:
        if self._js is None:
            raise RuntimeError("NatsEventBus.publish before connect()")
        headers = {"Nats-Msg-Id": event_id} if event_id else None
        await self._js.publish(subject, payload, headers=headers)

    async def publish_batch(self, events: Sequence[tuple[str, bytes, str | None]], *, timeout: float = 5.0) -> None:
        """All of ``events`` sent back to back on the one connection (so JetStream stores them in
        this order), then their acks awaited together: one round trip for the batch instead of
        one per event."""
        if self._js is None:
            raise RuntimeError("NatsEventBus.publish_batch before connect()")
        acks = []
        try:
            for subject, payload, event_id in events:
                headers = {"Nats-Msg-Id": event_id} if event_id else None
                acks.append(await self._js.publish_async(subject, payload, headers=headers))
            await asyncio.wait_for(asyncio.gather(*acks), timeout)
        finally:
            for ack in acks:  # after a failure, nothing is left waiting for the others
                if not ack.done():
                    ack.cancel()
            if acks:  # their done-callbacks (nats-py's bookkeeping of pending acks) run first
                await asyncio.gather(*acks, return_exceptions=True)

    async def ping(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")
        await self._nc.flush(timeout=2)

    async def close(self) -> None:
        if self._nc is None or self._nc.is_closed:
            return
        try:
            # Drain flushes what is buffered; it cannot while the server is unreachable.
            await asyncio.wait_for(self._nc.drain(), 5)
        except Exception as exc:  # noqa: BLE001 - shutting down either way
            log.warning("NATS drain failed (%s); closing without it", type(exc).__name__)
            await self._nc.close()


def _redact(url: str) -> str:
    """Hide credentials in a URL before it is logged."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
