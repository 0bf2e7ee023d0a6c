"""Watchlist saves run off the event loop, land in order, and a failure is shown and loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message

from monitor.ui import watchfile
from monitor.ui.messages import WatchlistSaved, WatchlistSaveFailed
from monitor.market import Interval
from monitor.watchlist import Change, Saved, SetLayout, load_watchlists, save_changes
from tests.ui.uikit import SIZE, AppFactory, saved, wait_for


def sber(path: Path) -> str:
    """The interval of the first entry (SBER) in the file."""
    return load_watchlists(path).active_list.entries[0].interval.code


async def test_a_slow_save_does_not_block_the_screen_and_saves_land_in_order(
    make: AppFactory, watchlist_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    written: list[str] = []

    def slow_save(path: Path, changes: Sequence[Change], **kwargs: Any) -> Saved:
        release.wait(10)  # a disk that takes its time to fsync
        result = save_changes(path, changes, **kwargs)
        written.append(sber(path))
        return result

    monkeypatch.setattr(watchfile, "save_changes", slow_save)
    messages: list[Message] = []
    app = make()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.press("i")  # SBER 2m: its save starts and hangs
        await wait_for(pilot, lambda: not app.saver.idle)
        await pilot.press("i", "i", "j")  # 3m, then 5m: queued behind it
        assert app.model.selected == 1  # keys are handled while the disk is busy
        assert not app.saver.idle
        release.set()
        await saved(pilot, app)
        assert written == ["2m", "5m"]  # queued changes go into the next write together, in order
        assert sber(watchlist_file) == "5m"
        await pilot.pause()
        assert sum(isinstance(m, WatchlistSaved) for m in messages) == len(written)


async def test_a_failed_save_is_shown_and_the_next_save_writes_the_edit(
    make: AppFactory, watchlist_file: Path
) -> None:
    messages: list[Message] = []
    app = make()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        watchlist_file.unlink()
        watchlist_file.mkdir()  # nothing can replace a directory: the save fails
        await pilot.press("i")
        await saved(pilot, app)
        await pilot.pause()
        [failed] = [m for m in messages if isinstance(m, WatchlistSaveFailed)]
        assert failed.path == watchlist_file
        assert any(f"Not saved to {watchlist_file}" in str(n.message) for n in app._notifications)
        assert "Your edit is kept" in failed.error
        assert app.model.current.entries[0].interval is Interval.M2  # the edit is kept

        watchlist_file.rmdir()
        await pilot.press("s")
        await saved(pilot, app)
        assert sber(watchlist_file) == "2m"
        await pilot.pause()
        assert any(f"Saved {watchlist_file}" in str(n.message) for n in app._notifications)


async def test_quitting_waits_for_a_pending_save(make: AppFactory, watchlist_file: Path) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i", "q")
        await pilot.pause()
    assert app.return_code == 0
    assert sber(watchlist_file) == "2m"


async def test_the_template_is_copied_before_the_first_save(tmp_path: Path) -> None:
    template = tmp_path / "template.toml"
    template.write_text('# shipped comment\n[[lists]]\nname = "main"\ninstruments = ["SBER_TQBR"]\n')
    target = tmp_path / "user" / "watchlist.toml"
    lists = load_watchlists(template)
    save_changes(target, [SetLayout("main", "1")], fallback=lists, template=template)
    assert target.read_text() == template.read_text().replace('name = "main"\n', 'name = "main"\nlayout = "1"\n')
    assert template.read_text().startswith("# shipped comment")  # the template is not touched
