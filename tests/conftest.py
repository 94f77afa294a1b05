"""Shared fixtures: real databases (SQLite always, PostgreSQL when NIJA_TEST_DATABASE_URL is
set), a real gRPC server on a free port and a real channel to it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from nija.core.config import Config
from nija.core.db import migrate

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


@dataclass
class GrpcPlatform:
    platform: object
    channel: grpc.aio.Channel
    port: int
    config: Config
    database_url: str


@pytest.fixture(scope="session")
async def grpc_platform(database_url, tmp_path_factory):
    from nija.services.server import Platform, create_server

    data_dir: Path = tmp_path_factory.mktemp("data")
    config = Config.from_env(data_dir, database_url=database_url, nats_url=None)
    platform = Platform.build(config)
    server, port = await create_server("127.0.0.1:0", platform)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield GrpcPlatform(platform, channel, port, config, database_url)
    await channel.close()
    await server.stop(grace=1)
    await platform.close()
