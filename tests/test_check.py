"""`monitor check` against a local fake InstrumentsService and (when built) the simulator."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any, Protocol

import grpc
import pytest

import monitor.cli as cli
from monitor.cli.check import check, check_endpoint
from monitor.feed import FeedConfig
from monitor.pb import instruments_pb2, instruments_pb2_grpc
from monitor.settings import Settings, SettingsError

GOOD = "t." + "good-token-" * 4 + "0123"  # token-shaped, built at run time
BAD = "t." + "wrong-token-" * 4 + "99"
SBER_UID = "e6123145-9665-43e0-8413-cd61b8aa9b13"
SBER = instruments_pb2.Instrument(
    figi="BBG004730N88", ticker="SBER", class_code="TQBR", uid=SBER_UID, lot=10, name="Sberbank"
)


class FakeInstruments(instruments_pb2_grpc.InstrumentsServiceServicer):
    """Knows SBER by ticker+class, FIGI and uid; checks the bearer token like the API."""

    def __init__(self) -> None:
        self.requests: list[instruments_pb2.InstrumentRequest] = []
        self.app_names: list[str] = []

    def GetInstrumentBy(
        self, request: instruments_pb2.InstrumentRequest, context: grpc.ServicerContext
    ) -> instruments_pb2.InstrumentResponse:
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != f"Bearer {GOOD}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "40003")
        self.requests.append(request)
        self.app_names.append(str(metadata.get("x-app-name", "")))
        matches = (
            (
                request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_TICKER
                and request.id == "SBER"
                and request.class_code == "TQBR"
            )
            or (request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_FIGI and request.id == SBER.figi)
            or (request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_UID and request.id == SBER_UID)
        )
        if not matches:
            context.abort(grpc.StatusCode.NOT_FOUND, "50002")
        return instruments_pb2.InstrumentResponse(instrument=SBER)

    def ShareBy(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "12001")

    BondBy = EtfBy = FutureBy = CurrencyBy = ShareBy

    def Shares(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "12001")

    Bonds = Etfs = Futures = Currencies = Shares

    def FindInstrument(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "12001")


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(autouse=True)
def no_proxy(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean environment without proxies too: check notes a proxy variable, and gRPC would use it."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeInstruments]]:
    """A threaded (sync) gRPC server, so main()'s own asyncio.run can talk to it."""
    servicer = FakeInstruments()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    instruments_pb2_grpc.add_InstrumentsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(None)


def watchlist(tmp_path: Path, *ids: str) -> Path:
    path = tmp_path / "w.toml"
    items = ", ".join(f'"{i}"' for i in ids)
    path.write_text(f'[[lists]]\nname = "t"\ninstruments = [{items}]\n')
    return path


def run_main(tmp_path: Path, endpoint: str, *ids: str) -> int:
    return cli.main(
        [
            "check",
            "--endpoint",
            endpoint,
            "--plaintext",
            "--watchlist",
            str(watchlist(tmp_path, *ids)),
            "--log-file",
            str(tmp_path / "log.jsonl"),
        ]
    )


class CheckFake(Protocol):
    def __call__(self, token: str, *ids: str) -> int: ...


@pytest.fixture
def check_fake(
    fake: tuple[str, FakeInstruments], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CheckFake:
    """Runs `monitor check` (main) against the fake with TINKOFF_TOKEN_STRING=token, for the ids."""
    endpoint, _ = fake

    def run(token: str, *ids: str) -> int:
        monkeypatch.setenv("TINKOFF_TOKEN_STRING", token)
        return run_main(tmp_path, endpoint, *ids)

    return run


def test_good_token_resolves_every_kind_of_id(
    check_fake: CheckFake, fake: tuple[str, FakeInstruments], capsys: pytest.CaptureFixture[str]
) -> None:
    _, servicer = fake
    assert check_fake(GOOD, "SBER_TQBR", "BBG004730N88", SBER_UID) == 0
    out = capsys.readouterr().out
    assert "OK  SBER_TQBR  Sberbank  lot 10" in out
    assert "OK  BBG004730N88  Sberbank  lot 10" in out
    assert f"OK  {SBER_UID}  Sberbank  lot 10" in out
    assert "token accepted" in out
    for stage in ("DNS", "TCP connect", "TLS handshake", "first response"):
        assert stage in out
    assert [r.id_type for r in servicer.requests] == [
        instruments_pb2.INSTRUMENT_ID_TYPE_TICKER,
        instruments_pb2.INSTRUMENT_ID_TYPE_FIGI,
        instruments_pb2.INSTRUMENT_ID_TYPE_UID,
    ]
    assert servicer.app_names == ["monitor"] * 3
    assert GOOD not in out


def test_wrong_token_is_rejected_without_leaking(
    check_fake: CheckFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_fake(BAD, "SBER_TQBR") == 1
    captured = capsys.readouterr()
    assert "token rejected (UNAUTHENTICATED 40003)" in captured.out
    assert "auth" in captured.out and "try: check the token" in captured.out
    assert "Traceback" not in captured.out + captured.err
    assert BAD not in captured.out + captured.err + (tmp_path / "log.jsonl").read_text()


def test_unknown_instrument_is_not_found(check_fake: CheckFake, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_fake(GOOD, "XXX_TQBR", "SBER_TQBR") == 1
    out = capsys.readouterr().out
    assert "NOT FOUND  XXX_TQBR" in out
    assert "OK  SBER_TQBR" in out


def test_unreachable_port_names_the_tcp_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", GOOD)
    assert run_main(tmp_path, f"127.0.0.1:{port}", "SBER_TQBR") == 1
    out = capsys.readouterr().out
    assert "TCP connect     FAILED" in out
    assert "DNS             ok" in out
    # A refused loopback port is a simulator that is not running: no proxy or port-443 advice.
    assert f"try: nothing listens there: start a simulator with `monitor sim --port {port}`" in out
    assert "proxy" not in out and "443" not in out


async def test_check_against_the_simulator(tmp_path: Path) -> None:
    sim = pytest.importorskip("monitor.sim")
    if not hasattr(sim, "SimServer"):
        pytest.skip("monitor.sim does not export SimServer yet")
    out = io.StringIO()
    settings = Settings()
    assert settings.demo
    assert await check(settings, ["SBER_TQBR", "XXX_TQBR"], out) == 1
    text = out.getvalue()
    assert "built-in simulator" in text and "OK  SBER_TQBR" in text and "NOT FOUND  XXX_TQBR" in text


async def test_simulator_good_and_wrong_token(tmp_path: Path) -> None:
    sim_module = pytest.importorskip("monitor.sim")
    if not hasattr(sim_module, "SimServer"):
        pytest.skip("monitor.sim does not export SimServer yet")
    sim = sim_module.SimServer(sim_module.SimConfig(host="127.0.0.1", port=0, tokens=(GOOD,)))
    await sim.start()
    try:
        for token, expected in ((GOOD, 0), (BAD, 1)):
            settings = Settings(
                connection={  # type: ignore[arg-type]
                    "endpoint": sim.address,
                    "plaintext": True,
                    "token": token,
                }
            )
            out = io.StringIO()
            assert await check(settings, ["SBER_TQBR"], out) == expected
            assert token not in out.getvalue()
            assert ("token accepted" if expected == 0 else "token rejected") in out.getvalue()
    finally:
        await sim.stop()


def test_endpoint_without_a_token_is_an_error_not_the_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to check the built-in simulator instead and print "all instruments found"."""
    assert run_main(tmp_path, "127.0.0.1:49999", "SBER_TQBR") == 2
    captured = capsys.readouterr()
    assert "DEMO" not in captured.out and "all instruments found" not in captured.out
    assert captured.err.startswith("monitor: error: no token for 127.0.0.1:49999: set TINKOFF_TOKEN_STRING")


def test_sandbox_without_its_token_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", GOOD)  # the production token is not the sandbox's
    assert cli.main(["check", "--sandbox", "--log-file", str(tmp_path / "log.jsonl")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "monitor: error: --sandbox needs a sandbox token: SANDBOX_TOKEN_STRING is not set "
        "(or use --token-file FILE)\n"
    )


@pytest.mark.parametrize(
    ("mode", "hint"),
    [
        (
            "SANDBOX",
            "--endpoint sandbox-invest-public-api.tinkoff.ru:443 (or sandbox-invest-public-api.tbank.ru:443)",
        ),
        ("LIVE API", "--endpoint invest-public-api.tinkoff.ru:443 (or .tbank.ru:443)"),
    ],
)
async def test_dns_advice_names_the_hosts_of_the_mode(
    monkeypatch: pytest.MonkeyPatch, mode: str, hint: str
) -> None:
    async def no_such_host(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # No real DNS in tests: the resolver answers "no such name" for any host.
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_host)
    out = io.StringIO()
    config = FeedConfig(endpoint="sandbox-invest-public-api.tbank.ru:443", token=GOOD, mode=mode)
    assert await check_endpoint(config, ["SBER_TQBR"], out) == 1
    assert f"  try: the other {'sandbox ' if mode == 'SANDBOX' else ''}host name: {hint}\n" in out.getvalue()
    assert ("sandbox-" in out.getvalue().split("try:", 1)[1]) is (mode == "SANDBOX")


@pytest.mark.timeout(60)
def test_check_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`monitor check | head -1`: the reader is gone before the first line (a BrokenPipeError before)."""
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE, as after `head -1` exits
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and "TOKEN" not in k}
    environment.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"))
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "monitor", "check"], stdout=write, stderr=subprocess.PIPE, text=True,
            env=environment, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write)
    assert run.returncode == 0
    assert run.stderr == ""


async def test_check_called_directly_never_swaps_an_endpoint_for_the_demo() -> None:
    settings = Settings(connection={"endpoint": "127.0.0.1:49999", "plaintext": True})  # type: ignore[arg-type]
    out = io.StringIO()
    with pytest.raises(SettingsError, match=r"^no token for 127\.0\.0\.1:49999"):
        await check(settings, ["SBER_TQBR"], out)
    assert out.getvalue() == ""
