"""The candle store of a running monitor (`monitor`, `monitor stream`): which one, or none, and closing it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from monitor.cli.store import open_store
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.store import CandleStore

log = structlog.get_logger("monitor.cli")

STORE_CLOSE_TIMEOUT_S = 3.0
"""Wall seconds quitting waits for the store's last batch: a few thousand rows take milliseconds,
so only a stalled disk reaches it, and then the rows lost are re-fetched on the next start."""
SIM_SPEED_OFF = (
    "store off: --sim-speed runs a simulated clock ahead of today, and its candles must not mix "
    "with real-time ones (give --store PATH to keep them in a store of their own)"
)


@dataclass
class RunStore:
    """The store a run uses (None: runs without), and what to tell the user about it, once."""

    store: CandleStore | None
    notices: list[str] = field(default_factory=list)
    """One-line notices ("store off: <reason>", a corrupt file moved aside), without the prefix."""
    off: str | None = None
    """Why the run has no store when the user did not ask for that (the status bar's notice)."""

    def status(self) -> str | None:
        """What the status bar says about the store: why it is off, or why it stopped saving."""
        if self.off is not None:
            return self.off
        reason = self.store.unavailable if self.store is not None else None
        return None if reason is None else f"store off: {reason}"


def open_run_store(settings: Settings, args: argparse.Namespace, *, demo: bool) -> RunStore:
    """The store for a run of `monitor` or `monitor stream` with these flags; never raises.

    --no-store (or store.enabled = false) runs without one, silently: it was asked for. With
    --sim-speed the client's clock runs ahead of today, so the candles are from a simulated future
    and would be served later to a real-time run as history: the store is off unless --store PATH
    names one explicitly. A store that cannot be used (read-only directory, newer schema, full
    disk) is reported in `notices` and the run goes on without it. The caller says the notices
    (stderr, or the log and the status bar).
    """
    path = getattr(args, "store", None)
    if getattr(args, "no_store", None) or (path is None and not settings.store.enabled):
        return RunStore(None)
    if getattr(args, "sim_speed", None) is not None and path is None:
        # Said once (stderr, or the log) but not kept on the status bar: the user chose the fast
        # clock, and DEMO already says the data is the simulator's.
        return RunStore(None, [SIM_SPEED_OFF])
    store = open_store(settings, path, demo=demo)
    notices = list(store.notices)
    if store.unavailable is not None:
        store.close()
        off = f"store off: {store.unavailable}"  # the store logged why
        return RunStore(None, [*notices, off], off=off)
    return RunStore(store, notices)


async def close_run_store(store: CandleStore | None) -> None:
    """Closes the store (its queued rows committed) after the feed closed; waits at most
    STORE_CLOSE_TIMEOUT_S. The close runs on a daemon thread: unlike the loop's executor, nothing
    waits for it at exit, so a stalled disk cannot hang quitting."""
    if store is None:
        return
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def close() -> None:
        try:
            store.close()
        except Exception as exc:  # the rows are lost, not the exit
            log.warning("store_close_failed", error=str(exc))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed first (the timeout passed)
                loop.call_soon_threadsafe(done.set)

    threading.Thread(target=close, name="monitor-store-close", daemon=True).start()
    try:
        await asyncio.wait_for(done.wait(), STORE_CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("store_close_timeout", timeout=STORE_CLOSE_TIMEOUT_S)
