"""The stream service over real WebSockets and a real JetStream: per-user isolation, resume
without gaps or duplicates, backpressure, token checks and expiry."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
import pytest

from nija.common.v1 import common_pb2
from nija.core.events import STREAM
from nija.services.stream import CLOSE_SLOW_CONSUMER, CLOSE_TOKEN_EXPIRED, StreamSettings, start_stream_server
from nija.trading.v1 import trading_pb2


@pytest.fixture
async def stream(tokens, nats_url):
    runner, service, port = await start_stream_server(tokens, nats_url, "127.0.0.1", 0, StreamSettings(max_buffer=8))
    yield service, f"ws://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def token_for(tokens, user_id: str, ttl_s: int | None = None) -> str:
    now_ms = int(time.time() * 1000)
    if ttl_s is not None:
        # A token issued so that it expires ttl_s from now.
        now_ms -= (tokens.ttl_s - ttl_s) * 1000
    return tokens.issue(user_id, ["user"], "session", now_ms)


def fill(user_id: str, n: int, pad: int = 0) -> bytes:
    """A fill as trading publishes it: a TradingEvent envelope around the Trade."""
    trade = trading_pb2.Trade(
        id=f"{user_id}-{n}", order_id="o", symbol="BTC/USDT", side=common_pb2.ORDER_SIDE_BUY, price="100.5",
        quantity="0.01", fee="0", fee_asset="USDT", executed_at=n, bot_id="x" * pad,
    )
    return trading_pb2.TradingEvent(event_id=uuid.uuid4().hex, time=n, user_id=user_id, fill=trade).SerializeToString()


async def connect(session, base, channel, token, last=None):
    url = f"{base}/ws/{channel}?access_token={token}" + (f"&last_event_id={last}" if last is not None else "")
    ws = await session.ws_connect(url)
    ready = await ws.receive_json(timeout=10)
    assert ready["type"] == "ready" and ready["channel"] == channel
    return ws


async def events(ws, count, timeout=15):
    got = []
    while len(got) < count:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["type"] == "event":
            got.append(frame)
    return got


async def test_each_user_receives_only_their_own_fills(stream, session, tokens, js):
    _, base = stream
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    ws_a = await connect(session, base, "trades", token_for(tokens, alice))
    ws_b = await connect(session, base, "trades", token_for(tokens, bob))
    for n in range(3):
        await js.publish(f"nija.user.{alice}.fills", fill(alice, n))
        await js.publish(f"nija.user.{bob}.fills", fill(bob, n))
    # a position update is not a trade: it goes to /ws/positions only
    await js.publish(f"nija.user.{alice}.positions", json.dumps({"symbol": "BTC/USDT"}).encode())
    got_a, got_b = await events(ws_a, 3), await events(ws_b, 3)
    assert [e["data"]["id"] for e in got_a] == [f"{alice}-{n}" for n in range(3)]
    assert [e["data"]["id"] for e in got_b] == [f"{bob}-{n}" for n in range(3)]
    assert all(e["subject"] == f"nija.user.{alice}.fills" and e["kind"] == "fills" for e in got_a)
    assert got_a[0]["data"]["price"] == "100.5" and got_a[0]["data"]["side"] == "ORDER_SIDE_BUY"
    # nothing else is pending for either: the next frame each gets is the next own event
    await js.publish(f"nija.user.{bob}.fills", fill(bob, 99))
    await js.publish(f"nija.user.{alice}.fills", fill(alice, 99))
    assert (await events(ws_a, 1))[0]["data"]["id"] == f"{alice}-99"
    assert (await events(ws_b, 1))[0]["data"]["id"] == f"{bob}-99"
    await ws_a.close()
    await ws_b.close()


async def test_positions_and_notifications_channels(stream, session, tokens, js):
    _, base = stream
    user = str(uuid.uuid4())
    ws_p = await connect(session, base, "positions", token_for(tokens, user))
    ws_n = await connect(session, base, "notifications", token_for(tokens, user))
    await js.publish(f"nija.user.{user}.fills", fill(user, 1))
    # a bare message (no envelope) is understood too
    await js.publish(f"nija.user.{user}.positions", trading_pb2.Position(symbol="ETH/USDT", quantity="2").SerializeToString())
    await js.publish(f"nija.user.{user}.notifications", json.dumps({"text": "bot started"}).encode())
    (pos,) = await events(ws_p, 1)
    (note,) = await events(ws_n, 1)
    assert pos["kind"] == "positions" and pos["data"]["symbol"] == "ETH/USDT" and pos["data"]["quantity"] == "2"
    assert note["data"] == {"text": "bot started"}
    await ws_p.close()
    await ws_n.close()


async def test_reconnect_with_last_event_id_has_no_gap_and_no_duplicate(stream, session, tokens, js):
    _, base = stream
    user = str(uuid.uuid4())
    token = token_for(tokens, user)
    ws = await connect(session, base, "trades", token)
    for n in range(3):
        await js.publish(f"nija.user.{user}.fills", fill(user, n))
    first = await events(ws, 3)
    await ws.close()
    # published while the client is away, interleaved with another user's events
    other = str(uuid.uuid4())
    for n in range(3, 7):
        await js.publish(f"nija.user.{user}.fills", fill(user, n))
        await js.publish(f"nija.user.{other}.fills", fill(other, n))
    ws = await connect(session, base, "trades", token, last=first[-1]["id"])
    await js.publish(f"nija.user.{user}.fills", fill(user, 7))
    rest = await events(ws, 5)
    ids = [e["data"]["id"] for e in first + rest]
    assert ids == [f"{user}-{n}" for n in range(8)]
    seqs = [e["id"] for e in first + rest]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await ws.close()


async def test_a_slow_consumer_is_dropped_while_a_fast_one_keeps_receiving(stream, session, tokens, js):
    service, base = stream
    user = str(uuid.uuid4())
    token = token_for(tokens, user)
    slow = await connect(session, base, "trades", token)  # never reads until the end
    fast = await connect(session, base, "trades", token)
    received: list[dict] = []

    async def read_fast():
        while True:
            received.extend(await events(fast, 1, timeout=30))

    reader = asyncio.create_task(read_fast())
    published = 0
    # ~128 KB events until the server gives up on the slow client (kernel buffers absorb a few
    # MB first); bounded at 400 events.
    while len(service.settings.connections) == 2 and published < 400:
        for _ in range(10):
            await js.publish(f"nija.user.{user}.fills", fill(user, published, pad=128 * 1024))
            published += 1
        await asyncio.sleep(0.05)
    assert len(service.settings.connections) == 1, "the slow client was never disconnected"
    for _ in range(600):
        if len(received) >= published:
            break
        await asyncio.sleep(0.05)
    reader.cancel()
    assert [e["data"]["id"] for e in received] == [f"{user}-{n}" for n in range(published)]

    # The slow client gets what was already on its way, then the close code; it can resume.
    got, closed = [], None
    while closed is None:
        msg = await slow.receive(timeout=30)
        if msg.type == aiohttp.WSMsgType.TEXT:
            got.append(json.loads(msg.data))
        else:
            closed = msg
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == CLOSE_SLOW_CONSUMER
    slow_ids = [e["data"]["id"] for e in got if e["type"] == "event"]
    assert 0 < len(slow_ids) < published and slow_ids == [f"{user}-{n}" for n in range(len(slow_ids))]
    last = got[-1]["id"]
    resumed = await connect(session, base, "trades", token, last=last)
    tail = await events(resumed, published - len(slow_ids), timeout=30)
    assert [e["data"]["id"] for e in tail] == [f"{user}-{n}" for n in range(len(slow_ids), published)]
    await resumed.close()
    await fast.close()


async def test_token_checks(stream, session, tokens):
    _, base = stream
    http_base = base.replace("ws://", "http://")
    async with session.get(f"{http_base}/ws/trades") as resp:
        body = await resp.json()
        assert resp.status == 401 and body["code"] == 16 and "authentication required" in body["message"]
    async with session.get(f"{http_base}/ws/trades?access_token=not.a.jwt") as resp:
        assert resp.status == 401
    async with session.get(f"{http_base}/ws/nope?access_token={token_for(tokens, 'u1')}") as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 5
    async with session.get(f"{http_base}/ws/trades?access_token={token_for(tokens, 'u1')}&last_event_id=-3") as resp:
        assert resp.status == 400
    # the header works as well as the query parameter
    ws = await session.ws_connect(f"{base}/ws/trades", headers={"Authorization": f"Bearer {token_for(tokens, 'u1')}"})
    assert (await ws.receive_json(timeout=10))["type"] == "ready"
    await ws.close()


async def test_connection_closes_when_the_token_expires(stream, session, tokens):
    _, base = stream
    ws = await connect(session, base, "notifications", token_for(tokens, str(uuid.uuid4()), ttl_s=2))
    msg = await ws.receive(timeout=15)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == CLOSE_TOKEN_EXPIRED


async def test_market_data_is_public_to_every_signed_in_user(stream, session, tokens, js):
    _, base = stream
    ws = await connect(session, base, "market-data", token_for(tokens, str(uuid.uuid4())))
    await js.publish("nija.market.binance.BTC_USDT.ticker", json.dumps({"last": "64250.5"}).encode())
    (tick,) = await events(ws, 1)
    assert tick["subject"] == "nija.market.binance.BTC_USDT.ticker" and tick["data"] == {"last": "64250.5"}
    await ws.close()


async def test_heartbeats_keep_live_clients_and_drop_silent_ones(tokens, nats_url, session):
    runner, service, port = await start_stream_server(
        tokens, nats_url, "127.0.0.1", 0, StreamSettings(heartbeat_s=0.3)
    )
    try:
        base = f"ws://127.0.0.1:{port}"
        alive = await connect(session, base, "notifications", token_for(tokens, str(uuid.uuid4())))

        async def read_forever():  # a real client keeps reading, and so answers every ping
            async for _ in alive:
                pass

        reader = asyncio.create_task(read_forever())
        # A client that never answers pings (autoping off, nothing read).
        silent = await session.ws_connect(
            f"{base}/ws/notifications?access_token={token_for(tokens, str(uuid.uuid4()))}", autoping=False
        )
        kinds = []
        while True:
            msg = await silent.receive(timeout=10)
            kinds.append(msg.type)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert aiohttp.WSMsgType.PING in kinds  # the server did ping
        # The reading client stays connected over many more heartbeats.
        await asyncio.sleep(2)
        assert not reader.done() and not alive.closed and len(service.settings.connections) == 1
        await alive.close()
        await reader
    finally:
        await runner.cleanup()
