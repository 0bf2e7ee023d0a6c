"""Watchlist saves run off the event loop, land in order, and a failure is shown and loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.screen import ModalScreen

from monitor.market import Interval, WatchKey
from monitor.ui import watchfile
from monitor.ui.messages import WatchlistSaved, WatchlistSaveFailed
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
    assert target.read_text() == template.read_text().replace(
        'name = "main"\n', 'name = "main"\nlayout = "1"\n'
    )
    assert template.read_text().startswith("# shipped comment")  # the template is not touched


SBER_LINE = '    "SBER_TQBR",  # Sberbank\n'
HALF_TYPED = '    "YDEX_TQBR",\n    "VTBR_TQ  # half-typed, my new note\n'
COMPLETED = '    "YDEX_TQBR",\n    "VTBR_TQBR",  # my new note\n'


async def test_i_changes_one_value_and_keeps_the_entrys_comment(
    make: AppFactory, watchlist_file: Path
) -> None:
    """The issue's case: `i` on a commented entry rewrote it and dropped `# Sberbank`."""
    before = watchlist_file.read_text()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await saved(pilot, app)
        after_i = before.replace(SBER_LINE, '    { id = "SBER_TQBR", interval = "2m" },  # Sberbank\n')
        assert watchlist_file.read_text() == after_i
        await pilot.press("I")  # back to 1m: the value changes, the entry stays as written now
        await saved(pilot, app)
        assert watchlist_file.read_text() == after_i.replace('"2m"', '"1m"')


EDITS_ON_A_BROKEN_FILE: dict[str, tuple[tuple[str, ...], Callable[[str], str]]] = {
    "i": (
        ("i",),
        lambda text: text.replace(SBER_LINE, '    { id = "SBER_TQBR", interval = "2m" },  # Sberbank\n'),
    ),
    "x": (("x",), lambda text: text.replace(SBER_LINE, "")),
    "a": (("a", *"gmkn", "enter"), lambda text: text.replace(COMPLETED, f'{COMPLETED}    "GMKN_TQBR",\n')),
    "l s": (("l", "s"), lambda text: text.replace('layout = "2x2"', 'layout = "3x3"')),
}


@pytest.mark.parametrize("edit", list(EDITS_ON_A_BROKEN_FILE))
async def test_a_broken_file_is_never_overwritten_and_the_edit_lands_once_it_loads(
    make: AppFactory, watchlist_file: Path, edit: str
) -> None:
    """The user is mid-edit in an editor: a UI edit is refused, said, kept, and merged afterwards."""
    keys, merged = EDITS_ON_A_BROKEN_FILE[edit]
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        broken = watchlist_file.read_text().replace('    "YDEX_TQBR",\n', HALF_TYPED)
        watchlist_file.write_text(broken)
        await pilot.press(*keys)
        await wait_for(pilot, lambda: not isinstance(app.screen, ModalScreen))
        await saved(pilot, app)
        await pilot.pause()
        assert watchlist_file.read_text() == broken  # the half-typed edit and every comment stay
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert any("not overwritten while it does not load" in e and "Your edit is kept" in e for e in errors)
        assert not any(str(n.message).startswith(("Saved", "Added", "Removed")) for n in app._notifications)

        fixed = broken.replace(HALF_TYPED, COMPLETED)
        watchlist_file.write_text(fixed)  # the user finishes the edit: the hot reload sees it
        await app.reload_watchlists()
        await wait_for(pilot, lambda: WatchKey("VTBR_TQBR") in app.model.current.entries)
        await saved(pilot, app)
        assert watchlist_file.read_text() == merged(fixed)  # the UI's change merged into theirs
        assert load_watchlists(watchlist_file) == app.model.file


async def test_a_read_only_file_is_respected_and_the_edit_kept(
    make: AppFactory, watchlist_file: Path
) -> None:
    before = watchlist_file.read_bytes()
    watchlist_file.chmod(0o444)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await saved(pilot, app)
        await pilot.pause()
        assert watchlist_file.read_bytes() == before and watchlist_file.stat().st_mode & 0o777 == 0o444
        messages = [str(n.message) for n in app._notifications]
        assert any("read-only" in m and "Your edit is kept" in m for m in messages)
        assert not any(m.startswith("Saved") for m in messages)
        assert app.model.current.entries[0].interval is Interval.M2

        assert app.saver.unsaved_report() == (
            f"1 watchlist edit not saved to {watchlist_file}: "
            f"{watchlist_file}: the file is read-only; it is not overwritten"
        )  # what the CLI prints when the user quits now

        watchlist_file.chmod(0o644)
        await pilot.press("s")
        await saved(pilot, app)
        assert sber(watchlist_file) == "2m" and app.saver.unsaved_report() is None


async def test_a_symlinked_watchlist_is_written_through(make: AppFactory, watchlist_file: Path) -> None:
    """A dotfiles repo keeps getting the edits: the link stays a link, its target changes."""
    target = watchlist_file.parent / "dotfiles" / "watchlist.toml"
    target.parent.mkdir()
    watchlist_file.rename(target)
    watchlist_file.symlink_to(Path("dotfiles") / "watchlist.toml")
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await saved(pilot, app)
    assert watchlist_file.is_symlink() and sber(target) == "2m"
    assert "# Sberbank" in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["watchlist.toml"]  # no temp file left
    assert sorted(p.name for p in watchlist_file.parent.iterdir()) == ["dotfiles", "watchlist.toml"]


async def test_the_file_watcher_follows_a_symlink_into_another_directory(
    make: AppFactory, watchlist_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Edits made in the dotfiles repo (where the link points) reload too, not only the link's folder."""
    target = tmp_path_factory.mktemp("dotfiles") / "watchlist.toml"  # outside the link's folder tree
    watchlist_file.rename(target)
    watchlist_file.symlink_to(target)
    app = make()
    app.watch_file = True
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: any(w.group == "watchlist-file" and w.is_running for w in app.workers))
        await pilot.pause(0.2)  # let the watcher arm itself before the edit
        target.write_text(target.read_text().replace('"YDEX_TQBR",', '"YDEX_TQBR",\n    "VTBR_TQBR",'))
        await wait_for(pilot, lambda: WatchKey("VTBR_TQBR") in app.model.current.entries, rounds=500)
