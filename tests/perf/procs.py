"""Child processes for the benchmarks: start with a deadline, read their ready line, always kill them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from tests.perf.harness import Result

ROOT = Path(__file__).resolve().parents[2]
SIM_TOKEN = "sim-token"
DAY = 86_400


class PerfClock:
    """Sim time shared by separate processes: `origin + (wall - origin) * speed + offset`.

    A pure function of wall time and three numbers, so a simulator and a client started from the
    same flags agree on the time (ScaledClock cannot shift time at speed 1, which the closed-market
    run needs to land on a Sunday).
    """

    def __init__(self, speed: float = 1.0, origin: float = 0.0, offset: float = 0.0) -> None:
        self.speed, self.origin, self.offset = speed, origin, offset

    def now(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def wall(self, at: float) -> float:
        """The wall time at which this clock reads `at`."""
        return self.origin + (at - self.offset - self.origin) / self.speed


def quiet_logs() -> None:
    """Drops the feed's info logs: they go to stdout by default and would bury the figures."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def midnight_utc() -> float:
    """The simulator's default origin: 00:00 UTC today."""
    now = time.time()
    return now - now % DAY


def sunday_noon_offset() -> float:
    """Seconds to add to wall time to land on the most recent Sunday, 12:00 UTC (market closed)."""
    now = time.time()
    day = int(now) // DAY
    # (day + 3) % 7 is 0 on Mondays (1970-01-01 was a Thursday), so Sunday is 6.
    sunday = day - ((day + 3) % 7 - 6) % 7
    return float(sunday * DAY + 12 * 3600) - now


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: repo on the path, quiet gRPC, no API token."""
    env = {k: v for k, v in os.environ.items() if k not in ("TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["GRPC_VERBOSITY"] = "ERROR"
    env.update(extra)
    return env


class Child:
    """A Python child process whose stdout lines are read on a thread (so reads can time out).

    Its stdin is /dev/null, or a pipe that `send` writes lines to when `stdin_pipe` is set.
    """

    def __init__(
        self, args: Sequence[str], env: dict[str, str] | None = None, *, stdin_pipe: bool = False
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env or child_env(),
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def expect(self, prefix: str, timeout: float) -> str:
        """The next stdout line starting with `prefix` (other lines are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {prefix!r} line within {timeout:g}s; stderr: {self.stderr_tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(
                    f"child exited ({self.proc.wait()}) before {prefix!r}: {self.stderr_tail()}"
                )
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def send(self, line: str) -> None:
        """Writes one line to the child's stdin (a Child made with `stdin_pipe=True`)."""
        if self.proc.stdin is None:
            raise RuntimeError("this child's stdin is not a pipe")
        self.proc.stdin.write(line.rstrip("\n") + "\n")
        self.proc.stdin.flush()

    def stderr_tail(self) -> str:
        return "".join(self._stderr[-15:])

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; the whole process group (it made no others)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    """A list to put children in; every one is stopped on the way out, whatever happened."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def start_sim(
    started: list[Child],
    *,
    port: int = 0,
    speed: float = 1.0,
    origin: float | None = None,
    offset: float = 0.0,
    sessions: bool = False,
    stamp: bool = False,
    firehose: int = 0,
    lifetime: float = 600.0,
    cpus: set[int] | None = None,
    seed: int | None = None,
    token: str | None = None,
    control: bool = False,
) -> tuple[Child, int]:
    """Starts `tests/perf/simproc.py` and returns it with its port (on `cpus` only, when given).

    `seed` and `token` default to the simulator's (seed 1, SIM_TOKEN); with `control` the child
    reads fault commands on its stdin (drive it with `SimControl`).
    """
    args = ["-m", "tests.perf.simproc", "--port", str(port), "--speed", str(speed), "--offset", str(offset)]
    args += ["--origin", str(midnight_utc() if origin is None else origin), "--lifetime", str(lifetime)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if token is not None:
        args += ["--token", token]
    if control:
        args.append("--control")
    if sessions:
        args.append("--sessions")
    if stamp:
        args.append("--stamp")
    if firehose:
        args += ["--firehose", str(firehose)]
    if cpus:
        args += ["--cpus", ",".join(map(str, sorted(cpus)))]
    child = Child(args, stdin_pipe=control)
    started.append(child)
    port = int(child.expect("PORT", 60))
    return child, port


def split_cpus() -> tuple[set[int], set[int]] | None:
    """Two disjoint CPU sets, (simulator, client), or None when this process may use only one CPU.

    A real server runs on another machine. A simulator on the client's cores takes CPU from it in
    proportion to how much the client itself uses, so a throughput ratio between two clients
    would measure that contention too. Pinning gives each side its own cores.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    half = len(allowed) // 2
    return set(allowed[:half]), set(allowed[half:])


def results_in_child(module: str, quick: bool, timeout: float) -> list[Result]:
    """Runs `module`'s measurement in a fresh interpreter: grpc.aio binds to the first event loop of a
    process, so a second asyncio.run() in the runner's process would log errors from a dead loop."""
    with children() as started:
        child = Child(["-m", module, "--child", *(["--quick"] if quick else [])])
        started.append(child)
        data = json.loads(child.expect("RESULTS", timeout))
    return [Result(**item) for item in data]


def child_main(measure: Callable[[bool], list[Result]]) -> None:
    """The child side of `results_in_child`."""
    results = measure("--quick" in sys.argv)
    print("RESULTS " + json.dumps([asdict(r) for r in results]), flush=True)
