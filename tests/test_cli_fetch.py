"""What `monitor chart` and `monitor history` share: the history source and the fetch errors' lines."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import grpc
import pytest
from grpc import aio

from monitor.cli.common import fetch_or_exit_status, history_source
from monitor.clock import SystemClock
from monitor.exits import EXIT_FAILED, EXIT_USAGE
from monitor.feed import FeedConfig, HistoryError, InstrumentError
from monitor.market import Interval
from monitor.sim import SimServer
from monitor.store import CandleStore

SBER = "SBER_TQBR"


def config_for(address: str, token: str = "t.unused") -> FeedConfig:
    return FeedConfig(endpoint=address, token=token, plaintext=True, mode="DEMO")


def closed_port() -> str:
    """A loopback address nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def returns(value: object) -> object:
    return value


async def raises(exc: Exception) -> object:
    raise exc


async def test_a_successful_fetch_gives_its_value_and_says_nothing() -> None:
    err = io.StringIO()
    assert await fetch_or_exit_status(returns(("SBER", [])), err, unknown_id_status=EXIT_USAGE) == (
        "SBER",
        [],
    )
    assert err.getvalue() == ""


@pytest.mark.parametrize("status", [EXIT_FAILED, EXIT_USAGE])
async def test_an_unknown_id_is_one_line_and_the_status_the_command_chose(status: int) -> None:
    err = io.StringIO()
    failing = raises(InstrumentError("NOPE_TQBR", "instrument not found"))
    assert await fetch_or_exit_status(failing, err, unknown_id_status=status) == status
    assert err.getvalue() == "monitor: error: NOPE_TQBR: instrument not found\n"


async def test_a_refused_get_candles_is_one_line_and_fails() -> None:
    err = io.StringIO()
    failing = raises(HistoryError(grpc.StatusCode.INVALID_ARGUMENT, "30014", "bad period"))
    assert await fetch_or_exit_status(failing, err, unknown_id_status=EXIT_USAGE) == EXIT_FAILED
    assert err.getvalue() == "monitor: error: GetCandles failed: INVALID_ARGUMENT: 30014 bad period\n"


@pytest.mark.parametrize(
    ("details", "line"),
    [("down", "monitor: error: UNAVAILABLE: down\n"), ("", "monitor: error: UNAVAILABLE: request failed\n")],
)
async def test_an_unreachable_api_is_one_line_and_fails(details: str, line: str) -> None:
    err = io.StringIO()
    failing = raises(aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, aio.Metadata(), aio.Metadata(), details))
    assert await fetch_or_exit_status(failing, err, unknown_id_status=EXIT_USAGE) == EXIT_FAILED
    assert err.getvalue() == line


async def test_any_other_error_is_left_to_main() -> None:
    err = io.StringIO()
    with pytest.raises(ZeroDivisionError):
        await fetch_or_exit_status(raises(ZeroDivisionError("bug")), err, unknown_id_status=EXIT_USAGE)
    assert err.getvalue() == ""


async def test_the_source_resolves_the_id_and_fetches_its_history(sim: SimServer) -> None:
    async with history_source(config_for(sim.address, sim.token), SBER, clock=sim.clock) as (
        instrument,
        client,
    ):
        assert (instrument.ticker, instrument.class_code) == ("SBER", "TQBR")
        candles = await client.recent(instrument.uid, Interval.H1, 3)
    assert len(candles) == 3 and all(Interval.H1.start_of(c.time) == c.time for c in candles)


async def test_the_source_saves_the_instrument_and_then_needs_no_call(sim: SimServer, tmp_path: Path) -> None:
    store = CandleStore.open(tmp_path / "store.sqlite3")
    try:
        online = config_for(sim.address, sim.token)
        async with history_source(online, SBER, clock=sim.clock, cache=store) as (asked, _):
            pass
        store.flush()
        offline = config_for(closed_port())  # nothing listens here: only the store can answer
        async with history_source(offline, SBER, clock=SystemClock(), cache=store) as (stored, _):
            assert stored == asked
    finally:
        store.close()


async def test_an_unknown_id_leaves_the_source_with_instrument_error(sim: SimServer) -> None:
    with pytest.raises(InstrumentError, match="NOPE_TQBR"):
        async with history_source(config_for(sim.address, sim.token), "NOPE_TQBR", clock=sim.clock):
            pytest.fail("an unknown id yields no source")
