"""q, Ctrl+C and SIGTERM end the real `monitor` in tmux within a second, in every phase of the feed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.sim import SimConfig, SimServer
from monitor.sim.unary import MarketDataService
from tests.e2e.tmuxkit import (
    WATCHLIST,
    Tmux,
    exit_status,
    free_port,
    isolated_env,
    require_tmux,
    start_sim,
    stop,
    tmux_session,
    wait_process_gone,
    write_watchlist,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-shutdown-token"
DEADLINE_S = 40.0
EXIT_BOUND_S = 1.0
"""From the signal (or key) being delivered to the process being gone."""
EXPECTED_STATUS = {"q": 0, "ctrl-c": 130, "sigterm": 0}
"""Ctrl+C is an interrupt: 130, as `monitor` documents; q and SIGTERM are a normal end."""


class ThreadedSim:
    """A SimServer on its own loop in a thread, whose GetCandles never answers (a backfill in flight)."""

    def __init__(self, port: int) -> None:
        self.config = SimConfig(host="127.0.0.1", port=port, tokens=(TOKEN,))
        self.history_requested = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with SimServer(self.config):
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedSim:
        self._thread.start()
        assert self._ready.wait(10), "the threaded simulator did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def hanging_history(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Makes the simulator's GetCandles hang; the event is set once the first request arrived."""
    requested = threading.Event()

    async def hang(self: MarketDataService, request: object, context: object) -> object:
        requested.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(MarketDataService, "GetCandles", hang)
    yield requested


def status(screen: str) -> str:
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def phase(name: str, tmp_path: Path, hanging: threading.Event) -> Iterator[tuple[list[str], object]]:
    """Yields the monitor's connection flags and how to reach the phase once the app runs."""
    port = free_port()
    flags = ["--endpoint", f"127.0.0.1:{port}", "--plaintext"]
    if name == "connect":
        yield flags, None  # nothing listens on the port: the feed connects, fails and backs off
    elif name == "backoff":
        env = isolated_env(tmp_path, TOKEN)
        sim = start_sim(["--port", str(port), "--token", TOKEN], env, time.monotonic() + 15)
        try:
            yield flags, sim
        finally:
            stop(sim)
    else:
        with ThreadedSim(port):
            yield flags, hanging


def reach(name: str, tmux: Tmux, handle: object, deadline: float) -> None:
    """Waits until the app is in the phase (and, for backoff, makes the outage)."""
    if name == "connect":
        tmux.wait(lambda s: "CONNECTING" in status(s), deadline, "the feed connecting")
    elif name == "backoff":
        tmux.wait(lambda s: status(s).startswith(" ● LIVE"), deadline, "LIVE")
        assert isinstance(handle, subprocess.Popen)
        handle.kill()
        handle.wait(5)
        tmux.wait(lambda s: "retry in" in status(s), deadline, "the reconnect backoff")
    else:
        assert isinstance(handle, threading.Event)
        tmux.wait(lambda s: " ● " in status(s), deadline, "the app")
        assert handle.wait(max(0.0, deadline - time.monotonic())), "no history request reached the sim"
        assert "━" not in tmux.screen()


def interrupt(how: str, tmux: Tmux, pid: int) -> None:
    if how == "q":
        tmux.send("q")
    elif how == "ctrl-c":
        tmux.send("C-c")
    else:
        os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("how", ["q", "ctrl-c", "sigterm"])
@pytest.mark.parametrize("name", ["connect", "backoff", "backfill"])
def test_exits_quickly_and_cleanly(
    tmp_path: Path, name: str, how: str, hanging_history: threading.Event
) -> None:
    require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    watchlist = write_watchlist(tmp_path)
    env = isolated_env(tmp_path, TOKEN)
    with phase(name, tmp_path, hanging_history) as (flags, handle), tmux_session(env) as tmux:
        tmux.start([*flags, "--watchlist", str(watchlist), "--log-file", str(tmp_path / "monitor.log")])
        reach(name, tmux, handle, deadline)
        pid = tmux.monitor_pid()
        assert pid is not None
        sent = time.monotonic()
        interrupt(how, tmux, pid)
        gone = wait_gone(pid, sent + 10)
        assert gone is not None, f"still running 10 s after {how}:\n{tmux.screen()}"
        # A generous behavioural bound; the time includes tmux delivering the key.
        assert gone - sent < EXIT_BOUND_S, f"{how} during {name} took {gone - sent:.2f} s"
        screen = tmux.wait(lambda s: exit_status(s) is not None, deadline, "the exit mark")
        assert exit_status(screen) == EXPECTED_STATUS[how]
        assert not tmux.alternate_screen(), "the terminal was left in the alternate screen"
        history = tmux.history()
        assert "Traceback" not in history and "Error" not in history, history
    assert watchlist.read_text(encoding="utf-8") == WATCHLIST


def wait_gone(pid: int, deadline: float) -> float | None:
    """Monotonic time at which `pid` was seen gone (polled every 5 ms), None at `deadline`."""
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.monotonic()
        time.sleep(0.005)
    return None


def test_a_closed_terminal_ends_the_monitor(tmp_path: Path) -> None:
    """When its terminal goes away (the tmux server is killed: SIGHUP), monitor exits promptly."""
    require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    watchlist = write_watchlist(tmp_path)
    env = isolated_env(tmp_path, None)  # demo mode: the built-in simulator, live candles
    with tmux_session(env) as tmux:
        tmux.start(["--watchlist", str(watchlist), "--log-file", str(tmp_path / "monitor.log")])
        tmux.wait(lambda s: "LIVE" in s, deadline, "LIVE")
        pid = tmux.monitor_pid()
        assert pid is not None
        tmux.kill()
        gone = wait_process_gone(pid, time.monotonic() + 10)
        if gone is None:
            os.kill(pid, signal.SIGKILL)
        assert gone is not None, "monitor kept running after its terminal was closed"
    assert watchlist.read_text(encoding="utf-8") == WATCHLIST
