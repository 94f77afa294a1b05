"""Exchange credentials: encrypted at rest, masked, rotation (CLI), withdraw keys refused, and
the secrets never appear in the database text, the logs or an RPC answer."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2 as apb
from nija.accounts.v1 import accounts_pb2_grpc
from nija.core.clock import SystemClock
from nija.core.db import Database
from nija.core.errors import InvalidArgument
from nija.core.trading._credentials import CredentialVault, MasterKeys
from nija.core.trading._tables import broker_connections
from nija.trading.v1 import trading_pb2 as pb
from nija.trading.v1 import trading_pb2_grpc

API_KEY = "AKIA-" + uuid.uuid4().hex
SECRET = "sekrit-" + uuid.uuid4().hex


async def _read_only_ok(broker, exchange, creds):
    return {"can_withdraw": False}


async def _can_withdraw(broker, exchange, creds):
    return {"can_withdraw": True}


async def test_keys_are_encrypted_masked_and_scoped(db, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    vault = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path), _read_only_ok)
    assert stat.S_IMODE((tmp_path / "master.keys").stat().st_mode) == 0o600
    assert "generated a master key" in caplog.text
    user, other = str(uuid.uuid4()), str(uuid.uuid4())
    view = await vault.add(user, broker="ccxt", exchange="binance", api_key=API_KEY, secret=SECRET)
    assert view.api_key_masked == "…" + API_KEY[-4:]
    assert [v.id for v in await vault.list(user)] == [view.id] and await vault.list(other) == []
    async with db.transaction() as conn:
        row = (await conn.execute(select(broker_connections).where(broker_connections.c.id == view.id))).one()
    assert API_KEY not in str(tuple(row)) and SECRET not in str(tuple(row))
    opened = await vault.open(user, view.id)
    assert opened.credentials["secret"] == SECRET and SECRET not in repr(opened)
    with pytest.raises(Exception):
        await vault.open(other, view.id)
    assert API_KEY not in caplog.text and SECRET not in caplog.text
    await vault.delete(user, view.id)
    assert await vault.list(user) == []


async def test_plan_limit_on_exchange_connections(db, tmp_path):
    from nija.core.errors import PermissionDenied

    vault = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path), _read_only_ok)
    user = str(uuid.uuid4())
    first = await vault.add(user, broker="ccxt", exchange="binance", api_key=API_KEY, secret=SECRET, max_connections=1)
    with pytest.raises(PermissionDenied) as info:
        await vault.add(user, broker="ccxt", exchange="kraken", api_key=API_KEY, secret=SECRET, max_connections=1)
    assert "1 exchange connection" in info.value.message
    assert [v.id for v in await vault.list(user)] == [first.id]
    # another user's connections do not count against this one
    await vault.add(str(uuid.uuid4()), broker="ccxt", exchange="kraken", api_key=API_KEY, secret=SECRET, max_connections=1)
    await vault.delete(user, first.id)
    await vault.add(user, broker="ccxt", exchange="kraken", api_key=API_KEY, secret=SECRET, max_connections=1)


async def test_withdraw_capable_keys_are_refused(db, tmp_path):
    vault = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path), _can_withdraw)
    with pytest.raises(InvalidArgument) as info:
        await vault.add(str(uuid.uuid4()), broker="ccxt", exchange="kraken", api_key=API_KEY, secret=SECRET)
    assert "withdraw" in info.value.message and SECRET not in info.value.message


async def test_nija_keys_rotate_reencrypts_under_a_new_key(tmp_path):
    # A database of its own: rotation touches every row, and the shared test database holds rows
    # other tests encrypted under their own master keys.
    from nija.core.db import migrate

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'rotate.db'}"
    await migrate(database_url)
    db = Database(database_url)
    keys_dir = tmp_path / "keys"
    old = MasterKeys.load(keys_dir)
    vault = CredentialVault(db, SystemClock(), old, _read_only_ok)
    user = str(uuid.uuid4())
    view = await vault.add(user, broker="ccxt", exchange="okx", api_key=API_KEY, secret=SECRET)
    env = {**os.environ, "NIJA_DATABASE_URL": database_url}
    env.pop("NIJA_MASTER_KEYS", None)
    out = subprocess.run([str(Path(sys.executable).with_name("nija")), "keys", "rotate", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "re-encrypted" in out.stdout and SECRET not in out.stdout + out.stderr
    new = MasterKeys.load(keys_dir)
    assert len(new.keys) == 2 and new.keys[1] == old.keys[0]
    assert "re-encrypted 1 broker connection(s)" in out.stdout
    from cryptography.fernet import Fernet

    async with db.transaction() as conn:
        token = (await conn.execute(select(broker_connections.c.secret)
                                    .where(broker_connections.c.id == view.id))).scalar_one()
    assert SECRET in Fernet(new.keys[0]).decrypt(token.encode()).decode()  # under the NEW key only
    # A process still holding the old keys re-reads the key file on a miss and keeps working.
    assert (await vault.open(user, view.id)).credentials["secret"] == SECRET
    # A row no configured key can decrypt is reported (exit 3) and left as it is.
    foreign = CredentialVault(db, SystemClock(), MasterKeys.load(tmp_path / "elsewhere"), _read_only_ok)
    await foreign.add(user, broker="ccxt", exchange="okx", api_key=API_KEY, secret=SECRET)
    out = subprocess.run([str(Path(sys.executable).with_name("nija")), "keys", "rotate", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 3 and "cannot be decrypted" in out.stderr and SECRET not in out.stderr
    await db.close()


async def test_broker_connection_rpcs_never_echo_secrets(grpc_platform, caplog):
    caplog.set_level(logging.DEBUG)
    stub = accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)
    email, ip = unique_email(), unique_ip()
    await stub.Register(apb.RegisterRequest(email=email, password="correct horse battery"), metadata=(("x-forwarded-for", ip),))
    tokens = await stub.Login(apb.LoginRequest(email=email, password="correct horse battery"), metadata=(("x-forwarded-for", ip),))
    trading = trading_pb2_grpc.TradingServiceStub(grpc_platform.channel)
    md = bearer(tokens.access_token, ip)
    # No live broker plugin takes keys in this installation: a clear 400, not a crash or an echo.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await trading.AddBrokerConnection(pb.AddBrokerConnectionRequest(
            broker="paper", exchange="binance", api_key=API_KEY, api_secret=SECRET), metadata=md)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listing = await trading.ListBrokerConnections(pb.ListBrokerConnectionsRequest(), metadata=md)
    for text in (info.value.details(), str(listing), caplog.text):
        assert API_KEY not in text and SECRET not in text
