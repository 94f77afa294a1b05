"""Shared fixtures: real databases (SQLite always, PostgreSQL when NIJA_TEST_DATABASE_URL is
set), a real gRPC server on a free port and a real channel to it."""

from __future__ import annotations

import os

import pytest

from helpers import serve_platform
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
