"""One interceptor for every service: authenticate, authorise by role, map errors.

Every RPC except the public ones needs a valid access token in ``authorization: Bearer …``,
verified here again even though Envoy checked it (a client on the gRPC port bypasses Envoy).
Admin RPCs need the ``admin`` role. Domain errors become gRPC statuses through
:mod:`nija.services.errors`; anything else is logged with the request id and answered INTERNAL
with a generic message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager
from typing import Awaitable, Callable

import grpc

from nija.core.errors import NijaError, PermissionDenied, Unauthenticated
from nija.core.security import TokenIssuer
from nija.services import callstats
from nija.services import errors as error_mapping
from nija.services.context import CallContext, reset_current, set_current

log = logging.getLogger(__name__)

#: Methods anyone may call (they authenticate otherwise, or not at all).
PUBLIC_METHODS = frozenset(
    {
        "/nija.accounts.v1.AccountsService/Register",
        "/nija.accounts.v1.AccountsService/Login",
        "/nija.accounts.v1.AccountsService/Refresh",
        "/nija.accounts.v1.AccountsService/RequestPasswordReset",
        "/nija.accounts.v1.AccountsService/ConfirmPasswordReset",
        "/nija.platform.v1.PlatformService/Healthz",
        "/nija.billing.v1.BillingService/StripeWebhook",
        "/nija.trading.v1.TradingService/TradingViewWebhook",
    }
)
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
ADMIN_PREFIX = "/nija.admin.v1."


def _client_ip(metadata: dict[str, str], peer: str) -> str | None:
    forwarded = metadata.get("x-forwarded-for")
    if forwarded:
        # Envoy (use_remote_address) appends the address it saw last; earlier entries are client-supplied.
        return forwarded.split(",")[-1].strip()[:64]
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.split(":", 1)[1].rsplit(":", 1)[0].strip("[]")[:64]
    return None


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: TokenIssuer) -> None:
        self.tokens = tokens

    def _authenticate(self, method: str, metadata: dict[str, str]):
        public = method in PUBLIC_METHODS or method.startswith(PUBLIC_PREFIXES)
        header = metadata.get("authorization", "")
        if not header:
            if public:
                return None
            raise Unauthenticated("authentication required: send 'authorization: Bearer <access token>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if public:
                return None
            raise Unauthenticated("authorization header must be 'Bearer <access token>'")
        try:
            claims = self.tokens.verify(token.strip())
        except Unauthenticated:
            if public:
                return None  # a stale token does not block login or refresh
            raise
        if method.startswith(ADMIN_PREFIX) and not claims.is_admin:
            raise PermissionDenied("this operation needs the admin role")
        return claims

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def guarded(request, context: grpc.aio.ServicerContext):
                async with self._scope(method, context):
                    return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                guarded,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def guarded_stream(request, context: grpc.aio.ServicerContext):
                async with self._scope(method, context):
                    async for item in inner_stream(request, context):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                guarded_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Client- and bidi-streaming RPCs are not part of the contract; refuse rather than
        # serve them unauthenticated.
        async def refuse(request_iterator, context: grpc.aio.ServicerContext):
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method}: client streaming is not supported")

        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )

    @asynccontextmanager
    async def _scope(self, method: str, context: grpc.aio.ServicerContext):
        """Authenticate, publish the caller as :func:`current`, and map whatever the body raises."""
        raw = tuple(context.invocation_metadata() or ())
        metadata = {k: (v if isinstance(v, str) else "") for k, v in raw}
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex
        token = None
        try:
            claims = self._authenticate(method, metadata)
            token = set_current(CallContext(method, request_id, _client_ip(metadata, context.peer() or ""), claims, raw))
            yield
            callstats.count(method, grpc.StatusCode.OK)
        except NijaError as exc:
            code, message, trailing = error_mapping.to_status(exc, request_id)
            callstats.count(method, code)
            if code is grpc.StatusCode.INTERNAL:
                log.error("request %s %s: %s", request_id, method, exc.message)
            await context.abort(code, message, trailing)
        except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception:
            log.exception("request %s %s failed", request_id, method)
            code, message, trailing = error_mapping.internal_status(request_id)
            callstats.count(method, code)
            await context.abort(code, message, trailing)
        finally:
            if token is not None:
                try:
                    reset_current(token)
                except ValueError:  # a stream finished in another context; nothing leaks from it
                    pass
