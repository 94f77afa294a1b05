"""Exchange API keys, encrypted at rest with MultiFernet.

Master keys come from ``NIJA_MASTER_KEYS`` (comma-separated Fernet keys, newest first) or, when
unset, from ``<data>/keys/master.keys`` — generated on first use with mode 0600 and a loud
warning, because a key file next to the database protects only against a stolen database dump.

Secrets are decrypted only in :meth:`CredentialVault.open`, right before a broker is built;
they are never logged, never returned (listings show the last four characters of the API key)
and never part of an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import delete, func, select, update

from nija.core import audit
from nija.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from nija.core.trading._tables import broker_connections

log = logging.getLogger(__name__)

ENV = "NIJA_MASTER_KEYS"
KEY_FILE = "master.keys"


class MasterKeys:
    """The Fernet keys, newest first. ``reload()`` re-reads them (after ``nija keys rotate``)."""

    def __init__(self, keys: list[bytes], path: Path | None = None) -> None:
        if not keys:
            raise FailedPrecondition("no master key configured")
        self.keys = keys
        self.path = path
        self.fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def load(cls, keys_dir: Path, *, production: bool = False) -> "MasterKeys":
        env = os.environ.get(ENV, "").strip()
        if env:
            return cls([k.strip().encode() for k in env.split(",") if k.strip()])
        path = Path(keys_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
            (log.error if production else log.warning)(
                "!!! generated a master key for exchange credentials at %s (mode 0600). Anyone with this file "
                "and the database can read the stored API keys. In production set %s from a secret store.", path, ENV)
        return cls(_read(path), path)

    def reload(self) -> bool:
        if self.path is None:
            return False
        keys = _read(self.path)
        if keys == self.keys:
            return False
        self.__init__(keys, self.path)
        return True

    def decrypt(self, token: str) -> bytes:
        try:
            return self.fernet.decrypt(token.encode())
        except InvalidToken:
            # Another process may have rotated the keys: re-read once before giving up.
            if self.reload():
                return self.fernet.decrypt(token.encode())
            raise


def _read(path: Path) -> list[bytes]:
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]


def rotate_key_file(path: Path) -> list[bytes]:
    """Prepend a new key to the key file (old keys stay, so running processes and rows not yet
    re-encrypted keep working). Returns the new key list."""
    keys = [Fernet.generate_key(), *_read(path)]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"\n".join(keys) + b"\n")
    os.replace(tmp, path)
    return keys


@dataclass(frozen=True)
class ConnectionView:
    id: str
    broker: str
    exchange: str
    api_key_masked: str
    created_at: int


@dataclass(frozen=True)
class OpenedConnection:
    id: str
    broker: str
    exchange: str
    fingerprint: str
    credentials: Mapping[str, str] = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)


Validator = Callable[[str, str, Mapping[str, str]], Awaitable[Mapping[str, Any]]]


class CredentialVault:
    """Broker connections of users.

    Parameters
    ----------
    validate : callable
        ``(broker, exchange, credentials) -> report``: builds the broker and makes a read-only
        call; the report's ``can_withdraw`` True rejects the keys.
    """

    def __init__(self, db, clock, keys: MasterKeys, validate: Validator) -> None:
        self.db = db
        self.clock = clock
        self.keys = keys
        self.validate = validate

    async def add(self, user_id: str, *, broker: str, exchange: str, api_key: str, secret: str,
                  passphrase: str = "", client_ip: str | None = None,
                  max_connections: int | None = None) -> ConnectionView:
        """Validate and store exchange keys, encrypted. ``max_connections`` is the caller's plan
        limit (entitlements' ``max_exchanges``; ``None`` = unlimited)."""
        broker = (broker or "ccxt").strip().lower()
        exchange = exchange.strip().lower()
        if not exchange:
            raise InvalidArgument("exchange is required (e.g. binance, kraken)", field="exchange")
        if len(api_key.strip()) < 8:
            raise InvalidArgument("api_key looks too short", field="api_key")
        if not secret.strip():
            raise InvalidArgument("api_secret is required", field="api_secret")
        creds = {"api_key": api_key.strip(), "secret": secret.strip()}
        if passphrase:
            creds["password"] = passphrase
        report = await self.validate(broker, exchange, creds)
        if report.get("can_withdraw"):
            raise InvalidArgument("these API keys can withdraw funds; create a key with trading permission only",
                                  field="api_key", reason="WITHDRAW_PERMISSION")
        now = self.clock.now_ms()
        row = dict(id=str(uuid.uuid4()), user_id=user_id, broker=broker, exchange=exchange,
                   api_key_last4=creds["api_key"][-4:], key_fingerprint=_fingerprint(exchange, creds["api_key"]),
                   secret=self.keys.fernet.encrypt(json.dumps(creds).encode()).decode(), created_at=now)
        async with self.db.transaction() as conn:
            if max_connections is not None:
                held = (await conn.execute(select(func.count()).select_from(broker_connections)
                                           .where(broker_connections.c.user_id == user_id))).scalar_one()
                if held >= max_connections:
                    raise PermissionDenied(f"your plan allows {max_connections} exchange connection(s); "
                                           "delete one or upgrade to add more")
            await conn.execute(broker_connections.insert().values(**row))
            await audit.record(conn, action="broker_connection.add", outcome="ok", at=now, user_id=user_id,
                               client_ip=client_ip, detail={"connection_id": row["id"], "exchange": exchange})
        return _view(row)

    async def list(self, user_id: str) -> list[ConnectionView]:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(broker_connections).where(broker_connections.c.user_id == user_id)
                                       .order_by(broker_connections.c.created_at))).all()
        return [_view(dict(r._mapping)) for r in rows]

    async def delete(self, user_id: str, connection_id: str, client_ip: str | None = None) -> None:
        async with self.db.transaction() as conn:
            result = await conn.execute(delete(broker_connections).where(
                broker_connections.c.id == connection_id, broker_connections.c.user_id == user_id))
            if result.rowcount == 0:
                raise NotFound("no such broker connection")
            await audit.record(conn, action="broker_connection.delete", outcome="ok", at=self.clock.now_ms(),
                               user_id=user_id, client_ip=client_ip, detail={"connection_id": connection_id})

    async def open(self, user_id: str, connection_id: str) -> OpenedConnection:
        async with self.db.transaction() as conn:
            r = (await conn.execute(select(broker_connections).where(
                broker_connections.c.id == connection_id, broker_connections.c.user_id == user_id))).first()
        if r is None:
            raise NotFound("no such broker connection")
        try:
            creds = json.loads(self.keys.decrypt(r.secret))
        except InvalidToken:
            raise FailedPrecondition("the stored keys cannot be decrypted with the configured master keys") from None
        return OpenedConnection(r.id, r.broker, r.exchange, r.key_fingerprint, creds)

    async def rotate(self) -> tuple[int, int]:
        """Re-encrypt every row under the newest master key (``MultiFernet.rotate``).

        Returns (rows re-encrypted, rows no configured key decrypts — left unchanged).
        """
        n = failed = 0
        async with self.db.transaction() as conn:
            rows = (await conn.execute(select(broker_connections.c.id, broker_connections.c.secret))).all()
            for r in rows:
                try:
                    token = self.keys.fernet.rotate(r.secret.encode()).decode()
                except InvalidToken:
                    failed += 1
                    continue
                await conn.execute(update(broker_connections).where(broker_connections.c.id == r.id).values(secret=token))
                n += 1
            await audit.record(conn, action="master_key.rotate", outcome="ok" if not failed else "partial",
                               at=self.clock.now_ms(), detail={"rows": n, "undecryptable": failed})
        return n, failed


def _fingerprint(exchange: str, api_key: str) -> str:
    return hashlib.sha256(f"{exchange}\x00{api_key}".encode()).hexdigest()


def _view(row: dict) -> ConnectionView:
    return ConnectionView(row["id"], row["broker"], row["exchange"], f"…{row['api_key_last4']}", row["created_at"])
