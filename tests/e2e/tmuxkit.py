"""Drives the real `monitor` command inside a private tmux server: start, read the screen, send keys."""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

EXIT_MARK = "__MONITOR_EXIT__="
"""Echoed by the pane's shell after the command ends, with its exit status."""
COLUMNS, LINES = 140, 40
POLL_S = 0.03


def require_tmux() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(tmp_path: Path, token: str | None) -> dict[str, str]:
    """The environment of a child: its own config and state dirs, the token (or none: demo)."""
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm-256color",
    }
    for name in ("MONITOR_CONFIG_FILE", "TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING", "TMUX", "TMUX_PANE"):
        env.pop(name, None)
    if token is not None:
        env["TINKOFF_TOKEN_STRING"] = token
    return env


class Tmux:
    """One tmux server (private socket) with one session running `python -m monitor ARGS`."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.name = f"mon-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = dict(env)

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.name, *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, monitor_args: list[str]) -> None:
        command = shlex.join([sys.executable, "-m", "monitor", *monitor_args])
        # The shell stays after the command so the test can read the exit status and the restored screen.
        script = f'{command}; echo "{EXIT_MARK}$?"; exec sleep 600'
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", str(COLUMNS), "-y", str(LINES), "sh", "-c", script
        )  # fmt: skip

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, timeout=10)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def history(self) -> str:
        """The whole pane including its scrollback (tracebacks may scroll off)."""
        return self._tmux("capture-pane", "-p", "-S", "-", "-t", self.name)

    def status_line(self) -> str:
        lines = [line for line in self.screen().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def alternate_screen(self) -> bool:
        """True while a full-screen program owns the terminal (Textual uses the alternate screen)."""
        return self._tmux("display-message", "-p", "-t", self.name, "#{alternate_on}").strip() == "1"

    def monitor_pid(self) -> int | None:
        """The pid of `python -m monitor` (the child of the pane's shell), None once it has ended."""
        shell = int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        try:
            children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        except OSError:
            return None
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"monitor" in cmdline:
                return int(child)
        return None

    def wait(self, condition: Callable[[str], bool], deadline: float, what: str) -> str:
        """Polls the screen until `condition(screen)` holds; fails with the screen at `deadline`."""
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(POLL_S)


@contextlib.contextmanager
def tmux_session(env: Mapping[str, str]) -> Iterator[Tmux]:
    """A Tmux whose server is always killed."""
    tmux = Tmux(env)
    try:
        yield tmux
    finally:
        tmux.kill()


def wait_process_gone(pid: int, deadline: float) -> float | None:
    """Monotonic time at which `pid` was seen gone (polled), or None at `deadline`."""
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.monotonic()
        time.sleep(0.005)
    return None


WATCHLIST = """\
# e2e watchlist (this comment must survive)
active = "main"

[[lists]]
name = "main"
layout = "1"
interval = "1m"
instruments = ["SBER_TQBR", "GAZP_TQBR"]
"""


def write_watchlist(tmp_path: Path) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_text(WATCHLIST, encoding="utf-8")
    return path


def start_sim(args: list[str], env: Mapping[str, str], deadline: float) -> subprocess.Popen[str]:
    """Starts `python -m monitor sim ARGS` and waits until it listens (the caller kills it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(env),
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    while b"listening on" not in seen:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the simulator did not start: {seen!r}")
        # os.read on the raw fd: the text wrapper's buffering would hide a line select already saw.
        if select.select([fd], [], [], POLL_S)[0]:
            seen += os.read(fd, 4096)
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)


def exit_status(screen: str) -> int | None:
    """The status the pane's shell echoed after the command ended, None while it runs."""
    for line in screen.splitlines():
        if line.startswith(EXIT_MARK):
            return int(line[len(EXIT_MARK) :].strip())
    return None
