"""Pilot tests: every key action changes the state it claims to, and edits reach the file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from textual.widgets import Label, OptionList, Static

from monitor.feed.testing import FakeFeed, ManualClock
from monitor.market import Instrument, Interval, WatchKey
from monitor.settings import Settings
from monitor.ui.app import make_app
from monitor.ui.keys import KEY_ACTIONS
from monitor.ui.screens import HelpScreen, SearchScreen, WatchlistSwitcher
from monitor.ui.widgets import CandlePanel
from monitor.watchlist import load_watchlists
from tests.ui.uikit import SIZE, AppFactory, paused, saved, screen, settle, wait_for

SBER, GAZP = WatchKey("SBER_TQBR", Interval.M1), WatchKey("GAZP_TQBR", Interval.M1)


async def test_moves_selection_with_arrows_and_vim_keys(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "j")
        assert app.model.selected == 2
        await pilot.press("k")
        assert app.model.selected == 1
        await pilot.press("up", "up", "up")
        assert app.model.selected == 0
        await pilot.press("j", "j", "j", "j", "j")
        assert app.model.selected == 3  # clamped to the last row
        assert app.sidebar.selected == 3


async def test_number_keys_jump_to_rows(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        assert app.model.selected == 2
        await pilot.press("9")  # no ninth row: the selection stays
        assert app.model.selected == 2
        await pilot.press("1")
        assert app.model.selected == 0


async def test_enter_shows_selected_instrument_in_focused_panel(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.model.panels[:2] == [SBER, GAZP]
        await pilot.press("tab")
        assert app.model.focused_panel == 1
        await pilot.press("4", "enter")
        ydex = WatchKey("YDEX_TQBR", Interval.M1)
        assert app.model.panels[1] == ydex
        await settle(pilot, app)
        panel = app.query_one("#panel-1", CandlePanel)
        assert panel.view is not None and panel.view.key == ydex
        assert panel.view.title.startswith("YDEX 1m")


async def test_tab_cycles_visible_panels(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "tab", "tab")
        assert app.model.focused_panel == 3
        assert app.query_one("#panel-3").has_class("-focused")
        assert not app.query_one("#panel-0").has_class("-focused")
        await pilot.press("tab")
        assert app.model.focused_panel == 0


async def test_interval_keys_change_focused_panel_and_watch(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "i")
        gazp2 = WatchKey("GAZP_TQBR", Interval.M2)
        assert app.model.panels[1] == gazp2
        assert gazp2 in feed.watch_calls[-1] and GAZP not in feed.watch_calls[-1]
        assert app.model.watchlists.active_list.entries[1].interval is Interval.M2
        await saved(pilot, app)
        entry = load_watchlists(watchlist_file).active_list.entries[1]
        assert (entry.id, entry.interval) == ("GAZP_TQBR", Interval.M2)
        assert "# Sberbank" in watchlist_file.read_text()
        await pilot.press("I", "I")
        assert app.model.panels[1] == WatchKey("GAZP_TQBR", Interval.MN1)  # wraps below 1m
        assert app.model.panels[0] == SBER  # the other panels keep theirs


async def test_layout_cycles_for_the_session_and_s_saves_it(make: AppFactory, watchlist_file: Path) -> None:
    before = watchlist_file.read_bytes()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert any("s saves them" in str(n.message) for n in app._notifications)  # said once, at once
        assert app.model.watchlists.active_list.layout == "3x3"
        assert sum(panel.display for panel in app.panel_widgets) == 9
        assert app.model.panels[4:] == [None] * 5  # four entries, nine panels
        await pilot.press("l")
        assert str(app.model.watchlists.active_list.layout) == "1"
        assert sum(panel.display for panel in app.panel_widgets) == 1
        await saved(pilot, app)
        assert watchlist_file.read_bytes() == before  # view state stays out of the shared file
        await pilot.press("s")
        await saved(pilot, app)
        assert watchlist_file.read_bytes() == before.replace(b'layout = "2x2"', b'layout = "1"')


async def test_pause_counts_pending_updates_and_resumes(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("p")
        assert paused(app)
        feed.set_price("SBER_TQBR", 101.0)
        feed.set_price("SBER_TQBR", 102.0)
        app.render_tick()
        assert app.model.pending == 2
        assert "PAUSED +2 updates" in app.status_bar.text.plain
        assert "102" not in app.sidebar.rows[0].price  # drawing is frozen
        await pilot.press("p")
        assert not paused(app) and app.model.pending == 0
        assert "102.00" in app.sidebar.rows[0].price


async def test_r_asks_the_live_feed_to_reconnect(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        assert feed.reconnect_requests == 1
        assert feed.run_calls == 1


async def test_t_cycles_time_zone(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.model.timezone == "exchange"
        await pilot.press("t")
        assert app.model.timezone == "local"
        await pilot.press("t")
        assert app.model.timezone == "utc"
        assert "09:00:00 utc" in app.status_bar.text.plain
        await pilot.press("t")
        assert app.model.timezone == "exchange"
        assert "12:00:00 exchange" in app.status_bar.text.plain


async def test_question_mark_opens_help(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        shown = screen(app)
        assert isinstance(shown, HelpScreen)
        assert ("q", "Quit") in shown.keys
        await pilot.press("escape")
        assert not isinstance(screen(app), HelpScreen)


def plain(renderable: object) -> str:
    """What a Rich renderable shows, as text."""
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_the_help_legend_explains_every_badge_and_axis_mark() -> None:
    """Every label a panel can show (each `Badge("…"` in the UI's code) has its row, and so do the
    renderer's axis glyphs: a new badge (LAGGING, say) fails here until it is explained."""
    import re

    import monitor.ui.badge
    import monitor.ui.views
    from monitor.ui.render import cells
    from monitor.ui.screens.help import AXIS_MARKS, BADGES

    drawn: set[str] = set()
    for module in (monitor.ui.badge, monitor.ui.views):
        drawn |= set(re.findall(r'Badge\(\s*"([^"]+)"', Path(str(module.__file__)).read_text()))
    assert {"PENDING", "EMPTY", "CONNECTING", "LIVE", "ERROR"} <= drawn
    explained = {label for label, _ in BADGES}
    assert all(any(row == label or row.startswith(f"{label} ") for row in explained) for label in drawn), (
        drawn - {row.split(" ")[0] for row in explained}
    )
    marks = "".join(mark for mark, _ in AXIS_MARKS)
    for glyph in (cells.BACKFILL, cells.GAP, cells.FORMING_MARK, cells.LAST_MARK):
        assert glyph in marks


async def test_help_shows_the_badges_and_the_axis_marks(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        shown = screen(app)
        assert isinstance(shown, HelpScreen)
        badges, marks = (plain(shown.query_one(part, Static).content) for part in ("#badges", "#axis-marks"))
        assert "PENDING" in badges and "EMPTY" in badges and "CONNECTING" in badges
        assert "backfill" not in badges and "filled in from history" in marks and "forming" in marks
        assert "gap" in marks


async def test_q_quits_and_closes_feed(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert feed.closed


async def test_search_adds_entry_and_saves_with_comments(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        search = screen(app)
        assert isinstance(search, SearchScreen)
        await pilot.press(*"nornick")
        await wait_for(pilot, lambda: bool(search.results))
        assert [item.ticker for item in search.results] == ["GMKN"]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(screen(app), SearchScreen)
        entries = app.model.watchlists.active_list.entries
        assert entries[-1].id == "GMKN_TQBR" and app.model.selected == 4
        assert WatchKey("GMKN_TQBR", Interval.M1) in feed.watch_calls[-1]
        await saved(pilot, app)
        text = watchlist_file.read_text()
        assert '"GMKN_TQBR"' in text
        assert "# my watchlists (this comment must survive every save)" in text
        assert "# Sberbank" in text


async def test_search_escape_adds_nothing(make: AppFactory, watchlist_file: Path) -> None:
    before = watchlist_file.read_text()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "s", "b", "escape")
        await pilot.pause()
        assert len(app.model.watchlists.active_list.entries) == 4
    assert watchlist_file.read_text() == before


async def test_x_removes_selected_and_saves(make: AppFactory, feed: FakeFeed, watchlist_file: Path) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "x")
        ids = [entry.id for entry in app.model.watchlists.active_list.entries]
        assert ids == ["SBER_TQBR", "LKOH_TQBR", "YDEX_TQBR"]
        assert GAZP not in feed.watch_calls[-1]
        assert GAZP not in app.model.panels
        await saved(pilot, app)
        text = watchlist_file.read_text()
        assert "GAZP_TQBR" not in text and "# Sberbank" in text


async def test_s_saves_the_file(make: AppFactory, watchlist_file: Path) -> None:
    watchlist_file.write_text(watchlist_file.read_text().replace('layout = "2x2"', 'layout = "2x2"  '))
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        watchlist_file.unlink()
        await pilot.press("s")
        await saved(pilot, app)
    assert 'name = "main"' in watchlist_file.read_text()


async def test_w_switches_watchlist(make: AppFactory, feed: FakeFeed, watchlist_file: Path) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        assert isinstance(screen(app), WatchlistSwitcher)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.model.watchlists.active_list.name == "second"
        assert app.model.panels == [WatchKey("GMKN_TQBR", Interval.H1), WatchKey("VTBR_TQBR", Interval.H1)]
        assert set(feed.watch_calls[-1]) == set(app.model.panels)
        await saved(pilot, app)
        assert 'active = "main"' in watchlist_file.read_text()  # for this session only
        await pilot.press("s")
        await saved(pilot, app)
        assert 'active = "second"' in watchlist_file.read_text()


async def test_keys_follow_settings_overrides(make: AppFactory) -> None:
    app = make(keys={"pause": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        assert paused(app)
        await pilot.press("p")
        assert paused(app)  # p is no longer bound


async def test_every_action_is_in_the_command_palette_once_with_its_key(make: AppFactory) -> None:
    """jump_1…jump_9 included; Quit once (Textual's own entry ran the same action_quit)."""
    app = make(keys={"jump_3": "f3", "help": "f1"})
    async with app.run_test(size=SIZE):
        commands = list(app.get_system_commands(app.screen))
        titles = [command.title for command in commands]
        assert titles.count("Quit") == 1
        assert {item.description for item in KEY_ACTIONS} <= set(titles)
        keys = {command.title: command.help for command in commands}
        assert keys["Jump to row 1"] == "key: 1" and keys["Jump to row 9"] == "key: 9"
        assert keys["Jump to row 3"] == "key: f3" and keys["Help"] == "key: f1"
        assert keys["Quit"] == "key: q" and keys["Next instrument in the watchlist"] == "key: ↓/j"
        assert "Theme" in titles  # Textual's other commands stay


async def test_a_jump_from_the_palette_moves_the_selection(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"jump to row 3")
        await wait_for(
            pilot,
            lambda: (
                bool(screen(app).query("CommandList"))
                and screen(app).query_one("CommandList", OptionList).option_count > 0
            ),
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.model.selected == 2)


async def test_a_failed_search_says_why_and_adds_nothing(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token rejected (or any failure of the look-up): the screen says so, not "0 found"."""
    from monitor.feed import TokenRejected

    async def rejected(query: str) -> list[Instrument]:
        raise TokenRejected("UNAUTHENTICATED: [bold]40003[/bold]")

    monkeypatch.setattr(feed, "search", rejected)
    before = watchlist_file.read_text()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"sber")
        search = screen(app)
        assert isinstance(search, SearchScreen)
        status = search.query_one("#search-status", Label)
        await wait_for(pilot, lambda: "search failed" in str(status.render()))
        shown = str(status.render())
        assert "token rejected (UNAUTHENTICATED: [bold]40003[/bold])" in shown  # literal, not markup
        assert "reconnect (r)" in shown and not search.results
        await pilot.press("escape")
    assert watchlist_file.read_text() == before


def test_the_readme_keys_and_badges_agree_with_the_app() -> None:
    """The README's key table names real action ids with their default keys, and every badge it
    says a panel shows is one the help screen explains (it once said FAILED, and `/` to search)."""
    import re

    from monitor.ui.screens.help import BADGES

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    actions = {item.id: item for item in KEY_ACTIONS}
    rows = re.findall(r"^\| (`[^|]+`) \| (`[a-z_0-9`…, ]+`) \|", readme, flags=re.MULTILINE)
    assert len(rows) >= 15
    for keys, ids in rows:
        for action_id in re.findall(r"`([a-z_0-9]+)`", ids):
            if action_id in ("jump_1", "jump_9"):
                continue  # `1`…`9`
            item = actions[action_id]
            first = (item.key_display or item.keys).split(",")[0].split("/")[0]
            assert first.lower() in keys.lower(), (action_id, keys)
    words = " ".join(readme.split())
    shown = re.findall(r"the panel shows `?([A-Z]+)", words)
    assert shown and set(shown) <= {label.split(" ")[0] for label, _ in BADGES}, shown
    assert "search and add with `a`" in words and "with `/`" not in words


async def test_r_sends_the_token_the_settings_name_now(
    tmp_path: Path, watchlist_file: Path, clock: ManualClock
) -> None:
    """The user fixed the token file after AUTH_FAILED: `r` reads it again and the feed gets it;
    an unreadable token file is said on screen and the reconnect goes on with the token in use."""
    token_file = tmp_path / "token"
    token_file.write_text("t.fixed-token\n", encoding="utf-8")
    token_file.chmod(0o600)
    feed = FakeFeed(clock=clock, mode="LIVE API")
    settings = Settings.model_validate({"connection": {"token_file": str(token_file)}})
    app = make_app(settings, load_watchlists(watchlist_file), watchlist_file, feed, clock, watch_file=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        assert feed.tokens == ["t.fixed-token"]
        token_file.unlink()
        await pilot.press("r")
        await pilot.pause()
        assert feed.tokens == ["t.fixed-token"] and feed.reconnect_requests == 2
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "cannot read token file" in shown and "t.fixed" not in shown
