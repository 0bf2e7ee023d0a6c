"""`monitor check`: tries DNS, TCP, TLS, auth and each watchlist instrument, and says what failed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import secrets
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any, TextIO

import grpc

from monitor.cli_common import add_connection_arguments, settings_from_args
from monitor.feed.channel import open_channel
from monitor.feed.config import FeedConfig
from monitor.feed.instruments import instrument_request
from monitor.logging import Redactor
from monitor.pb import instruments_pb2_grpc
from monitor.settings import ConnectionSettings, Settings
from monitor.watchlist import load_watchlists

_PROXY_VARS = ("grpc_proxy", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
_HINT_HOST = "the other host name: --endpoint invest-public-api.tinkoff.ru:443 (or .tbank.ru:443)"
_HINT_PROXY = "behind a proxy? set https_proxy (or grpc_proxy); check firewalls for outbound port 443"
_HINT_CA = (
    "certificate errors: pass the issuing root CA with --ca-file FILE "
    "(or connection.ca_file in the settings file; e.g. Russian Trusted Root CA)"
)
_HINT_TOKEN = (
    "check the token: TINKOFF_TOKEN_STRING (SANDBOX_TOKEN_STRING with --sandbox) or --token-file; "
    "tokens expire 3 months after last use, and sandbox tokens only work on the sandbox host"
)


def add_parser(subparsers: Any) -> None:
    """Registers `monitor check`."""
    parser = subparsers.add_parser(
        "check",
        help="check the connection, token and watchlist instruments",
        description="Connects step by step (DNS, TCP, TLS, auth, first response), resolves every "
        "instrument of the active watchlist and says what failed and what to try.",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `monitor check`: 0 when everything works, 1 otherwise."""
    settings, _ = settings_from_args(args)
    watchlists = load_watchlists(settings.watchlist_path())
    ids = [entry.id for entry in watchlists.active_list.entries]
    return asyncio.run(check(settings, list(dict.fromkeys(ids)), sys.stdout))


class Report:
    """Writes check lines with every secret redacted."""

    def __init__(self, out: TextIO, token: str | None) -> None:
        self.out = out
        self.redactor = Redactor(token)

    def line(self, text: str) -> None:
        """Prints one line."""
        print(self.redactor.redact(text), file=self.out, flush=True)

    def stage(self, name: str, started: float, result: str) -> None:
        """Prints a stage result with the time it took."""
        self.line(f"{name:<15} {result} ({_ms(started)} ms)")

    def failed(self, name: str, started: float, reason: str, hints: Sequence[str]) -> int:
        """Prints a failed stage and what to try; returns the exit status 1."""
        self.stage(name, started, f"FAILED: {reason}")
        for hint in hints:
            self.line(f"  try: {hint}")
        return 1


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def check(settings: Settings, ids: Sequence[str], out: TextIO) -> int:
    """Checks the connection and resolves `ids`; starts the built-in simulator when there is no token."""
    secret = settings.resolved_token()
    if secret is not None:
        mode = "sandbox" if settings.connection.sandbox else "live API"
        print(f"checking {settings.connection.endpoint} ({mode})", file=out)
        return await check_endpoint(settings.connection, secret.get_secret_value(), ids, out)
    try:
        # Imported by name: the simulator is optional at build time and may be absent or partial.
        sim_module = importlib.import_module("monitor.sim")
        sim_server, sim_config = sim_module.SimServer, sim_module.SimConfig
    except (ImportError, AttributeError):
        print("no token set and the built-in simulator is not available; set TINKOFF_TOKEN_STRING", file=out)
        return 1
    sim = sim_server(sim_config(host="127.0.0.1", port=0, tokens=(f"demo-{secrets.token_urlsafe(16)}",)))
    await sim.start()
    try:
        print(f"no token: checking the built-in simulator (DEMO) at {sim.address}", file=out)
        conn = settings.connection.model_copy(update={"endpoint": sim.address, "plaintext": True})
        return await check_endpoint(conn, sim.token, ids, out)
    finally:
        await sim.stop()


async def check_endpoint(conn: ConnectionSettings, token: str, ids: Sequence[str], out: TextIO) -> int:
    """Runs every stage against `conn.endpoint`; returns 0 when all stages pass and every id resolves."""
    report = Report(out, token)
    host, port, timeout = conn.host, conn.port, conn.connect_timeout_s
    if not conn.plaintext and (proxy := next((v for v in _PROXY_VARS if os.environ.get(v)), None)):
        report.line(f"note: gRPC will use the proxy in {proxy}; the DNS/TCP/TLS steps test the direct route")

    started = time.perf_counter()
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        return report.failed("DNS", started, f"cannot resolve {host}: {_why(exc)}", [_HINT_HOST, _HINT_PROXY])
    addresses = ", ".join(sorted({str(info[4][0]) for info in infos}))
    report.stage("DNS", started, f"ok: {host} -> {addresses}")

    started = time.perf_counter()
    try:
        await _open_and_close(host, port, None, timeout)
    except (OSError, TimeoutError) as exc:
        return report.failed("TCP connect", started, f"{host}:{port}: {_why(exc)}", [_HINT_PROXY, _HINT_HOST])
    report.stage("TCP connect", started, "ok")

    started = time.perf_counter()
    if conn.plaintext:
        report.line(f"{'TLS handshake':<15} skipped (plaintext to a loopback endpoint)")
    else:
        try:
            await _open_and_close(host, port, _ssl_context(conn), timeout)
        except ssl.SSLCertVerificationError as exc:
            reason = f"certificate verify failed: {exc.verify_message or exc}"
            return report.failed("TLS handshake", started, reason, [_HINT_CA, _HINT_HOST])
        except (OSError, TimeoutError) as exc:
            return report.failed("TLS handshake", started, _why(exc), [_HINT_CA, _HINT_PROXY])
        report.stage("TLS handshake", started, "ok (certificate verified)")

    channel = build_channel(conn, token)
    try:
        return await _resolve_all(channel, conn, token, ids, report)
    finally:
        await channel.close()


async def _resolve_all(
    channel: grpc.aio.Channel, conn: ConnectionSettings, token: str, ids: Sequence[str], report: Report
) -> int:
    stub = instruments_pb2_grpc.InstrumentsServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"), ("x-app-name", conn.app_name))
    status = 0
    for index, ident in enumerate(ids):
        started = time.perf_counter()
        try:
            response = await stub.GetInstrumentBy(
                instrument_request(ident), metadata=metadata, timeout=conn.connect_timeout_s
            )
        except grpc.aio.AioRpcError as err:
            code, details = err.code(), err.details() or ""
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                return report.failed(
                    "auth", started, f"token rejected ({code.name} {details})", [_HINT_TOKEN]
                )
            if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                if index == 0:
                    _first_response(report, started)
                report.line(f"NOT FOUND  {ident}")
                status = 1
                continue
            if index == 0:
                hints = [_HINT_PROXY, _HINT_HOST] if code is not grpc.StatusCode.UNIMPLEMENTED else []
                return report.failed("first response", started, f"{code.name} {details}".strip(), hints)
            report.line(f"ERROR  {ident}  {code.name} {details}".rstrip())
            status = 1
            continue
        if index == 0:
            _first_response(report, started)
        instrument = response.instrument
        report.line(f"OK  {ident}  {instrument.name}  lot {instrument.lot}")
    report.line("all instruments found" if status == 0 else "some instruments were not found")
    return status


def _first_response(report: Report, started: float) -> None:
    report.stage("auth", started, "ok: token accepted")
    report.stage("first response", started, "ok")


async def _open_and_close(host: str, port: int, context: ssl.SSLContext | None, timeout: float) -> None:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None), timeout
    )
    if context is not None:
        # A gRPC server never answers a TLS close_notify (it waits for the HTTP/2 preface), so a
        # graceful close hung for the 30 s SSL shutdown timeout; the handshake is all we wanted.
        writer.transport.abort()
        return
    writer.close()
    # A reset while closing says nothing about whether the stage worked.
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror | OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _ssl_context(conn: ConnectionSettings) -> ssl.SSLContext:
    """System roots plus ca_file, verification always on."""
    context = ssl.create_default_context()
    if conn.ca_file is not None:
        context.load_verify_locations(cafile=str(conn.ca_file))
    context.set_alpn_protocols(["h2"])
    return context


def _root_certificates(conn: ConnectionSettings) -> bytes | None:
    """System roots with ca_file appended, or None for gRPC's own roots when there is no extra CA."""
    if conn.ca_file is None:
        return None
    extra = conn.ca_file.read_bytes()
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as handle:
                return handle.read() + b"\n" + extra
    # gRPC given root_certificates trusts only those, so bring its bundled roots along.
    return resources.files("grpc").joinpath("_cython/_credentials/roots.pem").read_bytes() + b"\n" + extra


def build_channel(conn: ConnectionSettings, token: str | None) -> grpc.aio.Channel:
    """The feed's own channel to `conn.endpoint` (TLS, or plaintext to loopback only).

    The token is not attached here: callers send it as call metadata.
    """
    ca_file = str(conn.ca_file) if conn.ca_file is not None else None
    config = FeedConfig(
        endpoint=conn.endpoint,
        token=token or "",
        plaintext=conn.plaintext,
        ca_file=ca_file,
        app_name=conn.app_name,
        keepalive_time_ms=conn.keepalive_time_ms,
        keepalive_timeout_ms=conn.keepalive_timeout_ms,
    )
    return open_channel(config)
