"""The gRPC channel: TLS (or loopback-only plaintext), keepalive, message size, auth metadata."""

from __future__ import annotations

import ssl
from importlib import resources
from pathlib import Path

import grpc

from monitor.endpoints import require_loopback, split_host
from monitor.feed.config import FeedConfig
from monitor.files import CERT_FILE_CAP, UnreadableFile, read_bytes_bounded

MAX_RECEIVE_BYTES = 10 * 1024 * 1024
MIN_KEEPALIVE_MS = 60_000
RECONNECT_BACKOFF_MS = 240_000
"""gRPC core's own reconnect backoff: longer than any feed delay, so core never reconnects first."""
VERSION = "0.1.0"


def channel_options(config: FeedConfig) -> list[tuple[str, int | str]]:
    """Channel arguments per stream-recovery §3: conservative keepalive, 10 MiB messages."""
    return [
        # Envoy fronts the API with an undocumented ping policy: ping rarely, rely on app pings.
        ("grpc.keepalive_time_ms", max(MIN_KEEPALIVE_MS, config.keepalive_time_ms)),
        ("grpc.keepalive_timeout_ms", config.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        ("grpc.primary_user_agent", f"{config.app_name}/{VERSION}"),
        # The feed decides every connect (feed/connection.py): a failed channel is replaced by a new
        # one when a stream attempt starts, on the feed's backoff. gRPC core would otherwise retry
        # on a timer of its own, calls waiting or not (a 0.5 s pace made 194 TCP connects in a
        # 2-minute outage against 5 feed attempts; its default 1 s x1.6 curve hides a returning
        # server from the feed for up to 2 minutes). 240 s (192-288 s with core's ±20 % jitter)
        # exceeds the feed's largest delay (120 s + 20 %), so core never reconnects first.
        # Core also makes it the connect-attempt deadline (max(backoff, 20 s)): a connect that
        # hangs (blackholed SYN, stalled TLS handshake) is cut when the next attempt replaces it.
        ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
        # Our own subchannels: a replacement channel must not inherit a failed channel's backoff
        # through gRPC's process-wide subchannel pool (same target and arguments share one).
        ("grpc.use_local_subchannel_pool", 1),
    ]


def root_certificates(ca_file: str | None) -> bytes | None:
    """System roots with `ca_file` appended; None (gRPC's own roots) when no extra CA is given."""
    if ca_file is None:
        return None
    # Bounded: a CA path that names a FIFO or a device must not hang or fill memory at connect.
    path = Path(ca_file).expanduser()
    try:
        extra = read_bytes_bounded(path, CERT_FILE_CAP)
    except UnreadableFile as exc:
        raise UnreadableFile(f"cannot read ca_file {path}: {exc}") from None
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes() + b"\n" + extra
    # No system bundle file: fall back to the bundle grpc ships, so public hosts still verify.
    bundled = resources.files("grpc").joinpath("_cython/_credentials/roots.pem")
    return bundled.read_bytes() + b"\n" + extra


def open_channel(config: FeedConfig) -> grpc.aio.Channel:
    """A grpc.aio channel for `config.endpoint`; call it inside the running event loop.

    Raises:
        ValueError: plaintext was asked for a host that is not loopback.
    """
    options = channel_options(config)
    if config.plaintext:
        require_loopback(split_host(config.endpoint))
        return grpc.aio.insecure_channel(config.endpoint, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates(config.ca_file))
    return grpc.aio.secure_channel(config.endpoint, credentials, options=options)


def metadata(config: FeedConfig) -> tuple[tuple[str, str], ...]:
    """The request headers of every call: the bearer token and the app name."""
    return (("authorization", f"Bearer {config.token}"), ("x-app-name", config.app_name))
