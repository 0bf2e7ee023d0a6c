"""`monitor check`: tries DNS, TCP, TLS, auth and each watchlist instrument, and says what failed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.cli import demo
from monitor.cli.common import add_connection_arguments, settings_from_args, silence
from monitor.endpoints import is_loopback, split_endpoint
from monitor.exits import EXIT_FAILED, EXIT_OK
from monitor.feed import FeedConfig
from monitor.files import CERT_FILE_CAP, read_bytes_bounded
from monitor.logging import Redactor
from monitor.settings import Settings
from monitor.watchlist import load_watchlists

if TYPE_CHECKING:
    import grpc

_PROXY_VARS = ("grpc_proxy", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
_HINT_HOST = "the other host name: --endpoint invest-public-api.tinkoff.ru:443 (or .tbank.ru:443)"
_HINT_SANDBOX_HOST = (
    "the other sandbox host name: --endpoint sandbox-invest-public-api.tinkoff.ru:443 "
    "(or sandbox-invest-public-api.tbank.ru:443)"
)
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
    try:
        return asyncio.run(check(settings, list(dict.fromkeys(ids)), sys.stdout))
    except BrokenPipeError:
        silence(sys.stdout)  # `monitor check | head -1` closed the pipe early: not an error
        return EXIT_OK


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
        return EXIT_FAILED


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def check(settings: Settings, ids: Sequence[str], out: TextIO) -> int:
    """Checks the connection and resolves `ids`; starts the built-in simulator when there is no token."""
    async with demo.feed_config(settings) as config:
        if config.mode == "DEMO":
            print(f"no token: checking the built-in simulator (DEMO) at {config.endpoint}", file=out)
        else:
            mode = "sandbox" if settings.connection.sandbox else "live API"
            print(f"checking {config.endpoint} ({mode})", file=out)
        return await check_endpoint(config, ids, out)


async def check_endpoint(config: FeedConfig, ids: Sequence[str], out: TextIO) -> int:
    """Runs every stage against `config.endpoint`; returns 0 when all stages pass and every id resolves."""
    from monitor.feed import open_channel

    report = Report(out, config.token)
    (host, port), timeout = split_endpoint(config.endpoint), config.connect_timeout_s
    host_hint = _HINT_SANDBOX_HOST if config.mode == "SANDBOX" else _HINT_HOST
    # A local endpoint is a simulator: proxies and other API hosts are no help there.
    local = is_loopback(host)
    if not config.plaintext and (proxy := next((v for v in _PROXY_VARS if os.environ.get(v)), None)):
        report.line(f"note: gRPC will use the proxy in {proxy}; the DNS/TCP/TLS steps test the direct route")

    started = time.perf_counter()
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        hints = [] if local else [host_hint, _HINT_PROXY]
        return report.failed("DNS", started, f"cannot resolve {host}: {_why(exc)}", hints)
    addresses = ", ".join(sorted({str(info[4][0]) for info in infos}))
    report.stage("DNS", started, f"ok: {host} -> {addresses}")

    started = time.perf_counter()
    try:
        await _open_and_close(host, port, None, timeout)
    except (OSError, TimeoutError) as exc:
        hints = [_hint_simulator(port)] if local else [_HINT_PROXY, host_hint]
        return report.failed("TCP connect", started, f"{host}:{port}: {_why(exc)}", hints)
    report.stage("TCP connect", started, "ok")

    started = time.perf_counter()
    if config.plaintext:
        report.line(f"{'TLS handshake':<15} skipped (plaintext to a loopback endpoint)")
    else:
        try:
            await _open_and_close(host, port, _ssl_context(config.ca_file), timeout)
        except ssl.SSLCertVerificationError as exc:
            reason = f"certificate verify failed: {exc.verify_message or exc}"
            return report.failed("TLS handshake", started, reason, [_HINT_CA, host_hint])
        except (OSError, TimeoutError) as exc:
            return report.failed("TLS handshake", started, _why(exc), [_HINT_CA, _HINT_PROXY])
        report.stage("TLS handshake", started, "ok (certificate verified)")

    channel = open_channel(config)
    try:
        return await _resolve_all(channel, config, ids, report, [] if local else [_HINT_PROXY, host_hint])
    finally:
        await channel.close()


async def _resolve_all(
    channel: grpc.aio.Channel, config: FeedConfig, ids: Sequence[str], report: Report, route_hints: list[str]
) -> int:
    import grpc

    from monitor.feed import instrument_request, metadata
    from monitor.pb import instruments_pb2_grpc

    stub = instruments_pb2_grpc.InstrumentsServiceStub(channel)
    headers = metadata(config)
    status = EXIT_OK
    for index, ident in enumerate(ids):
        started = time.perf_counter()
        try:
            response = await stub.GetInstrumentBy(
                instrument_request(ident), metadata=headers, timeout=config.connect_timeout_s
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
                status = EXIT_FAILED
                continue
            if index == 0:
                hints = route_hints if code is not grpc.StatusCode.UNIMPLEMENTED else []
                return report.failed("first response", started, f"{code.name} {details}".strip(), hints)
            report.line(f"ERROR  {ident}  {code.name} {details}".rstrip())
            status = EXIT_FAILED
            continue
        if index == 0:
            _first_response(report, started)
        instrument = response.instrument
        report.line(f"OK  {ident}  {instrument.name}  lot {instrument.lot}")
    report.line("all instruments found" if status == EXIT_OK else "some instruments were not found")
    return status


def _hint_simulator(port: int) -> str:
    return (
        f"nothing listens there: start a simulator with `monitor sim --port {port}` (it says how to connect)"
    )


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


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """System roots plus `ca_file`, verification always on."""
    context = ssl.create_default_context()
    if ca_file is not None:
        # Read with the channel's bound (a FIFO would hang `cafile=`), then handed over as PEM.
        context.load_verify_locations(
            cadata=read_bytes_bounded(Path(ca_file).expanduser(), CERT_FILE_CAP).decode()
        )
    context.set_alpn_protocols(["h2"])
    return context
