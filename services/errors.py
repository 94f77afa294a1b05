"""The one mapping from domain errors to gRPC statuses (with ``google.rpc`` details).

Through Envoy's transcoder these become HTTP statuses with a JSON body:
INVALID_ARGUMENT/FAILED_PRECONDITION → 400, UNAUTHENTICATED → 401, PERMISSION_DENIED → 403,
NOT_FOUND → 404, ALREADY_EXISTS → 409, RESOURCE_EXHAUSTED → 429, UNIMPLEMENTED → 501,
UNAVAILABLE → 503, INTERNAL → 500.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from nija.core import errors

DOMAIN = "nija.dev"

_CODES: list[tuple[type[errors.NijaError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.NotImplementedYet, grpc.StatusCode.UNIMPLEMENTED),
]


def status_code_for(exc: errors.NijaError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(exc: errors.NijaError, request_id: str) -> tuple[grpc.StatusCode, str, tuple]:
    """(code, message, trailing metadata carrying a serialized ``google.rpc.Status``)."""
    code = status_code_for(exc)
    details = [_pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN))]
    field = getattr(exc, "field", None)
    if field:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=exc.message)]
                )
            )
        )
    if isinstance(exc, errors.RateLimited):
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=exc.retry_after))))
    details.append(_pack(error_details_pb2.RequestInfo(request_id=request_id)))
    status = status_pb2.Status(code=code.value[0], message=exc.message, details=details)
    return code, exc.message, (("grpc-status-details-bin", status.SerializeToString()),)


def internal_status(request_id: str) -> tuple[grpc.StatusCode, str, tuple]:
    message = f"internal error; quote request id {request_id} to support"
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=message,
        details=[_pack(error_details_pb2.RequestInfo(request_id=request_id))],
    )
    return grpc.StatusCode.INTERNAL, message, (("grpc-status-details-bin", status.SerializeToString()),)
