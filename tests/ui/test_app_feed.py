"""Pilot tests of the data flow: coalesced redraws, badges, banners, a crashed feed, file reloads."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from monitor.feed import ConnectionState
from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import Interval, TradingPhase, WatchKey
from monitor.ui.messages import WatchlistReloaded, WatchlistReloadFailed
from monitor.ui.widgets import CandlePanel
from tests.ui.uikit import (
    MAIN,
    SIZE,
    WATCHLIST,
    AppFactory,
    RenderCounts,
    banner,
    fill,
    saved,
    settle,
    wait_for,
)


def badges(app: object) -> list[str]:
    from monitor.ui.app import MonitorApp

    assert isinstance(app, MonitorApp)
    return [panel.view.badge.text for panel in app.panel_widgets if panel.display and panel.view]


async def test_render_tick_redraws_only_dirty_panels(
    make: AppFactory, feed: FakeFeed, clock: ManualClock, renders: RenderCounts
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        panels = app.panel_widgets[:4]
        charts = [renders.chart(panel) for panel in panels]
        headers = [renders.header(panel) for panel in panels]
        assert all(count >= 1 for count in charts)

        app.render_tick()  # nothing changed: nothing is drawn
        await pilot.pause()
        assert [renders.chart(panel) for panel in panels] == charts

        now = int(clock.now())
        feed.push_candles(
            "GAZP_TQBR", Interval.M1, wave_candles(Interval.M1.start_of(now), Interval.M1, 1, 99.0)
        )
        await settle(pilot, app)
        after = [renders.chart(panel) for panel in panels]
        assert after[1] == charts[1] + 1
        assert [after[i] for i in (0, 2, 3)] == [charts[i] for i in (0, 2, 3)]

        clock.advance(5)  # ages on the badges move: only title lines are redrawn
        await settle(pilot, app)
        assert [renders.chart(panel) for panel in panels] == after
        assert all(renders.header(panel) > headers[i] for i, panel in enumerate(panels))


async def test_feed_crash_shows_down_and_r_restarts(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: feed.run_calls == 1 and feed.health.state is ConnectionState.LIVE)
        feed.crash(RuntimeError("stream exploded"))
        await wait_for(pilot, lambda: app.model.feed_down is not None)
        await settle(pilot, app)
        assert "DOWN" in app.status_bar.text.plain
        assert "stream exploded" in app.status_bar.text.plain
        assert banner(app) is not None and "Press r to restart" in (banner(app) or "")
        assert all(text == "ERROR feed down" for text in badges(app))

        await pilot.press("r")
        await wait_for(pilot, lambda: feed.run_calls == 2)
        assert app.model.feed_down is None and feed.reconnect_requests == 0
        await settle(pilot, app)
        assert banner(app) is None
        assert "LIVE" in app.status_bar.text.plain


async def test_failed_entry_shows_reason_while_others_stream(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    watchlist_file.write_text(WATCHLIST.replace('"LKOH_TQBR"', '"NOPE_TQBR"'))
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, [MAIN[0], MAIN[1], MAIN[3]])
        await settle(pilot, app)
        assert badges(app) == ["LIVE 0s", "LIVE 0s", "ERROR instrument not found", "LIVE 0s"]
        failed = app.query_one("#panel-2", CandlePanel)
        assert failed.view is not None and "instrument not found" in failed.view.message
        assert app.sidebar.rows[2].level == "error" and app.sidebar.rows[0].level == "ok"
        assert banner(app) is None  # one failure is the panel's business, not a banner


async def test_closed_market_reads_closed_never_no_data(
    make: AppFactory, feed: FakeFeed, clock: ManualClock
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        feed.set_phase("SBER_TQBR", TradingPhase.CLOSED)
        clock.advance(3600)
        await settle(pilot, app)
        assert badges(app)[0] == "CLOSED 1h00m"
        assert badges(app)[1] == "NO DATA 1h00m"  # trading (phase unknown) and silent for an hour
        assert app.sidebar.rows[0].level == "muted"


async def test_auth_failure_banner_says_what_to_do(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: feed.run_calls == 1)
        feed.set_connection(ConnectionState.AUTH_FAILED, "token is invalid", code="40003")
        await settle(pilot, app)
        assert banner(app) is not None
        assert "Token rejected (40003)" in (banner(app) or "")
        assert "TINKOFF_TOKEN_STRING" in (banner(app) or "") and "monitor check" in (banner(app) or "")


async def test_long_outage_banner_and_countdown(make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: feed.run_calls == 1)
        feed.set_connection(
            ConnectionState.RECONNECTING, "UNAVAILABLE", attempt=1, next_retry_at=clock.now() + 2
        )
        await settle(pilot, app)
        assert banner(app) is None  # a blip only shows on the status bar
        assert "RECONNECTING attempt 1, retry in 2s" in app.status_bar.text.plain
        clock.advance(40)
        feed.set_connection(
            ConnectionState.RECONNECTING, "UNAVAILABLE", attempt=4, next_retry_at=clock.now() + 9
        )
        await settle(pilot, app)
        assert banner(app) is not None
        assert "No connection to 127.0.0.1:50051 for 40s" in (banner(app) or "")
        assert "Press r to retry now" in (banner(app) or "")


async def test_all_entries_failing_banner(make: AppFactory, feed: FakeFeed, watchlist_file: Path) -> None:
    watchlist_file.write_text(WATCHLIST.replace("_TQBR", "_XXXX"))
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert banner(app) is not None
        assert (banner(app) or "").startswith("No instrument could be subscribed (instrument not found)")


async def test_file_edit_on_disk_changes_only_the_changed_subscriptions(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    messages: list[Message] = []
    app = make()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.press("tab")
        watchlist_file.write_text(WATCHLIST.replace('"YDEX_TQBR",', '"YDEX_TQBR",\n    "VTBR_TQBR",'))
        await app.reload_watchlists()
        await wait_for(pilot, lambda: len(app.model.watchlists.active_list.entries) == 5)
        assert WatchKey("VTBR_TQBR", Interval.M1) in feed.watch_calls[-1]
        assert app.model.panels[:4] == [WatchKey(i, m) for i, m in MAIN]  # what is on screen stays
        assert app.model.focused_panel == 1

        watchlist_file.write_text(WATCHLIST.replace('layout = "2x2"', 'layout = "4x4"'))
        await app.reload_watchlists()
        await pilot.pause()
        [failed] = [m for m in messages if isinstance(m, WatchlistReloadFailed)]
        assert f"{watchlist_file}:6: lists[0].layout" in failed.error
        assert len(app.model.watchlists.active_list.entries) == 5  # the running list is kept

        watchlist_file.write_text(WATCHLIST)
        await app.reload_watchlists()
        await wait_for(pilot, lambda: len(app.model.watchlists.active_list.entries) == 4)
        reloads = sum(isinstance(m, WatchlistReloaded) for m in messages)
        await pilot.press("i")  # our own save must not come back as a reload
        await saved(pilot, app)
        await app.reload_watchlists()
        await pilot.pause()
        assert sum(isinstance(m, WatchlistReloaded) for m in messages) == reloads


async def test_file_watcher_applies_edits_while_running(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    app = make()
    app.watch_file = True
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: any(w.group == "watchlist-file" and w.is_running for w in app.workers))
        await pilot.pause(0.2)  # let the watcher arm itself before the edit
        watchlist_file.write_text(WATCHLIST.replace('layout = "2x2"', 'layout = "1"'))
        await wait_for(pilot, lambda: app.model.watchlists.active_list.layout == "1", rounds=500)
        assert sum(panel.display for panel in app.panel_widgets) == 1


async def test_an_outage_reads_true_from_silence_to_an_attempt_in_flight(
    make: AppFactory, feed: FakeFeed, clock: ManualClock
) -> None:
    """Silent panels stop saying LIVE, an attempt in flight says so, the banner counts the silence."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)  # the last message
        for watch_id, _ in MAIN:
            feed.set_phase(watch_id, TradingPhase.TRADING)
        clock.advance(10)
        await settle(pilot, app)
        assert badges(app) == ["LIVE 10s"] * 4
        clock.advance(33)  # total silence, the connection not yet declared stale
        await settle(pilot, app)
        assert badges(app) == ["NO DATA 43s"] * 4
        assert "LIVE" in app.status_bar.text.plain and "last 43s" in app.status_bar.text.plain

        clock.advance(3)
        due = clock.now() + 4
        feed.set_connection(ConnectionState.RECONNECTING, "UNAVAILABLE", attempt=3, next_retry_at=due)
        await settle(pilot, app)
        assert "RECONNECTING attempt 3, retry in 4s" in app.status_bar.text.plain
        clock.advance(16)  # the attempt started 12 s ago and has not ended
        await settle(pilot, app)
        status = app.status_bar.text.plain
        assert "RECONNECTING connecting, attempt 3, 12s" in status and "retry in" not in status
        assert (banner(app) or "").startswith("No connection to 127.0.0.1:50051 for 1m02s (UNAVAILABLE).")
        assert "Attempt 3 connecting for 12s." in (banner(app) or "")
        assert badges(app) == ["RECONNECTING 1m02s"] * 4
