"""The one place ccxt's exceptions become NIJA's broker errors.

=========================================  ===========================================
ccxt                                        NIJA
=========================================  ===========================================
RateLimitExceeded, DDoSProtection (429)     BrokerRetryable (not applied; wait, then retry)
RequestTimeout, NetworkError, 5xx           BrokerRetryable for idempotent calls,
                                            BrokerOutcomeUnknown for a submit
AuthenticationError, PermissionDenied,      BrokerNeedsOperator
AccountSuspended, InsufficientFunds
OrderNotFound                               BrokerOrderNotFound
InvalidOrder, BadRequest, BadSymbol, …      BrokerBadRequest
anything else                               BrokerOutcomeUnknown for a submit, else
                                            BrokerRetryable
=========================================  ===========================================

Messages never carry credentials: ccxt puts request URLs and bodies (with signatures, never
secrets) in its messages; we keep only the exception class and the venue's short reason.
"""

from __future__ import annotations

import re

import ccxt

from nija.core.plugins import (
    BrokerBadRequest,
    BrokerError,
    BrokerNeedsOperator,
    BrokerOrderNotFound,
    BrokerOutcomeUnknown,
    BrokerRetryable,
)

_SIGNATURE = re.compile(r"(signature|apiKey|X-MBX-APIKEY)=?[^&\s\"]*", re.IGNORECASE)


def _reason(exc: Exception) -> str:
    text = str(exc)
    found = re.search(r'"msg"\s*:\s*"([^"]+)"', text)
    message = found.group(1) if found else text
    return _SIGNATURE.sub(r"\1=…", message)[:300]


def map_error(exc: Exception, *, submit: bool = False, retry_after_s: float | None = None) -> BrokerError:
    """Translate ``exc`` (raised by ccxt) into the broker error core understands."""
    name = type(exc).__name__
    reason = f"{name}: {_reason(exc)}"
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return BrokerRetryable(reason, retry_after_s=retry_after_s)
    if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended,
                        ccxt.InsufficientFunds)):
        return BrokerNeedsOperator(reason)
    if isinstance(exc, ccxt.OrderNotFound):
        return BrokerOrderNotFound(reason)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.BadSymbol, ccxt.ArgumentsRequired,
                        ccxt.NotSupported)):
        return BrokerBadRequest(reason)
    if isinstance(exc, ccxt.NetworkError):
        return BrokerOutcomeUnknown(reason) if submit else BrokerRetryable(reason)
    return BrokerOutcomeUnknown(reason) if submit else BrokerRetryable(reason)
