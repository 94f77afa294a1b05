"""The stream service: WebSocket ⇄ NATS JetStream, plus the dashboard's static files.

``WS /ws/positions | /ws/trades | /ws/market-data | /ws/notifications`` (through Envoy, which
checks the JWT first; this service verifies it again with :class:`TokenIssuer`). A token comes
in ``Authorization: Bearer …`` or, for browsers, ``?access_token=…``.

Each connection gets its own JetStream *ordered* consumer filtered to the caller's subjects
(``nija.user.<caller>.…``, docs/events.md), so a user only ever sees their own events. Every
event frame carries ``id`` = the JetStream stream sequence; a client that reconnects with
``?last_event_id=N`` gets a consumer starting at ``N + 1``: no gap, no duplicate.

Backpressure: events go through a bounded per-connection queue. When a client reads too slowly
and its queue is full it is closed with :data:`CLOSE_SLOW_CONSUMER` (it reconnects with its last
event id); the NATS callback never waits, so one slow client slows neither the others nor the
publishers. Heartbeats are WebSocket pings (aiohttp closes a peer that stops answering them). The
connection is closed with :data:`CLOSE_TOKEN_EXPIRED` when the access token expires.

Frames (text, JSON): ``{"type": "ready", "channel", "user_id", "expires_at", "resume_from"}``
first, then ``{"type": "event", "id", "subject", "kind", "data"}`` per event, where ``data`` is
the protobuf payload as JSON (proto field names) or the payload itself if it was JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSCloseCode, web

from nija.core.errors import Unauthenticated
from nija.core.events import STREAM, STREAM_SUBJECTS
from nija.core.security import AccessClaims, TokenIssuer

log = logging.getLogger(__name__)

CLOSE_TOKEN_EXPIRED = 4001
CLOSE_SLOW_CONSUMER = 4008
#: channel → (subject under nija.user.<id>, kinds passed to the client); None = market data.
CHANNELS: dict[str, tuple[str, frozenset[str]] | None] = {
    "positions": ("positions", frozenset({"positions"})),
    "trades": (">", frozenset({"fills", "orders"})),
    "notifications": ("notifications", frozenset({"notifications"})),
    "market-data": None,
}
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class StreamSettings:
    """Tunables; tests shrink them."""

    max_buffer: int = 256  # events queued per connection before it counts as slow
    heartbeat_s: float = 20.0  # WebSocket ping interval
    static_dir: Path | None = None  # the built dashboard (dashboard/dist)
    connections: set = field(default_factory=set)


def _decoders() -> dict:
    from nija.trading.v1 import trading_pb2

    # kind → (the TradingEvent envelope's oneof field, the bare message type)
    return {
        "envelope": trading_pb2.TradingEvent,
        "orders": ("order", trading_pb2.Order),
        "fills": ("fill", trading_pb2.Trade),
        "positions": ("position", trading_pb2.Position),
    }


def decode_payload(kind: str, payload: bytes, decoders: dict) -> object:
    """The event payload as JSON-able data.

    Trading publishes a ``TradingEvent`` envelope whose oneof holds the Order, Trade or Position:
    the client gets that inner message as JSON (proto field names). JSON payloads pass as they
    are; a bare message of the kind is accepted too; anything else arrives base64-encoded.
    """
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    def as_dict(message) -> dict:
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    if payload[:1] in (b"{", b"["):
        try:
            return json.loads(payload)
        except ValueError:
            pass
    spec = decoders.get(kind)
    if spec is not None:
        field_name, bare = spec
        try:
            envelope = decoders["envelope"].FromString(payload)
            if envelope.WhichOneof("event") == field_name:
                return as_dict(getattr(envelope, field_name))
        except DecodeError:
            pass
        try:
            return as_dict(bare.FromString(payload))
        except DecodeError:
            pass
    return {"base64": base64.b64encode(payload).decode()}


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("access_token", "").strip()


def _json_error(status: int, code: int, message: str) -> web.Response:
    # The same shape as every other API error ({"code": <gRPC code>, "message": …}).
    return web.json_response({"code": code, "message": message, "details": []}, status=status)


class StreamService:
    """Owns the NATS connection and serves the WebSocket routes and the dashboard."""

    def __init__(self, tokens: TokenIssuer, nats_url: str, settings: StreamSettings | None = None) -> None:
        self.tokens = tokens
        self.nats_url = nats_url
        self.settings = settings or StreamSettings()
        self._nc = None
        self._js = None
        self._decoders = _decoders()

    async def connect(self) -> "StreamService":
        import nats

        async def on_error(exc: Exception) -> None:
            # One line per problem; nats-py's default prints a traceback per reconnect attempt.
            log.warning("stream service: NATS: %s", exc or type(exc).__name__)

        self._nc = await nats.connect(
            self.nats_url, name="nija-stream", max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=on_error,
        )
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(STREAM)
        except Exception:  # noqa: BLE001 - NotFoundError: the first process to connect creates it
            await self._js.add_stream(name=STREAM, subjects=STREAM_SUBJECTS)
        return self

    async def close(self) -> None:
        for ws in list(self.settings.connections):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
        if self._nc is not None and not self._nc.is_closed:
            try:
                # drain() refuses while NATS is unreachable (reconnecting); then just close.
                if self._nc.is_connected:
                    await asyncio.wait_for(self._nc.drain(), 5)
                else:
                    await self._nc.close()
            except Exception:  # noqa: BLE001 - shutting down: never let this block the rest
                log.warning("stream service: NATS connection did not close cleanly", exc_info=True)

    # ------------------------------------------------------------------ the app
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/{channel}", self.handle_ws)
        static = self.settings.static_dir
        if static is not None and (static / "index.html").exists():
            app.router.add_get("/", self._index)
            app.router.add_get("/index.html", self._index)
            if (static / "assets").is_dir():
                app.router.add_static("/assets/", static / "assets", append_version=False)
        app.on_shutdown.append(lambda _app: self.close())
        return app

    async def _index(self, request: web.Request) -> web.FileResponse:
        # index.html is never cached: it names the hashed asset files of the current build.
        return web.FileResponse(self.settings.static_dir / "index.html", headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ one connection
    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        channel = request.match_info["channel"]
        if channel not in CHANNELS:
            return _json_error(404, 5, f"no stream {channel!r}; streams are {', '.join('/ws/' + c for c in CHANNELS)}")
        token = _token(request)
        if not token:
            return _json_error(401, 16, "authentication required: send 'Authorization: Bearer <token>' or ?access_token=")
        try:
            claims = self.tokens.verify(token)
        except Unauthenticated as exc:
            return _json_error(401, 16, exc.message)
        if not _SAFE_ID.match(claims.user_id):
            return _json_error(401, 16, "token subject is not a valid user id")
        raw_last = request.query.get("last_event_id", "")
        if raw_last and not raw_last.isdigit():
            return _json_error(400, 3, "last_event_id must be the id (a non-negative integer) of the last event received")
        last = int(raw_last) if raw_last else None

        ws = web.WebSocketResponse(heartbeat=self.settings.heartbeat_s, max_msg_size=64 * 1024, timeout=3.0)
        if not ws.can_prepare(request).ok:
            return _json_error(400, 3, "this route needs a WebSocket upgrade")
        await ws.prepare(request)
        self.settings.connections.add(ws)
        try:
            await self._serve(ws, request.transport, channel, claims, last)
        finally:
            self.settings.connections.discard(ws)
        return ws

    async def _serve(
        self, ws: web.WebSocketResponse, transport, channel: str, claims: AccessClaims, last: int | None
    ) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        spec = CHANNELS[channel]
        if spec is None:
            subject, kinds = "nija.market.>", None
        else:
            subject, kinds = f"nija.user.{claims.user_id}.{spec[0]}", spec[1]
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.settings.max_buffer)
        slow = asyncio.Event()

        async def on_message(msg) -> None:
            if slow.is_set():
                return
            kind = msg.subject.rsplit(".", 1)[-1]
            if kinds is not None and kind not in kinds:
                return
            try:
                queue.put_nowait((msg.metadata.sequence.stream, msg.subject, kind, msg.data))
            except asyncio.QueueFull:
                slow.set()

        if last is None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1)
        sub = await self._js.subscribe(subject, stream=STREAM, cb=on_message, ordered_consumer=True, config=config)
        await ws.send_json({
            "type": "ready", "channel": channel, "user_id": claims.user_id, "expires_at": claims.expires_at * 1000,
            "resume_from": None if last is None else last + 1,
        })
        sender = asyncio.create_task(self._pump(ws, queue))
        reader = asyncio.create_task(self._drain_incoming(ws))
        slow_wait = asyncio.create_task(slow.wait())
        expiry = asyncio.create_task(asyncio.sleep(max(0.0, claims.expires_at - time.time())))
        tasks = {sender, reader, slow_wait, expiry}
        code, reason = WSCloseCode.OK, b""
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if slow_wait in done:
                log.info("stream %s for user %s: client too slow, disconnected", channel, claims.user_id)
                code, reason = CLOSE_SLOW_CONSUMER, b"slow consumer: buffer full; reconnect with last_event_id"
            elif expiry in done:
                code, reason = CLOSE_TOKEN_EXPIRED, b"access token expired; reconnect with a fresh token"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the NATS connection may already be closed
                pass
            await self._close(ws, transport, code, reason)

    @staticmethod
    async def _close(ws: web.WebSocketResponse, transport, code: int, reason: bytes) -> None:
        if ws.closed:
            return
        try:
            # A client that stopped reading may never let the close frame out: bounded wait.
            await asyncio.wait_for(ws.close(code=code, message=reason), 3)
        except (asyncio.TimeoutError, ConnectionError):
            if transport is not None:
                # close() still flushes what is buffered (the close frame included) if the client
                # reads again; abort() later bounds how long a dead client holds the memory.
                transport.close()
                asyncio.get_running_loop().call_later(30, transport.abort)

    async def _pump(self, ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        while True:
            seq, subject, kind, payload = await queue.get()
            data = decode_payload(kind, payload, self._decoders)
            # send_* waits for the transport to drain: a slow reader stalls only this task.
            await ws.send_json({"type": "event", "id": seq, "subject": subject, "kind": kind, "data": data})

    @staticmethod
    async def _drain_incoming(ws: web.WebSocketResponse) -> None:
        # Clients have nothing to say; reading keeps pings/pongs and the close handshake going.
        async for _ in ws:
            pass


async def start_stream_server(
    tokens: TokenIssuer, nats_url: str, host: str, port: int, settings: StreamSettings | None = None
) -> tuple[web.AppRunner, StreamService, int]:
    """Start the stream service on ``host:port`` (0 = a free port) in the running loop.

    Returns the runner (``await runner.cleanup()`` stops it), the service and the bound port.
    """
    service = await StreamService(tokens, nats_url, settings).connect()
    runner = web.AppRunner(service.app(), access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes no public accessor
    log.info("stream service listening on %s:%d", host, bound)
    return runner, service, bound


def default_static_dir() -> Path | None:
    """``dashboard/dist`` of the checkout (the committed build), if present."""
    here = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
    return here if (here / "index.html").exists() else None
