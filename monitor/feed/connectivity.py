"""Channel connectivity: learns why a channel cannot connect, so TLS trouble gets a clear reason."""

from __future__ import annotations

import re
from collections.abc import Callable

import grpc
import structlog

log = structlog.get_logger()

PROBE_METHOD = "/monitor.Probe/Connectivity"
"""No such method: a probe that reaches a server gets UNIMPLEMENTED and costs no API request."""
PROBE_TIMEOUT_S = 5.0
_TLS_MARKERS = ("handshake", "ssl_error", "certificate_verify_failed", "tsi_")
_VERIFY = re.compile(r"CERTIFICATE_VERIFY_FAILED:\s*([^:]+)")


def tls_problem(details: str, ca_file: str | None) -> str | None:
    """A user-facing reason when gRPC's UNAVAILABLE details show a failed TLS handshake, else None.

    Args:
        details: the status details of a failed call (gRPC names the handshake error there).
        ca_file: the configured extra CA, if any (the advice differs when one is already set).
    """
    lowered = details.lower()
    if not any(marker in lowered for marker in _TLS_MARKERS):
        return None
    found = _VERIFY.search(details)
    why = f"certificate not trusted: {found[1].strip()}" if found else "TLS handshake failed"
    if ca_file is None:
        advice = "if the server uses a private CA, pass its PEM with --ca-file (connection.ca_file)"
    else:
        advice = f"the CA in --ca-file (connection.ca_file = {ca_file}) does not verify this server"
    return f"TLS handshake failed ({why}); {advice}"


async def probe(channel: grpc.aio.Channel) -> str:
    """The status details a fail-fast call gets on this channel right now ("" if it connected)."""
    call = channel.unary_unary(PROBE_METHOD, request_serializer=bytes, response_deserializer=bytes)
    try:
        await call(b"", timeout=PROBE_TIMEOUT_S, wait_for_ready=False)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.UNAVAILABLE:
            return exc.details() or ""
    return ""


async def watch_channel(
    channel: grpc.aio.Channel, ca_file: str | None, report: Callable[[str | None], None]
) -> None:
    """Follows the channel's state for ever; reports a TLS reason on failure, None once READY.

    The stream and the look-ups wait for the channel (`wait_for_ready`), so on their own they only
    ever see a timeout; a fail-fast probe after TRANSIENT_FAILURE carries the handshake error.
    """
    state = channel.get_state(try_to_connect=False)
    while True:
        await channel.wait_for_state_change(state)
        state = channel.get_state(try_to_connect=False)
        if state is grpc.ChannelConnectivity.READY:
            report(None)
        elif state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            details = await probe(channel)
            reason = tls_problem(details, ca_file)
            if reason is None and details:
                log.info("channel_unavailable", details=details[:300])
            report(reason)
