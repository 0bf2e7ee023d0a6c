"""Endpoints: the API's hosts, `host:port` parsing, and the one loopback rule for plaintext."""

from __future__ import annotations

import ipaddress
import re

PROD_ENDPOINT = "invest-public-api.tbank.ru:443"
SANDBOX_ENDPOINT = "sandbox-invest-public-api.tbank.ru:443"
LOOPBACK_NAME = "localhost"
LOOPBACK_RULE = "localhost, 127.0.0.0/8, ::1"
"""The loopback rule in words, for every message that states it."""


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """Splits `host:port` or `[v6]:port` into (host, port); raises ValueError on anything else."""
    match = re.fullmatch(
        r"\[(?P<v6>[0-9A-Fa-f:.]+)\]:(?P<port>\d+)|(?P<host>[^:\s\[\]/]+):(?P<p>\d+)", endpoint
    )
    if match is None:
        raise ValueError(f"endpoint {endpoint!r} must look like HOST:PORT (or [IPv6]:PORT)")
    host = match["v6"] or match["host"]
    port = int(match["port"] or match["p"])
    if not 0 < port < 65536:
        raise ValueError(f"endpoint port {port} is outside 1..65535")
    return host, port


def split_host(endpoint: str) -> str:
    """The host part of `host:port` or `[v6]:port` (the whole string when it has no port)."""
    if endpoint.startswith("["):
        return endpoint[1 : endpoint.index("]")]
    host, sep, _ = endpoint.rpartition(":")
    return host if sep else endpoint


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (also IPv4-mapped): the only hosts plaintext may talk to.

    Only names every resolver must map to loopback count (RFC 6761: localhost). `ip6-localhost`
    or `localhost.` live in some /etc/hosts only: the settings accepted them, then the channel
    could not resolve them. Settings check `--plaintext` with it when they load and the channel
    again when it opens (`require_loopback`), so the rule is this one function.
    """
    if host.lower() == LOOPBACK_NAME:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def require_loopback(host: str) -> None:
    """Raises ValueError (one line naming `host`) unless plaintext may talk to it."""
    if not is_loopback(host):
        raise ValueError(f"plaintext is only allowed for loopback endpoints ({LOOPBACK_RULE}), not {host}")
