"""API errors as the real service encodes them: status code, numeric details, `message` trailer."""

from __future__ import annotations

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


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    code: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    """Ends the call with API error `code` (details = the code, `message` trailer = its text)."""
    status, message = ERRORS[code]
    await context.abort(status, code, (("message", message), *extra))
