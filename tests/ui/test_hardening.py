"""Hostile input for the UI: any search text, markup in names, an empty list, key spam."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual import events
from textual.markup import escape
from textual.widgets import Input, OptionList

from monitor.feed import ConnectionState
from monitor.feed.testing import DEMO_INSTRUMENTS, FakeFeed, ManualClock, demo_instrument
from monitor.market import Interval
from monitor.settings import Settings
from monitor.ui.app import MonitorApp, make_app
from monitor.ui.keys import KEY_ACTIONS
from monitor.ui.screens import SearchScreen
from monitor.ui.widgets import WatchlistSidebar
from monitor.watchlist import load_watchlists
from tests.ui.uikit import MAIN, SIZE, START, WATCHLIST, AppFactory, fill, screen, settle, wait_for

MARKUP_NAMES = ("[bold]Evil[/bold] Corp", "Broken [/nope] [link=x]", "Esc \\[red] [red")
HOSTILE = (
    "[bold]",
    "[/]",
    "[/nope]",
    "[",
    "]",
    "\\[red]",
    "[link=https://x]y",
    "\x00\x07\x1b[31m\t\r",
    "😀🇷🇺 ЗОЛОТО",
    "evil",
    "x" * 5000,
)
QUERIES = st.one_of(
    st.text(max_size=60), st.sampled_from(HOSTILE), st.text(alphabet="[]/\\=eviL ", max_size=20)
)


def hostile_feed() -> FakeFeed:
    """The demo catalogue plus instruments whose names are (broken) Rich/Textual markup."""
    evil = [demo_instrument(f"EVL{i}", name) for i, name in enumerate(MARKUP_NAMES)]
    return FakeFeed(instruments=[*DEMO_INSTRUMENTS, *evil], clock=ManualClock(START))


def build(path: Path, feed: FakeFeed) -> MonitorApp:
    return make_app(
        Settings(), load_watchlists(path), path, feed, feed.clock, watch_file=False, search_debounce=0.0
    )


def option_texts(options: OptionList) -> list[str]:
    """What the result rows draw on the screen (plain text of each rendered line)."""
    return [options.render_line(y).text for y in range(options.option_count)]


async def search_everything(path: Path, queries: list[str]) -> None:
    feed = hostile_feed()
    app = build(path, feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        search = screen(app)
        assert isinstance(search, SearchScreen)
        field = search.query_one("#search-input", Input)
        for query in queries:
            # Assigned (as typed) and pasted (how control characters reach a real terminal app).
            field.value = query
            await wait_for(pilot, lambda q=query: search.query_text == q)  # type: ignore[misc]
            field.value = ""
            field.post_message(events.Paste(query))
            await pilot.pause()
            await wait_for(pilot, lambda: search.query_text == field.value)
            shown = option_texts(search.options)
            for item, text in zip(search.results, shown, strict=False):
                # The name is drawn literally: markup in data neither styles nor vanishes.
                assert item.name[:30].strip() in text, (item.name, text)
        await pilot.press("escape")
        assert not isinstance(screen(app), SearchScreen)
        await pilot.press("q")
    assert app.return_code == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries=st.lists(QUERIES, min_size=1, max_size=6))
def test_search_survives_any_query(tmp_path: Path, queries: list[str]) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(WATCHLIST, encoding="utf-8")
    asyncio.run(search_everything(path, queries))


async def test_markup_in_names_is_shown_literally_everywhere(watchlist_file: Path) -> None:
    feed = hostile_feed()
    app = build(watchlist_file, feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"broken")
        search = screen(app)
        assert isinstance(search, SearchScreen)
        await wait_for(pilot, lambda: search.query_text == "broken")
        assert "Broken [/nope] [link=x]" in option_texts(search.options)[0]
        await pilot.press("enter")  # the notification and the sidebar show the name too
        await settle(pilot, app)
        assert app.model.watchlists.active_list.entries[-1].id == "EVL1_TQBR"
        assert not isinstance(screen(app), SearchScreen)


async def test_removing_the_last_instrument_is_refused_and_a_still_adds(make: AppFactory) -> None:
    # A watchlist never has an empty list (monitor.watchlist refuses it, and so does the file format),
    # so the last x is refused with a warning instead of leaving four blank panels.
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"xxxxx")  # one more than there are rows
        await settle(pilot, app)
        assert [entry.id for entry in app.model.watchlists.active_list.entries] == ["YDEX_TQBR"]
        assert any("needs at least one instrument" in str(n.message) for n in app._notifications)
        assert app.model.selected == 0 and len(app.sidebar.rows) == 1
        assert [key.id for key in app.model.panels if key is not None] == ["YDEX_TQBR"]  # panels never move
        await pilot.press("j", "enter", "i", "I", "x", "tab", "l")
        await pilot.press("a", *"sber")
        search = screen(app)
        assert isinstance(search, SearchScreen)
        await wait_for(pilot, lambda: search.query_text == "sber")
        await pilot.press("enter")
        await settle(pilot, app)
        assert [entry.id for entry in app.model.watchlists.active_list.entries] == ["YDEX_TQBR", "SBER_TQBR"]
        assert "SBER_TQBR" in {key.id for key in app.model.panels if key is not None}


def test_sidebar_empty_state_says_how_to_add() -> None:
    sidebar = WatchlistSidebar(up_color="green", down_color="red")
    sidebar.show("[bold]main[/] (0)", (), 0)
    assert "press a to add" in sidebar.render().plain
    # A list name is shown literally: stored escaped (a str would be parsed, and "[/x]" would raise).
    assert sidebar.border_title == escape("[bold]main[/] (0)")


async def test_interval_spam_during_backfill(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for round_ in range(30):
            await pilot.press("i" if round_ % 3 else "I")
            # History arrives for whatever the panel showed a moment ago (a late backfill).
            fill(feed, MAIN[:2], count=20)
            key = app.model.panels[app.model.focused_panel]
            assert key is not None
            fill(feed, [(key.id, key.interval)], count=20)
        await settle(pilot, app)
        key = app.model.panels[0]
        assert key is not None
        assert app.model.watchlists.active_list.entries[0].interval is key.interval
        assert feed.watch_calls[-1].count(key) == 1
        view = app.panel_widgets[0].view
        assert view is not None and view.key == key and view.series is not None


async def test_random_key_spam_never_sticks(make: AppFactory, feed: FakeFeed) -> None:
    actions = [item for item in KEY_ACTIONS if item.id not in ("quit", "interrupt")]
    keys = [key for item in actions for key in item.keys.split(",")]
    keys += ["escape", "escape", "enter", "s", "b", "e", "r", "backspace"]
    rng = random.Random(20261125)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        for _ in range(200):
            await pilot.press(rng.choice(keys))
            assert len(app.screen_stack) <= 3, app.screen_stack
        for _ in range(3):  # close whatever dialog is open
            await pilot.press("escape")
        await settle(pilot, app)
        assert len(app.screen_stack) == 1, app.screen_stack
        assert not app.model.paused or app.model.pending >= 0
        await pilot.press("q")
    assert app.return_code == 0


def test_every_key_is_known() -> None:
    """The spam test covers the whole key map (interval keys included)."""
    assert {"i", "I", "a", "x", "l", "w", "t", "p", "r"} <= {item.keys for item in KEY_ACTIONS}
    assert Interval.M1 in {interval for _, interval in MAIN}


async def test_a_channel_that_cannot_connect_says_why_on_screen(watchlist_file: Path) -> None:
    """Nothing listens on the port: the banner says "connection refused" from the first attempt
    (before, the TUI said CONNECTING, then "no confirmation within …"; the reason was in the log)."""
    import socket

    from monitor.clock import SystemClock
    from monitor.feed import Feed, FeedConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = FeedConfig(endpoint=f"127.0.0.1:{port}", token="t", plaintext=True, connect_timeout_s=30.0)
    feed = Feed(config=config, clock=SystemClock())
    app = make_app(
        Settings(), load_watchlists(watchlist_file), watchlist_file, feed, feed.clock, watch_file=False
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.banner.message is not None, rounds=1000)
        assert app.banner.message == (
            f"Cannot connect to 127.0.0.1:{port}: connection refused: nothing listens on that host and port. "
            "Retrying on its own; press r to retry now."
        )
        assert "CONNECTING" in app.status_bar.text.plain  # still the first attempt
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_tls_failure_is_on_the_banner_while_connecting(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        feed.set_connection(ConnectionState.CONNECTING)
        feed.health.note_channel(
            "TLS handshake failed (certificate not trusted: self signed); pass --ca-file"
        )
        await settle(pilot, app)
        assert "TLS handshake failed" in (app.banner.message or "")
        feed.health.note_channel(None)  # connected after all
        feed.set_connection(ConnectionState.LIVE)
        await settle(pilot, app)
        assert app.banner.message is None
