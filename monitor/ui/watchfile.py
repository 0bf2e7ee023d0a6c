"""The watchlist file, off the event loop: saves changes one batch at a time, in order; reloads on change."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import structlog
from textual.message import Message

from monitor.ui.messages import WatchlistReloaded, WatchlistReloadFailed, WatchlistSaved, WatchlistSaveFailed
from monitor.watchlist import (
    Change,
    WatchlistBroken,
    WatchlistError,
    WatchlistReadOnly,
    Watchlists,
    load_watchlists,
    save_changes,
)

log = structlog.get_logger(__name__)

KEPT_BROKEN = "Your edit is kept: it goes into the file once the file loads again."
KEPT_READ_ONLY = "Your edit is kept: make the file writable, then save (s)."
KEPT = "Your edit is kept: the next save retries it."


class WatchlistSaver:
    """Queues changes to save; `run` (a worker) makes them in the file in a thread, in order.

    Changes queued while a write is in progress go into the next write together. Changes whose
    save failed (the file does not load, is read-only, the disk is full) are kept and go into the
    next save: any edit, s, or the file changing on disk (`retry`).
    """

    def __init__(self, path: Path, template_path: Path | None, report: Callable[[Message], object]) -> None:
        self.path = path
        self.template_path = template_path
        self._report = report
        self._queue: list[tuple[tuple[Change, ...], Watchlists, str]] = []
        self._in_flight: tuple[Change, ...] = ()
        self._unsaved: tuple[Change, ...] = ()
        self._unsaved_notices: tuple[str, ...] = ()
        self._failure = ""
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def idle(self) -> bool:
        """Whether every requested save has been written (or has failed)."""
        return self._idle.is_set()

    @property
    def unsaved(self) -> tuple[Change, ...]:
        """Changes whose save failed, kept for the next one."""
        return self._unsaved

    @property
    def pending(self) -> tuple[Change, ...]:
        """Every change the file does not hold yet: kept after a failure, being written, queued."""
        queued = tuple(change for changes, _, _ in self._queue for change in changes)
        return self._unsaved + self._in_flight + queued

    def request(self, changes: Sequence[Change], file: Watchlists, notice: str = "") -> None:
        """Queues `changes` (`file`: what the file should hold after them); `notice` is shown once saved."""
        self._queue.append((tuple(changes), file, notice))
        self._idle.clear()
        self._wake.set()

    def retry(self, file: Watchlists) -> None:
        """Tries the kept changes again (the file changed on disk); `file` as in `request`."""
        if self._unsaved:
            self.request((), file)

    def unsaved_report(self) -> str | None:
        """What quitting now loses (edits whose save was refused, and why), or None."""
        if not self._unsaved:
            return None
        count = len(self._unsaved)
        return f"{count} watchlist edit{'s' * (count != 1)} not saved to {self.path}: {self._failure}"

    async def drain(self) -> None:
        """Waits until every requested save has been written (or has failed)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Writes queued changes until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                continue
            batch, self._queue = self._queue, []
            changes = self._unsaved + tuple(change for item, _, _ in batch for change in item)
            notices = self._unsaved_notices + tuple(notice for _, _, notice in batch if notice)
            self._in_flight, self._unsaved, self._unsaved_notices = changes, (), ()
            await self._save(changes, notices, batch[-1][1])
            self._in_flight = ()
            if not self._queue:
                self._idle.set()

    async def _save(self, changes: tuple[Change, ...], notices: tuple[str, ...], file: Watchlists) -> None:
        try:
            saved = await asyncio.to_thread(
                save_changes, self.path, changes, fallback=file, template=self.template_path
            )
        except (OSError, WatchlistError) as exc:
            kept = KEPT_BROKEN if isinstance(exc, WatchlistBroken) else KEPT
            kept = KEPT_READ_ONLY if isinstance(exc, WatchlistReadOnly) else kept
            reason = f"{exc.strerror} ({exc.filename})" if isinstance(exc, OSError) and exc.strerror else exc
            self._unsaved, self._unsaved_notices, self._failure = changes, notices, str(reason)
            self._report(WatchlistSaveFailed(self.path, f"{reason}\n{kept}" if changes else str(reason)))
        except Exception as exc:
            log.exception("watchlist_save_failed")
            self._unsaved, self._unsaved_notices, self._failure = (
                changes,
                notices,
                f"{type(exc).__name__}: {exc}",
            )
            self._report(WatchlistSaveFailed(self.path, f"{self._failure}\n{KEPT}"))
        else:
            dropped = tuple(f"Not applied (the file changed): {why}" for why in saved.dropped)
            self._report(WatchlistSaved(self.path, saved.watchlists, notices + dropped))


async def watch_changes(path: Path, on_change: Callable[[], Awaitable[None]]) -> None:
    """Calls `on_change` after each change of the file at `path` (debounced), until cancelled."""
    from watchfiles import awatch

    # A symlink's target may live elsewhere (a dotfiles repo): its directory is watched too.
    target = Path(os.path.realpath(path))
    folders = [folder for folder in dict.fromkeys([path.parent, target.parent]) if folder.is_dir()]
    if not folders:
        return
    names = {path.name, target.name}
    # Watch the directories: our own saves (and editors) replace the file, which ends a file watch.
    async for _changes in awatch(
        *folders, watch_filter=lambda _change, changed: Path(changed).name in names, debounce=200
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
    changed = loaded != running or bool(saver.unsaved)
    return WatchlistReloaded(loaded) if changed and saver.idle else None
