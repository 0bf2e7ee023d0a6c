"""The desktop notification: `alerts.command` run per fire, without a shell, bounded by a timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

log = structlog.get_logger()

Report = Callable[[str], None]


def command_argv(template: Sequence[str], title: str, body: str) -> list[str]:
    """Each argv item with `{title}` and `{body}` filled in (plain replace: other braces stay)."""
    return [item.replace("{title}", title).replace("{body}", body) for item in template]


class AlertCommand:
    """Runs the command as a task per fire (the event loop never waits for it).

    A command that cannot start, exits non-zero or outlives `timeout_s` (it is killed) is
    reported once through `report` and never run again this session: a broken notifier must not
    flood the screen with one error per alert.
    """

    def __init__(self, template: Sequence[str], timeout_s: float, report: Report) -> None:
        self.template = list(template)
        self.timeout_s = timeout_s
        self._report = report
        self.broken: str | None = None
        """Why the command no longer runs (None: it does)."""
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, title: str, body: str) -> None:
        """Starts the command for one fire (call on the event loop); does nothing once broken."""
        if self.broken is not None:
            return
        task = asyncio.get_running_loop().create_task(self._run(command_argv(self.template, title, body)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Waits for the commands still running (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Kills the commands still running (the monitor quits) and waits until they are reaped."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, argv: list[str]) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a terminal's Ctrl+C is for the monitor, not the notifier
            )
        except OSError as exc:
            self._fail(f"cannot run {argv[0]!r}: {exc.strerror or exc}")
            return
        try:
            _out, err = await asyncio.wait_for(process.communicate(), self.timeout_s)
        except TimeoutError:
            _kill(process)
            await process.wait()
            self._fail(f"{argv[0]!r} did not finish within {self.timeout_s:g} s and was stopped")
            return
        except asyncio.CancelledError:
            _kill(process)  # the monitor quits: no notifier outlives it
            with contextlib.suppress(asyncio.CancelledError):
                await process.wait()  # reaped, so its transport closes while the loop still runs
            raise
        if process.returncode != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()
            why = f": {detail[-1][:200]}" if detail else ""
            self._fail(f"{argv[0]!r} exited with status {process.returncode}{why}")

    def _fail(self, reason: str) -> None:
        if self.broken is not None:
            return  # several fires in flight when it broke: one report
        self.broken = reason
        log.warning("alert_command_failed", reason=reason)
        self._report(f"Alert command off: {reason}")


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
