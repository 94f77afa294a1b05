"""Who is calling: set by the interceptor for the duration of one RPC."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from nija.core.errors import Unauthenticated
from nija.core.security import AccessClaims


@dataclass(frozen=True)
class CallContext:
    method: str
    request_id: str
    client_ip: str | None
    claims: AccessClaims | None
    metadata: tuple[tuple[str, str | bytes], ...] = ()

    @property
    def user_id(self) -> str:
        """The caller's user id, from the verified token (never from the request message)."""
        if self.claims is None:
            raise Unauthenticated("authentication required")
        return self.claims.user_id

    def header(self, name: str) -> str | None:
        for key, value in self.metadata:
            if key == name:
                return value.decode() if isinstance(value, bytes) else value
        return None


_current: contextvars.ContextVar[CallContext] = contextvars.ContextVar("nija_call")


def current() -> CallContext:
    return _current.get()


def set_current(ctx: CallContext) -> contextvars.Token:
    return _current.set(ctx)


def reset_current(token: contextvars.Token) -> None:
    _current.reset(token)
