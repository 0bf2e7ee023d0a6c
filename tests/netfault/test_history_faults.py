"""`monitor history` through a TCP fault proxy: a lagging or slow link, a reset or a refusal
mid-export, a silent stall, run in-process through `monitor.cli.main` as tests/store/test_cli.py
does (here in a worker thread: the simulator serves on the test's loop, main runs its own).

What holds: over a lagging link the output equals the simulator's history exactly (no gap, no
duplicate at a page seam); over a refused or reset link the command exits 1 with one line on
stderr naming the reason and no traceback, and `-o FILE` leaves the existing file as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.clock import ScaledClock
from monitor.exits import EXIT_FAILED, EXIT_OK
from monitor.feed import history as history_module
from monitor.feed.history import plan_chunks
from monitor.market import Interval
from monitor.sim import SimServer
from tests.feed.feedkit import sim_config, wait_for
from tests.netfault.proxy import FaultProxy
from tests.store.test_cli import uncached_logging
from tests.store.test_history import expected_csv

__all__ = ["uncached_logging"]  # test_cli's: main()'s logging undone after each test, uncached
pytestmark = pytest.mark.usefixtures("clean_env")

SPEED = 120.0
DAY = 86_400
SLOW_LINK = 60_000
"""Bytes per second each way: a page of 1m candles (~100 kB) takes under two wall seconds."""
PAGES = 3
ORIGINAL = "time,open,high,low,close,volume,source\nthe user's earlier export\n"


@dataclass
class Export:
    """A `monitor history` run against the simulator behind `proxy`, writing to `output`."""

    sim: SimServer
    proxy: FaultProxy
    tmp: Path
    start: int
    end: int

    @property
    def output(self) -> Path:
        return self.tmp / "out" / "sber.csv"

    def argv(self, start: int | None = None, end: int | None = None) -> list[str]:
        return [
            "history", "SBER_TQBR", "--from", _iso(start or self.start), "--to", _iso(end or self.end),
            "--endpoint", self.proxy.address, "--plaintext", "--sim-speed", str(int(SPEED)),
            "--store", str(self.tmp / "store.sqlite3"), "--log-file", str(self.tmp / "monitor.log"),
            "-o", str(self.output),
        ]  # fmt: skip

    def expected(self) -> str:
        return expected_csv(self.sim, Interval.M1, self.start, self.end)

    async def cache_the_instrument(self) -> None:
        """A first run over a good link (one hour, not the export's span): the store then holds the
        instrument, so the next run sends GetCandles first (no look-up that waits for the link)."""
        assert await asyncio.to_thread(main, self.argv(self.start - 3_600, self.start)) == EXIT_OK


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Export]:
    clock = ScaledClock(speed=SPEED)
    sim = SimServer(replace(sim_config(), speed=SPEED), clock=clock)
    await sim.start()
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", sim.token)
    (tmp_path / "out").mkdir()
    # Three whole days of 1m candles ending two days back: closed and settled, PAGES GetCandles pages.
    end = Interval.M1.start_of(int(clock.now()) - 2 * DAY)
    start = end - PAGES * DAY
    assert len(plan_chunks(Interval.M1, start, end)) == PAGES
    try:
        with FaultProxy(sim.address) as proxy:
            yield Export(sim, proxy, tmp_path, start, end)
    finally:
        await sim.stop()


async def mid_export(run: Export, task: asyncio.Future[int]) -> None:
    """Waits until a page past the first is on its way through the slow link (the run goes on)."""
    await wait_for(lambda: run.proxy.bytes_down > 150_000, 30, "the second page on its way")
    assert not task.done()


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("monitor: error: "), lines
    return lines[0]


@pytest.mark.parametrize("fault", ["latency", "slow-link"], ids=["latency-0.2s", "bandwidth-60kBps"])
async def test_over_a_lagging_link_the_output_equals_the_simulators_history(
    export: Export, fault: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if fault == "latency":
        export.proxy.set_latency(0.2, jitter=0.05)
    else:
        export.proxy.set_bandwidth(SLOW_LINK)
    assert await asyncio.to_thread(main, export.argv()) == EXIT_OK
    text = export.output.read_text()
    assert text == export.expected()  # every candle once: no gap, no duplicate at a page seam
    assert len(text.splitlines()) == 1 + PAGES * 1_440
    assert "Traceback" not in capsys.readouterr().err


async def test_a_reset_mid_export_is_sent_again_and_the_output_is_whole(export: Export) -> None:
    export.proxy.set_bandwidth(SLOW_LINK)
    task = asyncio.ensure_future(asyncio.to_thread(main, export.argv()))
    await mid_export(export, task)
    connections = export.proxy.connections
    export.proxy.reset()
    export.proxy.restore()
    assert await task == EXIT_OK
    assert export.output.read_text() == export.expected()
    assert export.proxy.connections > connections  # the rest came over a new connection


@pytest.mark.parametrize(
    ("counted", "reason"),
    [(False, "connection refused"), (True, "the connection was reset")],
    ids=["econnrefused", "accept-and-rst"],
)
async def test_a_link_refused_mid_export_is_one_line_naming_it_and_the_file_is_kept(
    export: Export, counted: bool, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    export.output.write_text(ORIGINAL)
    export.proxy.set_bandwidth(SLOW_LINK)
    task = asyncio.ensure_future(asyncio.to_thread(main, export.argv()))
    await mid_export(export, task)
    export.proxy.refuse(counted=counted)
    export.proxy.reset()
    assert await task == EXIT_FAILED
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("monitor: error: GetCandles failed: UNAVAILABLE: ") and reason in line, line
    assert "ipv4:" not in line  # the user's words, not gRPC's
    assert export.output.read_text() == ORIGINAL  # not clobbered, not half-written
    assert [p.name for p in export.output.parent.iterdir()] == ["sber.csv"]  # no temp file left


async def test_a_link_refused_from_the_start_is_one_line_naming_it(
    export: Export, capsys: pytest.CaptureFixture[str]
) -> None:
    await export.cache_the_instrument()
    export.output.write_text(ORIGINAL)
    capsys.readouterr()
    export.proxy.refuse(counted=False)
    assert await asyncio.to_thread(main, export.argv()) == EXIT_FAILED
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("monitor: error: GetCandles failed: UNAVAILABLE: connection refused"), line
    assert export.output.read_text() == ORIGINAL


async def test_a_stalled_link_ends_at_the_call_deadline_with_one_line(
    export: Export, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blackholed link answers nothing: each GetCandles ends at CALL_DEADLINE_S, sent once more
    (STALL_RETRIES), then the command says so instead of waiting on."""
    await export.cache_the_instrument()
    export.output.write_text(ORIGINAL)
    capsys.readouterr()
    deadline_s = 0.5
    monkeypatch.setattr(history_module, "CALL_DEADLINE_S", deadline_s)
    export.proxy.blackhole()
    assert await asyncio.to_thread(main, export.argv()) == EXIT_FAILED
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        f"monitor: error: GetCandles failed: DEADLINE_EXCEEDED: no answer within {deadline_s:g} s: "
        "the link is stalled"
    )
    assert export.output.read_text() == ORIGINAL


async def test_a_link_refused_before_the_instrument_is_known_names_the_refusal(
    export: Export, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.feed import instruments

    monkeypatch.setattr(instruments, "UNARY_TIMEOUT_S", 0.5)  # its 10 s, short for the test
    export.proxy.refuse(counted=False)
    assert await asyncio.to_thread(main, export.argv()) == EXIT_FAILED
    line = one_error_line(capsys.readouterr().err)
    assert "connection refused" in line, line
