"""`monitor chart`: sizes, the title, and the command against a scripted server and the simulator."""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
from grpc import aio

from monitor.cli import chart as chart_cmd
from monitor.market import Candle, Instrument, Interval
from monitor.pb import instruments_pb2, instruments_pb2_grpc, marketdata_pb2, marketdata_pb2_grpc
from monitor.ui.render import ChartStyle
from monitor.ui.times import EXCHANGE_TZ
from monitor.wire import seconds_to_timestamp, to_quotation

HOUR = 3600
SBER = Instrument("uid-sber", "BBG004730N88", "SBER", "TQBR", "Sberbank", 10, Decimal("0.01"))


pytestmark = pytest.mark.usefixtures("clean_env")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="monitor")
    chart_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["chart", *argv])


class NotATty(io.StringIO):
    def isatty(self) -> bool:
        return False


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_size_defaults_to_100x30_when_not_a_tty() -> None:
    assert chart_cmd.chart_size(None, None, NotATty()) == (100, 30)
    assert chart_cmd.chart_size(70, None, NotATty()) == (70, 30)
    assert chart_cmd.chart_size(5, 2, NotATty()) == (20, 5)  # clamped to the smallest sane chart


def test_size_follows_the_terminal_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "132")
    monkeypatch.setenv("LINES", "41")
    assert chart_cmd.chart_size(None, None, Tty()) == (132, 40)
    assert chart_cmd.chart_size(90, 25, Tty()) == (90, 25)


def test_parser_reads_interval_size_and_count() -> None:
    args = parse("SBER_TQBR", "--interval", "1d", "--width", "80", "--height", "20", "--count", "50")
    assert (args.id, args.interval, args.width, args.height, args.count) == (
        "SBER_TQBR",
        Interval.D1,
        80,
        20,
        50,
    )
    assert parse("SBER_TQBR").interval is Interval.H1
    with pytest.raises(SystemExit):
        parse("SBER_TQBR", "--width", "0")


def test_chart_text_has_the_title_candles_and_moscow_labels() -> None:
    start = 1_795_600_800  # 2026-11-25 07:00 UTC = 10:00 MSK
    candles = [Candle(start + i * HOUR, 250 + i % 3, 252 + i % 3, 249, 251, 10, True) for i in range(30)]
    text = chart_cmd.chart_text(SBER, candles, Interval.H1, EXCHANGE_TZ, 100, 30, ChartStyle())
    assert "SBER (SBER_TQBR) · 1h · Europe/Moscow (MSK)" in text
    assert "█" in text
    assert "10:00" in text
    assert "250.00" in text or "251.00" in text


def test_chart_text_without_candles_says_so() -> None:
    text = chart_cmd.chart_text(SBER, [], Interval.H1, EXCHANGE_TZ, 100, 30, ChartStyle())
    assert text.splitlines()[0].startswith("SBER (SBER_TQBR) · 1h")
    assert "no closed candles" in text


class _Instruments(instruments_pb2_grpc.InstrumentsServiceServicer):
    async def GetInstrumentBy(self, request: Any, context: Any) -> instruments_pb2.InstrumentResponse:
        if (request.id, request.class_code) != ("SBER", "TQBR"):
            await context.abort(grpc.StatusCode.NOT_FOUND, "50002 instrument not found")
        return instruments_pb2.InstrumentResponse(
            instrument=instruments_pb2.Instrument(
                uid="uid-sber",
                figi="BBG004730N88",
                ticker="SBER",
                class_code="TQBR",
                name="Sberbank",
                lot=10,
                min_price_increment=to_quotation("0.01"),
            )
        )


class _MarketData(marketdata_pb2_grpc.MarketDataServiceServicer):
    """Forty closed hourly candles ending at the current hour."""

    def __init__(self) -> None:
        now = int(time.time()) // HOUR * HOUR
        self.times = [now - (40 - i) * HOUR for i in range(40)]

    async def GetCandles(self, request: Any, context: Any) -> marketdata_pb2.GetCandlesResponse:
        start, end = getattr(request, "from").seconds, request.to.seconds
        return marketdata_pb2.GetCandlesResponse(
            candles=[
                marketdata_pb2.HistoricCandle(
                    open=to_quotation(300 + i % 4),
                    high=to_quotation(303 + i % 4),
                    low=to_quotation(299 + i % 4),
                    close=to_quotation(301 + i % 5),
                    volume=100 + i,
                    time=seconds_to_timestamp(at),
                    is_complete=True,
                )
                for i, at in enumerate(self.times)
                if start <= at < end
            ]
        )


@pytest.fixture
async def server() -> AsyncIterator[str]:
    srv = aio.server()
    # Only the two RPCs the command calls are scripted; the stubs mark the rest abstract.
    instruments_pb2_grpc.add_InstrumentsServiceServicer_to_server(_Instruments(), srv)  # type: ignore[abstract]
    marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server(_MarketData(), srv)  # type: ignore[abstract]
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    yield f"127.0.0.1:{port}"
    await srv.stop(None)


async def test_prints_a_chart_titled_with_the_ticker(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t-test")
    out, err = NotATty(), NotATty()
    args = parse("SBER_TQBR", "--endpoint", server, "--plaintext", "--width", "90", "--height", "24")
    assert await chart_cmd.chart(args, out, err) == 0
    lines = out.getvalue().splitlines()
    assert "SBER (SBER_TQBR) · 1h ·" in out.getvalue()
    assert len(lines) == 24 and max(len(line) for line in lines) <= 90
    assert "█" in out.getvalue() and "\x1b[" not in out.getvalue()  # plain text when not a TTY
    assert err.getvalue() == ""


async def test_unknown_instrument_exits_1_with_one_line(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t-test")
    out, err = NotATty(), NotATty()
    assert await chart_cmd.chart(parse("NOPE_TQBR", "--endpoint", server, "--plaintext"), out, err) == 1
    assert err.getvalue() == "monitor: error: NOPE_TQBR: instrument not found\n"
    assert out.getvalue() == ""


async def test_malformed_id_exits_1(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t-test")
    err = NotATty()
    assert await chart_cmd.chart(parse("nonsense", "--endpoint", server, "--plaintext"), NotATty(), err) == 1
    assert err.getvalue().startswith("monitor: error: nonsense:") and err.getvalue().count("\n") == 1


def _simulator() -> None:
    sim = pytest.importorskip("monitor.sim")
    if not hasattr(sim, "SimServer"):
        pytest.skip("monitor.sim.SimServer is not built yet")


async def test_charts_the_simulator_without_a_token() -> None:
    _simulator()
    out, err = NotATty(), NotATty()
    assert await chart_cmd.chart(parse("SBER_TQBR", "--width", "100", "--height", "30"), out, err) == 0
    assert "SBER (SBER_TQBR) · 1h · Europe/Moscow (MSK)" in out.getvalue()
    assert "built-in simulator" in err.getvalue()


async def test_simulator_unknown_instrument_exits_1() -> None:
    _simulator()
    err = NotATty()
    assert await chart_cmd.chart(parse("NOPE_TQBR"), NotATty(), err) == 1
    assert "NOPE_TQBR" in err.getvalue() and "Traceback" not in err.getvalue()
