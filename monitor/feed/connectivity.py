"""Channel connectivity: learns why a channel cannot connect (DNS, refused, TLS) in the user's words."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import grpc
import structlog
from grpc import aio

from monitor.feed.connection import Connection

log = structlog.get_logger()

PROBE_METHOD = "/monitor.Probe/Connectivity"
"""No such method: a probe that reaches a server gets UNIMPLEMENTED and costs no API request."""
PROBE_TIMEOUT_S = 5.0
_TLS_MARKERS = ("handshake", "ssl_error", "certificate_verify_failed", "tsi_")
_VERIFY = re.compile(r"CERTIFICATE_VERIFY_FAILED:\s*([^:]+)")
_DNS_HOST = re.compile(r"DNS resolution failed for ([^\s:]+|\[[^\]]+\])")
_UNREACHABLE: tuple[tuple[str, str], ...] = (
    ("connection refused", "connection refused: nothing listens on that host and port"),
    ("no route to host", "no route to the host: check the network, VPN or proxy"),
    ("network is unreachable", "the network is unreachable: check the connection, VPN or proxy"),
    ("timed out", "the connection timed out: a firewall or proxy may drop it"),
    ("timeout occurred", "the connection timed out: a firewall or proxy may drop it"),
)
"""gRPC's words (lowercased) for a failed TCP connect, and what the monitor says instead."""


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


def unreachable_problem(details: str) -> str | None:
    """A user-facing reason when UNAVAILABLE details show a failed name lookup or TCP connect."""
    found = _DNS_HOST.search(details)
    if found is not None:
        return f"cannot resolve {found[1]} (DNS): check the host name in the endpoint, or the network"
    lowered = details.lower()
    return next((reason for marker, reason in _UNREACHABLE if marker in lowered), None)


def link_problem(status: grpc.StatusCode, details: str, deadline_s: float) -> str | None:
    """The user's words for a call the link failed (refused, reset, stalled); None for the API's own
    errors. gRPC's details ("failed to connect to all addresses; last error: UNKNOWN: ipv4:…")
    name the cause deep inside; a one-line message or a chart panel shows this instead."""
    if status is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {deadline_s:g} s: the link is stalled"
    if status is not grpc.StatusCode.UNAVAILABLE:
        return None
    if "reset by peer" in details.lower():
        return "the connection was reset"
    return unreachable_problem(details)


def channel_problem(details: str, ca_file: str | None) -> str | None:
    """Why the channel cannot connect, from a fail-fast call's details: TLS, DNS or TCP; else None."""
    return tls_problem(details, ca_file) or unreachable_problem(details)


async def probe(channel: aio.Channel) -> str:
    """The status details a fail-fast call gets on this channel right now ("" if it connected)."""
    call = channel.unary_unary(PROBE_METHOD, request_serializer=bytes, response_deserializer=bytes)
    try:
        await call(b"", timeout=PROBE_TIMEOUT_S, wait_for_ready=False)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.UNAVAILABLE:
            return exc.details() or ""
    return ""


async def connect_problem(channel: aio.Channel, ca_file: str | None) -> str | None:
    """Why `channel` cannot connect right now (TLS, DNS or TCP), by one fail-fast probe; None when
    it connects or the failure is something else. For a call that waited for the channel and ran
    out of time: its DEADLINE_EXCEEDED hides the refusal behind it."""
    return channel_problem(await probe(channel), ca_file)


async def watch_channel(
    connection: Connection, ca_file: str | None, report: Callable[[str | None], None]
) -> None:
    """Follows the connection's channel; reports why it fails (channel_problem), None once READY.

    A fail-fast probe after TRANSIENT_FAILURE carries the DNS, TCP or handshake error; it adds no
    connect (a failed channel fails such a call at once). When a stream attempt replaces the
    channel, the watcher moves on to the new one.
    """
    while True:
        channel = connection.channel
        state = channel.get_state(try_to_connect=False)
        while channel is connection.channel:
            if not await _changed(connection, channel, state):
                break
            state = channel.get_state(try_to_connect=False)
            if state is grpc.ChannelConnectivity.READY:
                report(None)
            elif state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                details = await probe(channel)
                reason = channel_problem(details, ca_file)
                if reason is None and details:
                    log.info("channel_unavailable", details=details[:300])
                report(reason)


async def _changed(connection: Connection, channel: aio.Channel, state: grpc.ChannelConnectivity) -> bool:
    """Waits until `channel` leaves `state` (True) or is replaced (False)."""
    change = asyncio.ensure_future(channel.wait_for_state_change(state))
    replaced = asyncio.ensure_future(connection.replaced(channel))
    try:
        await asyncio.wait({change, replaced}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        change.cancel()
        replaced.cancel()
        await asyncio.gather(change, replaced, return_exceptions=True)
    return channel is connection.channel
