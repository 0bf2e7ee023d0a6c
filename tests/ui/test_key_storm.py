"""Keys as a terminal delivers them, in bursts, over every screen: the palette, help, search, switcher."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.command import CommandList
from textual.command import CommandPalette as TextualPalette
from textual.pilot import Pilot

from monitor.feed.testing import FakeFeed
from monitor.ui.app import MonitorApp
from monitor.ui.keys import KEY_ACTIONS
from monitor.ui.screens import HelpScreen, SearchScreen, WatchlistSwitcher
from monitor.ui.screens.palette import CommandPalette
from tests.ui.uikit import MAIN, SIZE, AppFactory, fill, screen, settle, wait_for

STORM_KEYS = (
    *(key for item in KEY_ACTIONS if item.id not in ("quit", "interrupt") for key in item.keys.split(",")),
    *("ctrl+p",) * 6,
    *("w", "question_mark", "a") * 2,  # the dialogs, more often than the other keys
    *("pagedown",) * 4,
    *("pageup", "home", "end", "up", "down", "enter", "escape", "backspace"),
    *"eitsm",  # letters that match palette commands and instrument names
)
"""Every bound key but the quitting ones, the palette's key and its list keys, some letters."""


async def burst(app: MonitorApp, keys: list[str], rng: random.Random | None = None) -> None:
    """Sends `keys` the way a terminal read delivers them: queued at once, no frame in between.

    With `rng`, the loop sometimes runs a step between two keys, as when a read splits a burst.
    """
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)
        if rng is not None and rng.random() < 0.5:
            await asyncio.sleep(0)


async def test_page_keys_right_after_new_palette_matches(
    make: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctrl+p, a letter, PageDown at once: the page key lands before the new matches are laid out
    (Textual's OptionList raised KeyError: 0 and the app exited 1)."""
    refresh = TextualPalette._refresh_command_list

    def matches_then_page_keys(palette: TextualPalette, *args: Any) -> None:
        refresh(palette, *args)
        for key in ("pagedown", "pageup", "pagedown"):
            palette.app.post_message(events.Key(key, None))

    monkeypatch.setattr(TextualPalette, "_refresh_command_list", matches_then_page_keys)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", "i")
        palette = screen(app)
        assert isinstance(palette, CommandPalette)
        matches = palette.query_one(CommandList)
        # The page keys were applied once the list was drawn: the highlight moved down a page.
        await wait_for(pilot, lambda: (matches.highlighted or 0) > 0)
        await pilot.press("escape", "q")
    assert app.return_code == 0


@pytest.mark.parametrize("opener", ["w", "a", "ctrl+p"])
async def test_enter_and_escape_in_one_burst_close_a_dialog_once(make: AppFactory, opener: str) -> None:
    """Both keys reach the dialog before it is gone: the second dismiss popped the main screen and
    Textual raised ScreenStackError ("there must be at least one screen"), exit 1."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(opener)
        dialog = screen(app)
        if isinstance(dialog, SearchScreen):
            await pilot.press(*"sber")
            await wait_for(pilot, lambda: dialog.query_text == "sber")
        elif isinstance(dialog, CommandPalette):
            await pilot.press(*"help")
            matches = dialog.query_one(CommandList)
            await wait_for(pilot, lambda: matches.option_count > 0)
        else:
            await pilot.press("down")  # the other list
        await burst(app, ["enter", "escape", "enter", "escape"])
        await settle(pilot, app)
        await close_dialogs(pilot, app)  # the palette's Help opens the help screen
        assert len(app.screen_stack) == 1
        await pilot.press("q")
    assert app.return_code == 0


OPENERS = {
    "": None,
    "ctrl+p": CommandPalette,
    "question_mark": HelpScreen,
    "a": SearchScreen,
    "w": WatchlistSwitcher,
}
"""The storm starts over on each screen (nothing open, then each dialog): every one gets its share."""


async def storm(pilot: Pilot[int], app: MonitorApp, rng: random.Random, count: int) -> None:
    """`count` random keys from STORM_KEYS in bursts of 1–4, a frame after each burst."""
    sent = 0
    while sent < count:
        keys = [rng.choice(STORM_KEYS) for _ in range(rng.randint(1, 4))]
        await burst(app, keys, rng)
        sent += len(keys)
        await pilot.pause()


async def close_dialogs(pilot: Pilot[int], app: MonitorApp) -> None:
    for _ in range(6):  # a palette over a dialog over a dialog is the deepest the keys reach
        if len(app.screen_stack) == 1:
            return
        await pilot.press("escape")


@pytest.mark.parametrize("seed", [20261203])
async def test_key_storm_over_every_screen_leaves_the_app_up_and_responsive(
    make: AppFactory, feed: FakeFeed, seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 x 60 seeded keys in bursts over the main screen, the palette (and what it opens), help,
    search and the switcher; after each, the app answers a key; at the end it quits with 0."""
    monkeypatch.chdir(tmp_path)  # the palette's Screenshot command writes into the working directory
    rng = random.Random(seed)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        quits: list[str] = []

        async def no_quit() -> None:
            quits.append("quit")  # a palette Enter may pick a Quit entry: the storm goes on

        monkeypatch.setattr(app, "action_quit", no_quit)
        monkeypatch.setattr(app, "action_interrupt", no_quit)
        for opener, dialog in OPENERS.items():
            if opener:
                await pilot.press(opener)
                assert type(screen(app)) is dialog
            await storm(pilot, app, rng, 60)
            await close_dialogs(pilot, app)
            await settle(pilot, app)
            assert len(app.screen_stack) == 1, (opener, app.screen_stack)
            if app.model.paused:
                await pilot.press("p")
            await pilot.press("1", "j")  # responsive: a key still moves the selection
            assert app.model.selected == min(1, len(app.model.current.entries) - 1), opener
        monkeypatch.undo()
        await pilot.press("q")
    assert app.return_code == 0
