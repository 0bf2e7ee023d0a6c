"""The watchlist file, off the event loop: saves one at a time and in order, reloads on change."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from textual.message import Message

from monitor.ui.messages import WatchlistReloaded, WatchlistReloadFailed, WatchlistSaved, WatchlistSaveFailed
from monitor.watchlist import WatchlistError, Watchlists, load_watchlists, save_watchlists

log = structlog.get_logger(__name__)


def write_watchlists(path: Path, watchlists: Watchlists, template_path: Path | None = None) -> None:
    """Writes the watchlists (comments kept, atomic, fsynced); blocking, so run it in a thread.

    Raises:
        OSError, WatchlistError: the file could not be written.
    """
    if not path.exists() and template_path is not None and template_path.is_file():
        # Start the user's copy from the shipped file so its comments come along.
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template_path, path)
    save_watchlists(path, watchlists)


class WatchlistSaver:
    """Queues snapshots to save; `run` (a worker) writes them in a thread, newest last.

    Snapshots queued while a write is in progress are coalesced: each one holds the whole file,
    so only the newest needs writing, and its message carries the notices of all of them.
    """

    def __init__(self, path: Path, template_path: Path | None, report: Callable[[Message], object]) -> None:
        self.path = path
        self.template_path = template_path
        self._report = report
        self._queue: list[tuple[Watchlists, str]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def idle(self) -> bool:
        """Whether every requested save has been written (or has failed)."""
        return self._idle.is_set()

    def request(self, watchlists: Watchlists, notice: str = "") -> None:
        """Queues `watchlists` to be saved; `notice` is shown once it is."""
        self._queue.append((watchlists, notice))
        self._idle.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Waits until every requested save has been written (or has failed)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Writes queued snapshots until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                continue
            batch, self._queue = self._queue, []
            watchlists = batch[-1][0]
            notices = tuple(notice for _, notice in batch if notice)
            try:
                await asyncio.to_thread(write_watchlists, self.path, watchlists, self.template_path)
            except (OSError, WatchlistError) as exc:
                self._report(WatchlistSaveFailed(self.path, str(exc)))
            except Exception as exc:
                log.exception("watchlist_save_failed")
                self._report(WatchlistSaveFailed(self.path, f"{type(exc).__name__}: {exc}"))
            else:
                self._report(WatchlistSaved(self.path, watchlists, notices))
            if not self._queue:
                self._idle.set()


async def watch_changes(path: Path, on_change: Callable[[], Awaitable[None]]) -> None:
    """Calls `on_change` after each change of the file at `path` (debounced), until cancelled."""
    from watchfiles import awatch

    if not path.parent.is_dir():
        return
    # Watch the directory: our own saves (and editors) replace the file, which ends a file watch.
    async for _changes in awatch(
        path.parent, watch_filter=lambda _change, changed: Path(changed).name == path.name, debounce=200
    ):
        await on_change()


async def reload(path: Path, running: Watchlists, saver: WatchlistSaver) -> Message | None:
    """Loads the file in a thread: the message to post, or None when it holds what runs (our own save).

    While a save of ours is on its way the file is about to be replaced: that change comes back
    once written, so the file is only read when no save is pending.
    """
    if not saver.idle:
        return None
    try:
        loaded = await asyncio.to_thread(load_watchlists, path)
    except WatchlistError as exc:
        return WatchlistReloadFailed(str(exc))
    return WatchlistReloaded(loaded) if loaded != running and saver.idle else None
