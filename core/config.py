"""Configuration from the environment, with embedded defaults that need no setup."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'nija.db').resolve()}"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    nats_url: str | None = None
    #: Folder of the JWT signing keys (PEM, one per kid); shared by every service process.
    keys_dir: Path = field(default=Path("."))
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    reset_token_ttl_s: int = 30 * 60
    jwt_issuer: str = "nija"
    jwt_audience: str = "nija-api"
    #: Failed logins allowed per account / per client address within the window.
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 20
    login_failure_window_s: int = 15 * 60

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str] | None = None, **overrides: object) -> "Config":
        root = Path(data_dir or os.environ.get("NIJA_DATA_DIR", "var")).resolve()
        values: dict[str, object] = {
            "data_dir": root,
            "database_url": os.environ.get("NIJA_DATABASE_URL") or default_database_url(root),
            "nats_url": os.environ.get("NIJA_NATS_URL") or None,
            "keys_dir": Path(os.environ.get("NIJA_KEYS_DIR") or root / "keys"),
        }
        for env, name in (
            ("NIJA_ACCESS_TOKEN_TTL", "access_token_ttl_s"),
            ("NIJA_LOGIN_FAILURES_PER_ACCOUNT", "login_failures_per_account"),
            ("NIJA_LOGIN_FAILURES_PER_IP", "login_failures_per_ip"),
        ):
            if os.environ.get(env):
                values[name] = int(os.environ[env])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
