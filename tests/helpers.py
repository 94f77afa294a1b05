"""Small helpers shared by the tests (importable because pytest's pythonpath includes tests/)."""

from __future__ import annotations

import itertools
import uuid
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

    from nija.core.config import Config

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


@contextmanager
def asyncpg_trips():
    """The SQL of every request asyncpg sends to the server while inside, in order (each one
    round trip: a query, a statement prepared or run, an executemany)."""
    import asyncpg.connection
    import asyncpg.prepared_stmt

    sent: list[str] = []
    patched = []
    for cls, names, query_of in (
        (asyncpg.connection.Connection, ("execute", "executemany", "prepare", "fetch", "fetchrow"),
         lambda self, args: args[0]),
        (asyncpg.prepared_stmt.PreparedStatement, ("fetch",), lambda self, args: self.get_query()),
    ):
        for name in names:
            original = getattr(cls, name)

            async def watched(self, *args, _original=original, _query_of=query_of, **kwargs):
                sent.append(_query_of(self, args))
                return await _original(self, *args, **kwargs)

            patched.append((cls, name, original))
            setattr(cls, name, watched)
    try:
        yield sent
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, token: str | None = None, raw: bytes | None = None, headers=None):
    """One real HTTP request; returns (status, headers, parsed JSON body or text)."""
    import json
    import urllib.error
    import urllib.request

    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, payload = err.code, dict(err.headers), err.read()
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode(errors="replace")
    return status, {k.lower(): v for k, v in hdrs.items()}, parsed


def wait_until(fetch, timeout: float = 120.0, what: str = "condition", interval: float = 0.1):
    """Poll ``fetch()`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached")
        time.sleep(interval)


@dataclass
class GrpcPlatform:
    platform: object
    channel: grpc.aio.Channel
    port: int
    config: Config
    database_url: str


@asynccontextmanager
async def serve_platform(database_url: str, data_dir: Path):
    """Every service of a Platform on a free port, with a real channel to it."""
    import grpc

    from nija.core.config import Config
    from nija.services.server import Platform, create_server

    config = Config.from_env(data_dir, database_url=database_url, nats_url=None)
    platform = Platform.build(config)
    server, port = await create_server("127.0.0.1:0", platform)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield GrpcPlatform(platform, channel, port, config, database_url)
    finally:
        await channel.close()
        await server.stop(grace=1)
        await platform.close()
