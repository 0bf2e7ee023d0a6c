"""API errors as the real service encodes them: status code, numeric details, trailers-only metadata."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

import grpc
import grpc.aio

# code -> (status, message) for the errors the simulator raises (tinvest-contract.md §4.6).
ERRORS: dict[str, tuple[grpc.StatusCode, str]] = {
    "30005": (grpc.StatusCode.INVALID_ARGUMENT, "id_type is invalid"),
    "30007": (grpc.StatusCode.INVALID_ARGUMENT, "missing parameter: id"),
    "30011": (grpc.StatusCode.INVALID_ARGUMENT, "interval is invalid"),
    "30012": (grpc.StatusCode.INVALID_ARGUMENT, "to can't be less than from"),
    "30013": (grpc.StatusCode.INVALID_ARGUMENT, "class_code is required when id_type is ticker"),
    "30014": (grpc.StatusCode.INVALID_ARGUMENT, "maximum request period exceeded"),
    "30050": (grpc.StatusCode.INVALID_ARGUMENT, "instrument_status is invalid"),
    "30087": (grpc.StatusCode.INVALID_ARGUMENT, "missing parameter: query"),
    "30228": (grpc.StatusCode.INVALID_ARGUMENT, "either from or limit must be specified"),
    "30237": (grpc.StatusCode.INVALID_ARGUMENT, "missing parameter: instrument_id"),
    "40003": (grpc.StatusCode.UNAUTHENTICATED, "authentication token is missing or invalid"),
    "50002": (grpc.StatusCode.NOT_FOUND, "instrument not found"),
    "70001": (grpc.StatusCode.INTERNAL, "internal error"),
    "80001": (grpc.StatusCode.RESOURCE_EXHAUSTED, "limit of open streams exceeded"),
    "80002": (grpc.StatusCode.RESOURCE_EXHAUSTED, "request limit exceeded"),
    "80004": (grpc.StatusCode.RESOURCE_EXHAUSTED, "no active subscriptions"),
    "80005": (grpc.StatusCode.RESOURCE_EXHAUSTED, "stream lifetime too long"),
}  # fmt: skip


class ApiError(Exception):
    """Raised by a unary handler to end its call with API error `code` (see `gate.unary`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    code: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    """Ends the call with API error `code`: details = the code; `message`, x-tracking-id and the
    call's other `headers` (x-ratelimit-*) all in the trailers.

    Callers send no initial metadata before an error, so a unary error is a trailers-only answer
    like the real API's: a client that reads error metadata from the headers when there are any,
    else from the trailers (invest-python), finds all of it either way.
    """
    status, message = ERRORS[code]
    if not any(key == "x-tracking-id" for key, _ in headers):
        headers = (("x-tracking-id", uuid.uuid4().hex), *headers)  # 32 hex digits, as the real ids
    await context.abort(status, code, (*headers, ("message", message)))
