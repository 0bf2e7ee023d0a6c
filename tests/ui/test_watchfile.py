"""Watchlist saves run off the event loop, land in order, and a failure is shown and loses nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.message import Message

from monitor.ui import watchfile
from monitor.ui.messages import WatchlistSaved, WatchlistSaveFailed
from monitor.watchlist import Watchlists, load_watchlists, save_watchlists
from tests.ui.uikit import SIZE, AppFactory, saved, wait_for


async def test_a_slow_save_does_not_block_the_screen_and_saves_land_in_order(
    make: AppFactory, watchlist_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    written: list[str] = []

    def slow_save(path: Path, watchlists: Watchlists) -> None:
        release.wait(10)  # a disk that takes its time to fsync
        save_watchlists(path, watchlists)
        written.append(watchlists.active_list.layout)

    monkeypatch.setattr(watchfile, "save_watchlists", slow_save)
    messages: list[Message] = []
    app = make()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.press("l")  # 3x3: its save starts and hangs
        await wait_for(pilot, lambda: not app.saver.idle)
        await pilot.press("l", "l", "j")  # 1, then 1x2: queued behind it
        assert app.model.selected == 1  # keys are handled while the disk is busy
        assert not app.saver.idle
        release.set()
        await saved(pilot, app)
        assert written[0] == "3x3" and written[-1] == "1x2"  # queued snapshots coalesce, newest last
        assert load_watchlists(watchlist_file).active_list.layout == "1x2"
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
        await pilot.press("l")
        await saved(pilot, app)
        await pilot.pause()
        [failed] = [m for m in messages if isinstance(m, WatchlistSaveFailed)]
        assert failed.path == watchlist_file
        assert any(f"Not saved to {watchlist_file}" in str(n.message) for n in app._notifications)
        assert app.model.current.layout == "3x3"  # the edit is kept

        watchlist_file.rmdir()
        await pilot.press("s")
        await saved(pilot, app)
        assert load_watchlists(watchlist_file).active_list.layout == "3x3"
        await pilot.pause()
        assert any(f"Saved {watchlist_file}" in str(n.message) for n in app._notifications)


async def test_quitting_waits_for_a_pending_save(make: AppFactory, watchlist_file: Path) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "q")
        await pilot.pause()
    assert app.return_code == 0
    assert load_watchlists(watchlist_file).active_list.layout == "3x3"


async def test_the_template_is_copied_before_the_first_save(tmp_path: Path) -> None:
    template = tmp_path / "template.toml"
    template.write_text('# shipped comment\n[[lists]]\nname = "main"\ninstruments = ["SBER_TQBR"]\n')
    target = tmp_path / "user" / "watchlist.toml"
    lists = load_watchlists(template)
    watchfile.write_watchlists(target, lists, template)
    assert "# shipped comment" in target.read_text()
