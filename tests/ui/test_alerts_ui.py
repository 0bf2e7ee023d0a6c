"""Pilot tests of alerts in the TUI: toast, bell, panel and row marks, the alert log, add, arm, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import OptionList

from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import Interval, WatchKey
from monitor.ui.app import MonitorApp
from monitor.ui.screens.add_alert import AddAlertScreen
from monitor.ui.screens.alerts import AlertLogScreen
from monitor.watchlist import load_watchlists
from tests.ui.alertkit import (
    GAZP_RULE,
    SBER,
    SBER_RULE,
    alerts_setup,
    cross,
    delivery,
    open_add,
    open_log,
    running,
    toasts,
)
from tests.ui.uikit import saved, screen, settle, wait_for

MAIN_KEY = WatchKey(SBER, Interval.M1)


@pytest.fixture
def alerts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return alerts_setup(tmp_path, monkeypatch)


async def test_a_fire_shows_a_toast_rings_and_marks_the_panel_and_the_row(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bells: list[None] = []
    monkeypatch.setattr(MonitorApp, "bell", lambda _app: bells.append(None))
    async with running(alerts_file, feed, clock) as (pilot, app):
        assert not app.panel_widgets[0].view or not app.panel_widgets[0].view.mark
        await cross(pilot, app, feed, 106.5)
        await settle(pilot, app)

        told = [line for line in toasts(app) if "SBER_TQBR price above 105" in line]
        assert len(told) == 1 and "106.50 at " in told[0] and "breakout" in told[0]
        assert len(bells) == 1
        view = app.panel_widgets[0].view
        assert view is not None and view.mark == "⚑ 106.50" and view.title.startswith("⚑ 106.50 SBER")
        rows = app.sidebar.rows
        assert rows[0].mark == "⚑" and rows[0].phase.startswith("⚑")
        assert [row.mark for row in rows[1:]] == ["", "", ""]  # GAZP's rule did not fire

        log_screen = await open_log(pilot, app)
        fired = log_screen.fired_text
        assert "SBER_TQBR price above 105" in fired and "106.50" in fired and "breakout" in fired
        assert "while offline" not in fired

        await pilot.press("escape")
        await settle(pilot, app)
        # Seen in the log: the marks go, the fire stays in the log.
        view = app.panel_widgets[0].view
        assert view is not None and view.mark == "" and app.sidebar.rows[0].mark == ""
        assert len(delivery(app).engine.recent) == 1


async def test_bell_off_rings_nothing(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bells: list[None] = []
    monkeypatch.setattr(MonitorApp, "bell", lambda _app: bells.append(None))
    async with running(alerts_file, feed, clock, bell=False) as (pilot, app):
        await cross(pilot, app, feed)
        assert any("SBER_TQBR price above 105" in line for line in toasts(app))
        assert bells == []


async def test_an_offline_fire_is_marked_in_the_toast_and_the_log(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    from monitor.feed import ConnectionState
    from monitor.market import Origin, SeriesKey

    async with running(alerts_file, feed, clock) as (pilot, app):
        key = SeriesKey("uid-sber", Interval.M1)
        series = feed.book.series(key)
        series.mark_history_loaded()
        feed.set_price(SBER, 100.0)  # the rule's baseline, below 105
        await settle(pilot, app)
        feed.set_connection(ConnectionState.RECONNECTING, "stream dropped")
        clock.advance(180)
        # The outage's backfill brings a candle whose high crossed 105, as the Backfiller does.
        missed = Interval.M1.start_of(int(clock.now())) - 60
        candle = wave_candles(missed, Interval.M1, 1, 104.0, forming=False)[0]._replace(
            high=107.0, origin=Origin.BACKFILL
        )
        series.mark_gap(missed, missed + 60)
        assert feed.book.upsert(key, candle)
        delivery(app).engine.on_candle(key, candle)  # as the feed's candle listener is called
        series.mark_backfilled(missed, missed + 60)
        feed.set_connection(ConnectionState.LIVE)
        await wait_for(pilot, lambda: bool(delivery(app).engine.recent))
        await pilot.pause()
        fired = delivery(app).engine.recent[-1]
        assert fired.offline and fired.time == missed
        assert any("(while offline)" in line for line in toasts(app))
        log_screen = await open_log(pilot, app)
        assert "while offline" in log_screen.fired_text


async def test_add_alert_modal_saves_the_rule_into_the_file_keeping_comments(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        feed.set_price(SBER, 101.25)
        await settle(pilot, app)
        dialog, level = await open_add(pilot, app)
        assert dialog.when == "price above 101.25"  # prefilled with the last price
        level.value = ""
        await pilot.press(*"110", "down", "down")  # above → below → crosses
        assert dialog.when == "price crosses 110"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(screen(app), AddAlertScreen))
        await saved(pilot, app)

        text = alerts_file.read_text(encoding="utf-8")
        assert '{ instrument = "SBER_TQBR", when = "price crosses 110", mode = "once" }' in text
        assert "# my watchlists (this comment must survive every save)" in text
        assert "# the one to watch" in text and "# Sberbank" in text
        ids = [rule.id for rule in load_watchlists(alerts_file).alerts]
        assert ids == [SBER_RULE, GAZP_RULE, "SBER_TQBR-price-crosses-110"]
        # The engine watches it at once.
        assert "SBER_TQBR-price-crosses-110" in [s.rule.id for s in delivery(app).engine.statuses()]
        assert any("Alert added" in line for line in toasts(app))


async def test_add_alert_refuses_a_level_that_is_not_a_number(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        before = alerts_file.read_text(encoding="utf-8")
        dialog, level = await open_add(pilot, app)
        level.value = "12abc"
        await pilot.press("enter")
        await pilot.pause()
        assert screen(app) is dialog  # kept open with the reason
        assert "must be a number" in str(dialog.query_one("#alert-status").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen(app) is not dialog)
        await saved(pilot, app)
        assert alerts_file.read_text(encoding="utf-8") == before


async def test_a_duplicate_alert_is_refused_with_the_reason(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (_pilot, app):
        problem = delivery(app).add(app.model.panels[0] or MAIN_KEY, "price above 105")
        assert problem is not None and "already an alert" in problem


async def test_arm_disarm_and_delete_from_the_alert_list(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        engine = delivery(app).engine

        def armed() -> dict[str, bool]:
            return {status.rule.id: status.armed for status in engine.statuses()}

        await open_log(pilot, app)
        await pilot.press("space")  # the first rule (SBER's) is highlighted
        assert armed() == {SBER_RULE: False, GAZP_RULE: True}
        state_file = engine.state.path
        assert state_file is not None
        kept = json.loads(state_file.read_text(encoding="utf-8"))["rules"]
        assert kept[SBER_RULE]["armed"] is False  # persisted: a restart keeps it disarmed
        await pilot.press("space")
        assert armed() == {SBER_RULE: True, GAZP_RULE: True}

        await pilot.press("down", "d")
        assert GAZP_RULE in armed()  # one d only asks
        await pilot.press("d")
        await saved(pilot, app)
        assert list(armed()) == [SBER_RULE]
        text = alerts_file.read_text(encoding="utf-8")
        assert "price below 90" not in text and "price above 105" in text and "# Sberbank" in text
        log_screen = screen(app)
        assert isinstance(log_screen, AlertLogScreen) and log_screen.ids == [SBER_RULE]


async def test_a_disarmed_rule_does_not_fire(alerts_file: Path, feed: FakeFeed, clock: ManualClock) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        assert delivery(app).engine.disarm(SBER_RULE)
        feed.set_price(SBER, 100.0)
        feed.set_price(SBER, 106.0)
        feed.set_price("GAZP_TQBR", 95.0)
        feed.set_price("GAZP_TQBR", 89.0)  # the other rule fires: the feed reached the engine
        await wait_for(pilot, lambda: bool(delivery(app).engine.recent))
        assert [f.rule.id for f in delivery(app).engine.recent] == [GAZP_RULE]


async def test_a_hot_reload_gives_the_engine_the_new_rules_and_keeps_the_others_state(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        engine = delivery(app).engine
        assert engine.disarm(GAZP_RULE)
        text = alerts_file.read_text(encoding="utf-8")
        text = text.replace('"price above 105", note = "breakout"', '"price above 120"')
        alerts_file.write_text(text, encoding="utf-8")
        await app.reload_watchlists()  # what the file watcher calls
        await wait_for(pilot, lambda: SBER_RULE not in [s.rule.id for s in engine.statuses()])
        armed = {status.rule.id: status.armed for status in engine.statuses()}
        assert armed == {GAZP_RULE: False, "SBER_TQBR-price-above-120": True}


async def test_an_unreadable_state_file_is_told_and_the_rules_start_afresh(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    from monitor.alerts import state_path

    broken = state_path(alerts_file)
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    async with running(alerts_file, feed, clock) as (pilot, app):
        await pilot.pause()
        assert any("state" in line.lower() and "corrupt" in line.lower() for line in toasts(app)), toasts(app)
        assert all(status.armed for status in delivery(app).engine.statuses())


async def test_add_alert_starts_at_the_chart_cursor_candle(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        await pilot.press("left", "left", "left")
        key = app.model.panel(0)
        assert key is not None
        cursor = app.model.charts.get(0, key).cursor
        series = feed.view(key).series
        assert cursor is not None and series is not None
        under = series.window(series.index_of(cursor), series.index_of(cursor) + 1)[0]
        last = feed.view(key).quote
        assert last is not None and last.price is not None and under.close != last.price
        dialog, _level = await open_add(pilot, app)
        direction = "below" if under.close < last.price else "above"
        assert dialog.when == f"price {direction} {under.close:.2f}"


async def test_a_fire_while_the_log_is_open_shows_there_at_once(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(alerts_file, feed, clock) as (pilot, app):
        log_screen = await open_log(pilot, app)
        assert "Nothing fired yet" in log_screen.fired_text
        await cross(pilot, app, feed, 106.5)
        assert "SBER_TQBR price above 105" in log_screen.fired_text and "106.50" in log_screen.fired_text
        assert delivery(app).unseen == {}  # seen where it showed: no mark waits behind the log
        rules = log_screen.query_one("#alert-rules", OptionList)
        first = rules.get_option_at_index(0).prompt
        assert isinstance(first, Text) and "○ disarmed" in first.plain and "fired 1" in first.plain
        assert "last 106.50" in first.plain
