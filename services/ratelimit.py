"""Envoy's ``envoy.service.ratelimit.v3.RateLimitService``, answered from the user's plan.

Envoy's ``ratelimit`` filter sends one descriptor per API call: ``user=<JWT sub>`` (jwt_authn puts
the verified subject into ``x-nija-user``; requests without a valid token carry none and are not
asked about). The limit is the plan's calls per minute, from entitlements; counts are in the
database so every process shares them.

This runs as its own grpc.aio server on a loopback port, outside the service interceptor: the
caller is Envoy, not a user, and no user can reach this port through the edge.

Failing open: any error in here answers OK (and logs it), and Envoy's filter is configured with
``failure_mode_deny: false`` — a bug or an outage of the limiter can never take the API down.
"""

from __future__ import annotations

import importlib
import logging
from importlib import metadata

import grpc

from nija.core.billing import Billing, count_api_call

log = logging.getLogger(__name__)

DOMAIN = "nija"
DESCRIPTOR_KEY = "user"


def _rls_modules():
    """The generated RLS code from the ``xds-protos`` wheel.

    Imported by file location if needed: with the checkout as working directory, the project's
    own ``envoy/`` folder shadows the wheel's ``envoy`` package.
    """
    try:
        from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
    except ModuleNotFoundError:
        import envoy

        root = str(metadata.distribution("xds-protos").locate_file("envoy"))
        if root not in list(envoy.__path__):
            envoy.__path__.append(root)
        rls_pb2 = importlib.import_module("envoy.service.ratelimit.v3.rls_pb2")
        rls_pb2_grpc = importlib.import_module("envoy.service.ratelimit.v3.rls_pb2_grpc")
    return rls_pb2, rls_pb2_grpc


rls_pb2, rls_pb2_grpc = _rls_modules()
_OK = rls_pb2.RateLimitResponse.Code.OK
_OVER = rls_pb2.RateLimitResponse.Code.OVER_LIMIT


def _header(key: str, value: object):
    from envoy.config.core.v3 import base_pb2

    return base_pb2.HeaderValue(key=key, value=str(value))


class RateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def ShouldRateLimit(self, request, context):
        try:
            return await self._decide(request)
        except Exception:  # noqa: BLE001 - fail open: the limiter must never take the API down
            log.exception("rate-limit service failed; allowing the request (fail open)")
            return rls_pb2.RateLimitResponse(overall_code=_OK)

    async def _decide(self, request):
        response = rls_pb2.RateLimitResponse(overall_code=_OK)
        for descriptor in request.descriptors:
            user_id = next((e.value for e in descriptor.entries if e.key == DESCRIPTOR_KEY), None)
            status = response.statuses.add(code=_OK)
            if request.domain != DOMAIN or not user_id:
                continue
            decision = await count_api_call(self.billing, user_id)
            if decision is None:
                continue
            status.current_limit.requests_per_unit = decision.limit
            status.current_limit.unit = rls_pb2.RateLimitResponse.RateLimit.Unit.MINUTE
            status.current_limit.name = f"plan:{decision.plan}"
            status.limit_remaining = decision.remaining
            status.duration_until_reset.seconds = decision.reset_s
            response.response_headers_to_add.extend([
                _header("x-ratelimit-limit", decision.limit),
                _header("x-ratelimit-remaining", decision.remaining),
                _header("x-ratelimit-reset", decision.reset_s),
            ])
            if not decision.allowed:
                status.code = _OVER
                response.overall_code = _OVER
                response.response_headers_to_add.append(_header("retry-after", decision.reset_s))
                response.raw_body = (
                    f"rate limit exceeded: the {decision.plan} plan allows {decision.limit} API calls per minute; "
                    f"retry in {decision.reset_s} s"
                ).encode()
        return response


async def create_ratelimit_server(address: str, billing: Billing) -> tuple[grpc.aio.Server, int]:
    """Start the rate-limit service on ``address`` (loopback); returns (server, bound port)."""
    server = grpc.aio.server()
    rls_pb2_grpc.add_RateLimitServiceServicer_to_server(RateLimitServicer(billing), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind the rate-limit service to {address}")
    await server.start()
    log.info("rate-limit service (envoy.service.ratelimit.v3) listening on port %d", port)
    return server, port
