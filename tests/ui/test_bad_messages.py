"""Skipped server messages: a status-bar counter, the last reason in its tooltip and in help."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import Static, Tooltip

from monitor.feed import Health
from monitor.feed.testing import FakeFeed, ManualClock
from monitor.ui.app import MonitorApp
from monitor.ui.screens import HelpScreen
from monitor.ui.widgets.status_bar import bad_messages_detail, bad_messages_label, safe_reason
from tests.ui.uikit import MAIN, SIZE, AppFactory, fill, screen, settle, wait_for

HOSTILE = "malformed quotation: [bold red]nano[/] out of range [/oops] [link=http://evil]x[/link]"
"""A reason quoting the server: if it were read as markup it would restyle, link or crash."""


def tooltip(app: MonitorApp) -> object:
    # Re-read after an await (an inline read would stay narrowed for mypy).
    return app.status_bar.tooltip


def test_label_counts_in_words() -> None:
    assert bad_messages_label(1) == "⚠ 1 bad msg"
    assert bad_messages_label(3) == "⚠ 3 bad msgs"


def test_detail_is_plain_text_made_safe() -> None:
    assert bad_messages_detail(Health()) is None
    health = Health(bad_messages=2, last_bad_reason="bad\x1b[31m\nreason " + "x" * 500)
    detail = bad_messages_detail(health)
    assert isinstance(detail, Text)
    assert "\x1b" not in detail.plain and "bad [31m reason" in detail.plain
    assert detail.plain.endswith("…") and len(safe_reason(health.last_bad_reason)) == 200
    health.last_bad_reason = HOSTILE
    assert HOSTILE in (bad_messages_detail(health) or Text()).plain


async def test_status_bar_counts_bad_messages_only_when_there_are_some(
    make: AppFactory, feed: FakeFeed
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        assert "bad msg" not in app.status_bar.text.plain
        assert tooltip(app) is None

        feed.push_bad_message("candle without prices")
        feed.push_bad_message(HOSTILE, count=2)
        await settle(pilot, app)
        plain = app.status_bar.text.plain
        assert "⚠ 3 bad msgs" in plain
        assert plain.index("reconnects") < plain.index("⚠ 3 bad msgs") < plain.index("? help")
        detail = tooltip(app)
        assert isinstance(detail, Text)  # a Text is shown as is; a str would be parsed as markup
        assert detail.plain.startswith("3 malformed or unexpected server messages skipped")
        assert HOSTILE in detail.plain


async def test_status_bar_redraws_for_bad_messages_only_when_health_moved(
    make: AppFactory, feed: FakeFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        feed.push_bad_message("candle without time")
        await settle(pilot, app)
        bar = app.status_bar
        shown = tooltip(app)
        refreshes: list[object] = []
        original = bar.refresh

        def counting_refresh(*regions: object, **kwargs: bool) -> object:
            refreshes.append(regions)
            return original(*regions, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(bar, "refresh", counting_refresh)
        # Unannounced changes (no version bump) are not even looked at: no rebuild, no redraw.
        feed.health.last_bad_reason = "changed without a version bump"
        app.render_tick()
        app.render_tick()
        await pilot.pause()
        assert tooltip(app) is shown and not refreshes

        feed.health.version += 1  # e.g. a watch entry moved: the text stays, so no redraw either
        app.render_tick()
        assert "changed without a version bump" in getattr(tooltip(app), "plain", "")
        assert not refreshes

        feed.push_bad_message("candle time out of range")
        app.render_tick()
        assert "⚠ 2 bad msgs" in bar.text.plain and len(refreshes) == 1


async def test_tooltip_renders_the_reason_literally(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    app.TOOLTIP_DELAY = 0.01
    async with app.run_test(size=SIZE, tooltips=True) as pilot:
        fill(feed, MAIN)
        feed.push_bad_message(HOSTILE, count=4)
        await settle(pilot, app)
        await pilot.hover("#status", offset=(2, 0))
        tip = app.screen.get_child_by_type(Tooltip)
        await wait_for(pilot, lambda: bool(tip.display))
        await pilot.pause()
        lines = tip.render_lines(tip.region.reset_offset)
        # The tooltip wraps at spaces: compare with runs of spaces folded.
        rendered = " ".join("".join(segment.text for strip in lines for segment in strip).split())
        assert HOSTILE in rendered


async def test_help_shows_the_last_reason(make: AppFactory, feed: FakeFeed, clock: ManualClock) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = screen(app)
        assert isinstance(help_screen, HelpScreen) and not help_screen.query("#feed-detail")
        await pilot.press("escape")

        feed.push_bad_message(HOSTILE, count=5)
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        detail = screen(app).query_one("#feed-detail", Static)
        assert isinstance(detail.content, Text) and HOSTILE in detail.content.plain
