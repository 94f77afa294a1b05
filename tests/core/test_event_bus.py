"""NatsEventBus against a real nats-server with JetStream: a batch is stored in its order with
its event ids, a re-sent batch stores nothing twice, and a failed one raises and leaves no ack
waiting."""

from __future__ import annotations

import uuid

import pytest
from nats.js.errors import NoStreamResponseError

from nija.core.events import STREAM, NatsEventBus


@pytest.fixture
async def bus(nats_url):
    connected = await NatsEventBus(nats_url).connect()
    yield connected
    await connected.close()


async def _stored(bus: NatsEventBus, prefix: str) -> list[tuple[str, bytes, str]]:
    sub = await bus._js.subscribe(f"{prefix}.>", ordered_consumer=True)
    out = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:  # noqa: BLE001 - nats raises TimeoutError at the end of the stream
                return out
            out.append((msg.subject, msg.data, (msg.headers or {}).get("Nats-Msg-Id")))
    finally:
        await sub.unsubscribe()


async def test_a_batch_is_stored_in_order_once(bus):
    prefix = f"nija.user.{uuid.uuid4()}"
    kinds = ("orders", "fills", "positions")
    events = [(f"{prefix}.{kinds[i % 3]}", f"payload {i}".encode(), uuid.uuid4().hex) for i in range(20)]
    await bus.publish_batch(events)
    assert await _stored(bus, prefix) == events  # commit order across subjects, ids as headers
    before = (await bus._js.stream_info(STREAM)).state.messages
    await bus.publish_batch(events)  # sent again after an unknown outcome: de-duplicated by id
    assert (await bus._js.stream_info(STREAM)).state.messages == before
    assert await _stored(bus, prefix) == events


async def test_a_batch_no_stream_takes_raises_and_leaves_nothing_waiting(bus):
    prefix = f"nija.user.{uuid.uuid4()}"
    events = [(f"{prefix}.orders", b"kept", uuid.uuid4().hex), (f"nowhere.{uuid.uuid4().hex}", b"lost", None)]
    with pytest.raises(NoStreamResponseError):
        await bus.publish_batch(events)
    assert bus._js.publish_async_pending() == 0
