"""The parent side of the simulator child's control channel (`simproc --control`)."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from typing import TYPE_CHECKING, Any

from tests.perf.procs import Child

if TYPE_CHECKING:
    from monitor.sim import StreamEnd


class SimControl:
    """The parent side of `simproc --control`: the simulator's fault switches, across processes.

    Each command is one JSON line on the child's stdin and is answered by one `ACK {json}` line
    with the same id; a refused-connections outage that is over prints `RESTORED {json}`. Waits
    poll the child's line queue from the event loop (no thread, nothing blocks the loop), with a
    wall deadline.
    """

    def __init__(self, child: Child, timeout: float = 15.0) -> None:
        self.child = child
        self.timeout = timeout
        self._ids = 0
        self._outages = 0
        self._restored = 0

    async def command(self, op: str, **args: Any) -> dict[str, Any]:
        """Sends one command and returns its acknowledgement (RuntimeError when it failed)."""
        self._ids += 1
        ident = self._ids
        self.child.send(json.dumps({"id": ident, "op": op, **args}))
        while True:
            line = await self._line(f"ACK of {op}")
            if line.startswith("ACK "):
                reply: dict[str, Any] = json.loads(line[4:])
                if reply.get("id") == ident:
                    if "error" in reply:
                        raise RuntimeError(f"simulator refused {op}: {reply['error']}")
                    return reply

    async def _line(self, what: str) -> str:
        """The next stdout line of the child; counts RESTORED lines on the way."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self.child.lines.get_nowait()
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"no {what} within {self.timeout:g}s; stderr: {self.child.stderr_tail()}"
                    ) from None
                await asyncio.sleep(0.005)
                continue
            if line is None:
                raise RuntimeError(f"simulator exited ({self.child.proc.wait()}): {self.child.stderr_tail()}")
            if line.startswith("RESTORED"):
                self._restored += 1
            return line

    async def symbols(self) -> list[str]:
        """The catalogue's TICKER_CLASSCODE ids, in the simulator's order."""
        return list((await self.command("catalogue"))["symbols"])

    async def stats(self) -> dict[str, int]:
        """The simulator's call counters (unary_calls, stream_calls, streams_opened, ...)."""
        reply = await self.command("stats")
        return {k: int(v) for k, v in reply.items() if k not in ("id", "op")}

    async def end_streams(self, kind: StreamEnd) -> int:
        return int((await self.command("end_streams", kind=kind.name))["ended"])

    async def stall(self, on: bool = True) -> None:
        await self.command("stall", on=on)

    async def refuse_streams(self, on: bool = True) -> None:
        await self.command("refuse_streams", on=on)

    async def refuse_connections(self, seconds: float) -> None:
        """Returns once the child's server has stopped; `wait_restored` waits for it to be back."""
        self._outages += 1
        await self.command("refuse_connections", seconds=seconds)

    async def wait_restored(self) -> None:
        while self._restored < self._outages:
            await self._line("RESTORED")
