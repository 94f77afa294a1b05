"""Domain errors and what each one means operationally.

Leaf module: imports nothing from the project. ``nija.services`` maps each class to one gRPC
status code in a single place (``nija.services.errors``); nothing else catches these to
translate them.
"""

from __future__ import annotations


class NijaError(Exception):
    """Base of every error the platform raises on purpose.

    ``message`` is safe to show to the caller; it must never contain a secret.
    ``reason`` is a stable UPPER_SNAKE machine-readable code.
    """

    reason = "NIJA_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(NijaError):
    """The request is malformed: a client bug or bad user input. Retrying it will not help.

    ``field`` names the offending field (as spelled on the wire) when there is one.
    """

    reason = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.field = field


class IndicatorError(InvalidArgument):
    """An indicator was called with input it cannot compute on (length, period, dtype)."""

    reason = "INDICATOR_INPUT"


class Unauthenticated(NijaError):
    """No valid credentials: missing, expired or revoked token, or wrong email/password."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(NijaError):
    """The caller is known but may not do this (role, plan or ownership)."""

    reason = "PERMISSION_DENIED"


class NotFound(NijaError):
    """The resource does not exist *for this caller* (other users' resources look absent)."""

    reason = "NOT_FOUND"


class AlreadyExists(NijaError):
    """A unique resource (an email, an idempotency key) is already taken."""

    reason = "ALREADY_EXISTS"


class RateLimited(NijaError):
    """Too many attempts in a window; the caller should wait ``retry_after`` seconds."""

    reason = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int = 60, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class FailedPrecondition(NijaError):
    """The system is not in a state that allows this (kill switch on, bot not running)."""

    reason = "FAILED_PRECONDITION"


class StrategyError(FailedPrecondition):
    """A strategy plugin raised (or broke its contract, e.g. looked ahead). The strategy is
    disabled for the bot that ran it and an error event says why; the process stays up.
    ``strategy`` names the plugin."""

    reason = "STRATEGY_ERROR"

    def __init__(self, message: str, *, strategy: str = "", reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.strategy = strategy


class Unavailable(NijaError):
    """A dependency (database, NATS, exchange) is down. Usually resolves itself; retry later."""

    reason = "UNAVAILABLE"


class NotImplementedYet(NijaError):
    """The contract declares this operation but no release implements it yet."""

    reason = "NOT_IMPLEMENTED"
