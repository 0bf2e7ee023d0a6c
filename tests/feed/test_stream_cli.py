"""`monitor stream`: the outbox and printer rules, the real feed against the sim, and Ctrl+C."""

from __future__ import annotations

import asyncio
import calendar
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.printer import HOLD_LIVE_S, Outbox, Printer
from monitor.cli.stream import stream
from monitor.clock import ScaledClock
from monitor.feed import ConnectionState, Feed, FeedConfig, Health, HealthEvent, WatchState, WatchView
from monitor.market import Candle, CandleBook, Instrument, Interval, Origin, SeriesKey, WatchKey
from monitor.sim import SimConfig, SimServer

SBER = Instrument("uid-sber", "BBG004730N88", "SBER", "TQBR", "Sberbank", 10, Decimal("0.01"))
KEY = SeriesKey(SBER.uid, Interval.M1)
T = 1_795_600_000 - 1_795_600_000 % 60


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def candle(minute: int, close: float = 100.0, *, closed: bool, origin: Origin = Origin.STREAM) -> Candle:
    return Candle(T + 60 * minute, 100.0, 101.0, 99.0, close, 10 + minute, closed, origin)


class StubFeed:
    """Just enough of a feed for the printer and `stream()`: a book, instruments, listeners."""

    def __init__(self, instruments: Sequence[tuple[str, Instrument]] = (("SBER_TQBR", SBER),)) -> None:
        self.book = CandleBook()
        self.health = Health()
        self._instruments = dict(instruments)
        self.candle_listeners: list[Callable[[SeriesKey, Candle], None]] = []
        self.event_listeners: list[Callable[[HealthEvent], None]] = []
        self.watched: list[WatchKey] = []
        self.closed = asyncio.Event()

    def instrument(self, watch_id: str) -> Instrument | None:
        return self._instruments.get(watch_id)

    def watch(self, keys: Sequence[WatchKey]) -> None:
        self.watched = list(keys)

    def view(self, key: WatchKey) -> WatchView:
        return WatchView(key, WatchState.RESOLVING)

    def add_candle_listener(self, cb: Callable[[SeriesKey, Candle], None]) -> None:
        self.candle_listeners.append(cb)

    def add_event_listener(self, cb: Callable[[HealthEvent], None]) -> None:
        self.event_listeners.append(cb)

    def add_listener(self, listener: Callable[[], None]) -> None: ...

    def reconnect_now(self, token: str | None = None) -> None: ...

    def load_older(self, key: WatchKey) -> None: ...

    async def search(self, query: str) -> list[Instrument]:
        return []

    async def run(self) -> None:
        await self.closed.wait()

    async def close(self) -> None:
        self.closed.set()

    def push(self, key: SeriesKey, value: Candle) -> None:
        """What the real feed does: upsert into the book, then call the listeners."""
        if self.book.upsert(key, value):
            for cb in self.candle_listeners:
                cb(key, value)


async def drain(outbox: Outbox, printer: Printer) -> list[dict[str, Any]]:
    outbox.close()
    records: list[dict[str, Any]] = []
    while (batch := await outbox.next_batch()) is not None:
        lines, _ = printer.render(batch)
        records.extend(json.loads(line) for line in lines)
    records.extend(json.loads(line) for line in printer.flush())
    return records


def json_printer(feed: StubFeed, *, loaded: bool = True) -> Printer:
    """A JSON printer; `loaded`: KEY's history is in, so its live lines print as they come."""
    if loaded:
        feed.book.series(KEY).mark_history_loaded()
    return Printer(feed, ["SBER_TQBR"], as_json=True)


# --- outbox and printer ------------------------------------------------------------------------


async def test_forming_updates_conflate_to_the_newest() -> None:
    outbox = Outbox()
    for close in range(1000):
        outbox.put_candle(KEY, candle(0, close, closed=False))
    assert len(outbox) == 1
    [record] = await drain(outbox, json_printer(StubFeed()))
    assert record["close"] == 999 and record["closed"] is False


async def test_closed_candles_are_never_dropped_or_reordered() -> None:
    outbox = Outbox()
    for minute in range(5000):
        outbox.put_candle(KEY, candle(minute, closed=False))
        outbox.put_candle(KEY, candle(minute, 100.5, closed=True))
    records = await drain(outbox, json_printer(StubFeed()))
    closed = [r for r in records if r["closed"]]
    assert [r["volume"] for r in closed] == [10 + m for m in range(5000)]
    assert not [r for r in records if not r["closed"]]  # each forming one was superseded in the queue


async def test_a_later_period_never_closes_the_previous_one_in_the_printer() -> None:
    """Closing is the feed's word (the server's): a later period printed does not print the
    earlier one closed; the feed's closed candle is printed once, a re-send from history is not."""
    feed = StubFeed()
    outbox = Outbox()
    feed.add_candle_listener(outbox.put_candle)
    feed.push(KEY, candle(0, 100.1, closed=False))
    feed.push(KEY, candle(0, 100.2, closed=False))
    feed.push(KEY, candle(1, 100.3, closed=False))
    records = await drain(outbox, json_printer(feed))
    assert [(r["time"], r["close"], r["closed"]) for r in records] == [(iso(T + 60), 100.3, False)]
    printer = json_printer(feed)
    lines, _ = printer.render([(KEY, candle(0, 100.2, closed=True))])
    again, _ = printer.render([(KEY, candle(0, 100.2, closed=True, origin=Origin.BACKFILL))])
    assert [(json.loads(line)["close"], json.loads(line)["source"]) for line in lines] == [(100.2, "stream")]
    assert again == []  # an identical re-send from history is not printed again


async def test_a_late_forming_update_of_a_replaced_period_is_dropped() -> None:
    outbox = Outbox()
    outbox.put_candle(KEY, candle(0, 100.1, closed=False))
    outbox.put_candle(KEY, candle(1, 100.3, closed=False))
    outbox.put_candle(KEY, candle(0, 100.9, closed=False))  # arrives late: minute 1 has begun
    outbox.put_candle(KEY, candle(1, 100.4, closed=False))
    records = await drain(outbox, json_printer(StubFeed()))
    assert [(r["time"], r["close"], r["closed"]) for r in records] == [(iso(T + 60), 100.4, False)]


async def test_history_is_printed_before_the_live_lines_that_came_first() -> None:
    feed = StubFeed()
    printer = json_printer(feed, loaded=False)
    live = candle(5, 100.5, closed=False)
    lines, _ = printer.render([(KEY, live)])
    assert lines == []  # held: the series' history is not in yet
    history = [candle(m, closed=True, origin=Origin.BACKFILL) for m in range(3)]
    for c in history:
        feed.push(KEY, c)
    feed.book.series(KEY).mark_history_loaded()
    lines, _ = printer.render([(KEY, c) for c in history])
    times = [json.loads(line)["time"] for line in lines]
    assert times == [iso(T), iso(T + 60), iso(T + 120), iso(T + 300)]
    lines, _ = printer.render([(KEY, candle(5, 100.6, closed=False))])
    assert len(lines) == 1  # flowing from now on


def test_live_lines_wait_for_history_queued_after_them_in_the_same_batch() -> None:
    """The history came in while the first live candle waited in the queue: history first."""
    feed = StubFeed()
    printer = json_printer(feed)  # the series says its history is in
    history = [candle(m, closed=True, origin=Origin.BACKFILL) for m in range(2)]
    lines, _ = printer.render([(KEY, candle(5, 100.5, closed=False)), *((KEY, c) for c in history)])
    assert [json.loads(line)["time"] for line in lines] == [iso(T), iso(T + 60), iso(T + 300)]


def test_live_lines_are_not_held_for_ever_when_history_never_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    printer = json_printer(StubFeed(), loaded=False)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])  # no event loop runs in this test
    assert printer.render([(KEY, candle(0, closed=False))])[0] == []
    now[0] += HOLD_LIVE_S
    lines, _ = printer.render([(KEY, candle(0, 100.1, closed=False))])
    assert [json.loads(line)["close"] for line in lines] == [100.0, 100.1]  # held first, in order


def test_printer_prints_corrections_and_skips_identical_resends() -> None:
    printer = json_printer(StubFeed())
    first = candle(0, 100.0, closed=True, origin=Origin.STREAM)
    resend = candle(0, 100.0, closed=True, origin=Origin.BACKFILL)
    fixed = candle(0, 100.7, closed=True, origin=Origin.BACKFILL)
    late_forming = candle(0, 99.0, closed=False)
    lines, _ = printer.render([(KEY, first)])
    more, _ = printer.render([(KEY, resend), (KEY, late_forming), (KEY, fixed), (KEY, fixed)])
    records = [json.loads(line) for line in lines + more]
    assert [(r["close"], r.get("correction", False), r["source"]) for r in records] == [
        (100.0, False, "stream"),
        (100.7, True, "backfill"),
    ]


def test_json_record_fields() -> None:
    printer = Printer(StubFeed(), ["SBER_TQBR"], as_json=True)
    record = json.loads(printer.candle_line(KEY, candle(2, 100.25, closed=True, origin=Origin.BACKFILL)))
    assert record == {
        "instrument": "SBER_TQBR",
        "uid": SBER.uid,
        "ticker": "SBER",
        "interval": "1m",
        "time": iso(T + 120),
        "open": 100.0,
        "high": 101.0,
        "low": 99.0,
        "close": 100.25,
        "volume": 12,
        "closed": True,
        "source": "backfill",
    }


def test_human_and_health_lines() -> None:
    printer = Printer(StubFeed(), ["SBER_TQBR"], as_json=False)
    line = printer.candle_line(KEY, candle(0, 100.25, closed=False))
    assert line.endswith("SBER 1m O 100 H 101 L 99 C 100.25 V 10 forming stream\n")
    event = HealthEvent(T, ConnectionState.RECONNECTING, "stream ended: UNAVAILABLE", "80005", 2)
    health = printer.health_line(event, T + 1.6)
    assert health.startswith("monitor: ")
    expected = ["RECONNECTING", 'reason="stream', "ended:", 'UNAVAILABLE"', "code=80005", "attempt=2"]
    assert health.split()[2:] == [*expected, "next_retry_in=1.6s"]


def test_lag_lines_name_lagging_and_the_lag() -> None:
    """Entering LAGGING and catching up are health lines on stderr, with the lag."""
    printer = Printer(StubFeed(), ["SBER_TQBR"], as_json=False)
    health = Health()
    health.transition(ConnectionState.LIVE, T)
    entered, left = health.note_lag(0, 14.25, T + 1), health.note_lag(0, 0.5, T + 9)
    assert entered is not None and left is not None
    assert printer.health_line(entered, None).split()[2:] == [
        "LAGGING",
        'reason="data',
        "14s",
        "behind",
        "on",
        "stream",
        '0"',
        "lag=14.2s",
    ]
    assert printer.health_line(left, None).split()[2:] == [
        "LIVE",
        'reason="caught',
        "up",
        "on",
        "stream",
        '0"',
        "lag=0.5s",
    ]


# --- stream() ----------------------------------------------------------------------------------


class BlockedPipe(io.StringIO):
    """A stdout whose reader is stuck until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)


async def test_a_stuck_stdout_never_blocks_the_receive_loop() -> None:
    feed = StubFeed()
    out, err = BlockedPipe(), io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(
        stream(feed, ["SBER_TQBR"], Interval.M1, as_json=True, stop=stop, out=out, err=err)
    )
    await wait_until(lambda: bool(feed.candle_listeners))
    assert feed.watched == [WatchKey("SBER_TQBR", Interval.M1)]
    started = time.monotonic()
    for minute in range(3000):
        if minute:
            feed.push(KEY, candle(minute - 1, closed=True))  # the feed closes it as minute begins
        feed.push(KEY, candle(minute, closed=False))
        if minute % 100 == 0:
            await asyncio.sleep(0)  # the writer gets its turn and blocks in its thread
    assert time.monotonic() - started < 2.0
    out.release.set()
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    closed_times = [r["time"] for r in records if r["closed"]]
    assert len(closed_times) == 2999 == len(set(closed_times))  # every closed minute, once
    assert feed.closed.is_set()


async def test_auth_failure_ends_the_stream_with_an_error() -> None:
    feed = StubFeed()
    err = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(
        stream(feed, ["SBER_TQBR"], Interval.M1, as_json=True, stop=stop, out=io.StringIO(), err=err)
    )
    await wait_until(lambda: bool(feed.event_listeners))
    feed.health.next_retry_at = None
    for cb in feed.event_listeners:
        cb(HealthEvent(T, ConnectionState.AUTH_FAILED, "token rejected", "40003"))
    assert await asyncio.wait_for(task, 5) == 1
    assert "AUTH_FAILED" in err.getvalue() and "code=40003" in err.getvalue()


async def test_a_feed_that_gives_up_fails_the_command() -> None:
    feed = StubFeed()
    err = io.StringIO()
    feed.health.last_reason = "unexpected error: boom"
    feed.closed.set()  # run() returns at once, as the real feed does after an unexpected error
    code = await asyncio.wait_for(
        stream(
            feed, ["SBER_TQBR"], Interval.M1, as_json=True, stop=asyncio.Event(), out=io.StringIO(), err=err
        ),
        5,
    )
    assert code == 1
    assert "the feed stopped: unexpected error: boom" in err.getvalue()


class Sink(io.StringIO):
    """A stdout that keeps its lines for the test to wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def write(self, text: str) -> int:
        self.records.extend(json.loads(line) for line in text.splitlines())
        return super().write(text)


async def test_stream_with_the_real_feed_against_the_sim() -> None:
    clock = ScaledClock(speed=600)  # a minute candle closes every 100 ms
    sim = SimServer(SimConfig(host="127.0.0.1", port=0, seed=2, speed=600), clock=clock)
    await sim.start()
    try:
        config = FeedConfig(
            endpoint=sim.address, token=sim.token, plaintext=True, history_candles=5, mode="DEMO"
        )
        feed = Feed(config=config, clock=clock)
        out, err, stop = Sink(), io.StringIO(), asyncio.Event()
        ids = ["SBER_TQBR", "BBG004730RP0"]  # GAZP by FIGI: printed with the id as given
        task = asyncio.create_task(stream(feed, ids, Interval.M1, as_json=True, stop=stop, out=out, err=err))

        def live_closed(instrument: str) -> int:
            return sum(
                1
                for r in out.records
                if r["instrument"] == instrument and r["closed"] and r["source"] == "stream"
            )

        await wait_until(lambda: live_closed("SBER_TQBR") >= 4 and live_closed("BBG004730RP0") >= 4, 20)
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        await sim.stop()
    assert "LIVE" in err.getvalue()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in out.records:
        by_id.setdefault(record["instrument"], []).append(record)
    assert {r["ticker"] for r in by_id["BBG004730RP0"]} == {"GAZP"}
    for instrument, records in by_id.items():
        assert records[0]["source"] == "backfill", instrument  # the history first, in time order
        firsts = [r["time"] for r in records if r["closed"] and not r.get("correction")]
        assert len(firsts) == len(set(firsts)), instrument
        assert sum(1 for r in records if r["source"] == "backfill") >= 3  # the initial history (5)
        uid = records[0]["uid"]
        epochs = sorted(calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")) for t in firsts)
        truth = [c.time for c in sim.history(uid, Interval.M1, epochs[0], epochs[-1] + 60)]
        assert epochs == truth, instrument


# --- the command, as a user runs it ------------------------------------------------------------


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home, config and state are `home`, with no token."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_STATE_HOME": str(home)}
    for name in ("TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING", "MONITOR_CONFIG_FILE"):
        env.pop(name, None)
    return env


def run_until_ctrl_c(
    args: Sequence[str], env: dict[str, str], done: Callable[[str], bool], timeout: float
) -> tuple[list[str], str, int]:
    """Runs `python -m monitor ARGS` until `done(line)` says a line was the last one wanted (or the
    output ends, or `timeout` passes), then Ctrl+C: (the stdout lines, stderr, exit status)."""
    command = [sys.executable, "-m", "monitor", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if done(line):
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return lines, stderr, proc.returncode


def test_ctrl_c_ends_the_demo_cleanly(tmp_path: Path) -> None:
    closed = 0

    def second_closed(line: str) -> bool:
        nonlocal closed
        closed += " closed stream" in line
        return closed >= 2

    args = ["stream", "SBER_TQBR", "--sim-speed", "600"]
    lines, stderr, status = run_until_ctrl_c(args, user_env(tmp_path), second_closed, timeout=20)
    assert closed >= 2, lines[-5:]
    assert status == 130  # interrupted, as every command reports Ctrl+C
    assert "Traceback" not in stderr
    assert "built-in simulator" in stderr and " LIVE" in stderr
    assert " SBER 1m O " in lines[-1]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG_FILE", raising=False)
