"""A live theme change recolours the candle panels (and the sidebar's changes) on the next repaint."""

from __future__ import annotations

from textual.color import Color
from textual.pilot import Pilot

from monitor.feed.testing import FakeFeed
from monitor.settings import UISettings
from monitor.ui.app import MonitorApp
from monitor.ui.render import cells
from monitor.ui.render.base import ChartStyle
from monitor.ui.theme import chart_style, rich_color
from monitor.ui.widgets import CandlePanel
from tests.ui.uikit import MAIN, SIZE, AppFactory, RenderCounts, fill, settle

BODY = set("█▀▄╿╽")
"""Glyphs only a candle body (or a volume bar, in the same hue) is drawn with."""


def hexed(value: str) -> str:
    """A theme value as the lower-case #rrggbb Rich reports."""
    return Color.parse(value).hex.lower()


def panel_colors(panel: CandlePanel) -> tuple[set[str], set[str]]:
    """(candle-body colours, axis colours) of the chart lines the panel paints now."""
    bodies: set[str] = set()
    axis: set[str] = set()
    for y in range(1, panel.size.height):
        for segment in panel.render_line(y):
            color = segment.style.color if segment.style is not None else None
            if color is None:
                continue
            if BODY & set(segment.text):
                bodies.add(color.name)
            elif "│" in segment.text or "┤" in segment.text:
                axis.add(color.name)
    return bodies, axis


async def switch_theme(pilot: Pilot[int], app: MonitorApp, name: str) -> None:
    """What the command palette's theme picker does: set `App.theme`; then let a frame pass."""
    app.theme = name
    await pilot.pause()
    await settle(pilot, app)


async def test_theme_change_recolours_candles(
    make: AppFactory, feed: FakeFeed, renders: RenderCounts
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        panel = app.panel_widgets[0]
        dark = app.theme_variables
        before, axis_before = panel_colors(panel)
        assert before == {hexed(dark["success"]), hexed(dark["error"])}
        built = [renders.chart(p) for p in app.panel_widgets[:4]]

        await switch_theme(pilot, app, "nord")
        nord = app.theme_variables
        after, axis_after = panel_colors(panel)
        assert after == {hexed(nord["success"]), hexed(nord["error"])}
        assert after.isdisjoint(before) and axis_after != axis_before
        # Each panel on screen is rebuilt once for the new colours; nothing was left half-coloured.
        assert [renders.chart(p) for p in app.panel_widgets[:4]] == [n + 1 for n in built]
        assert (app.sidebar.up_color, app.sidebar.down_color) == (app.chart_style.up, app.chart_style.down)
        # The shared row cache was emptied: no strip in it still carries the old candle colours.
        cached = {
            segment.style.color.name
            for strip in cells._ROWS.values()
            for segment in strip
            if segment.style is not None and segment.style.color is not None
        }
        assert cached and cached.isdisjoint(before)

        # No theme change, no rebuild: the colours are not looked up again on a frame.
        app.refresh_now()
        await pilot.pause()
        assert [renders.chart(p) for p in app.panel_widgets[:4]] == [n + 1 for n in built]


async def test_light_theme_recolours_axis_under_same_candle_colours(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        panel = app.panel_widgets[1]
        bodies, axis = panel_colors(panel)
        await switch_theme(pilot, app, "textual-light")
        light_bodies, light_axis = panel_colors(panel)
        # textual-light shares textual-dark's success/error, but its muted text is dark, not light grey.
        assert light_bodies == bodies and light_axis != axis


async def test_colours_set_in_settings_survive_a_theme_change(make: AppFactory, feed: FakeFeed) -> None:
    app = make(up_color="blue", down_color="magenta")
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        panel = app.panel_widgets[0]
        assert panel_colors(panel)[0] == {"blue", "magenta"}
        axis = panel_colors(panel)[1]
        await switch_theme(pilot, app, "gruvbox")
        bodies, new_axis = panel_colors(panel)
        assert bodies == {"blue", "magenta"} and new_axis != axis


def test_chart_style_from_theme_variables() -> None:
    variables = {
        "background": "#000000",
        "foreground": "#FFFFFF",
        "foreground-muted": "#FFFFFF80",
        "success": "#00FF00",
        "error": "#FF0000",
        "primary": "#0000FF",
        "warning": "#FFFF00",
    }
    style = chart_style(variables, UISettings())
    assert (style.up, style.down) == ("#00FF00", "#FF0000")
    assert (style.backfill, style.last_price) == ("#0000FF", "#FFFF00")
    assert style.axis == "#808080"  # translucent: blended over the background
    assert style.gap == "#4C4C4C"  # the foreground at 30 %
    assert style.background is None  # the panel paints its own surface
    pinned = chart_style(variables, UISettings(down_color="purple"))
    assert (pinned.up, pinned.down) == ("#00FF00", "purple")


def test_chart_style_falls_back_where_the_theme_has_no_solid_colour() -> None:
    ansi = {"background": "ansi_default", "foreground": "ansi_default"}
    ansi |= {"foreground-muted": "ansi_default 50%"}
    ansi |= {"success": "ansi_green", "error": "ansi_red", "primary": "ansi_blue", "warning": "nonsense"}
    style = chart_style(ansi, UISettings())
    assert (style.up, style.down, style.backfill) == ("color(2)", "color(1)", "color(4)")
    defaults = ChartStyle()
    assert (style.axis, style.gap, style.last_price) == (defaults.axis, defaults.gap, defaults.last_price)
    assert chart_style({}, UISettings(up_color="cyan")).up == "cyan"
    assert chart_style({}, UISettings()).down == UISettings().down_color
    assert rich_color("#FFFFFF80", background=None) is None


def test_cursor_and_indicator_lines_take_theme_colours() -> None:
    variables = {"background": "#000000", "foreground": "#EEEEEE", "primary": "#0000FF"}
    variables |= {"secondary": "#00FFFF", "accent": "#0000FF"}
    style = chart_style(variables, UISettings())
    assert style.cursor == "#EEEEEE"
    # Primary, secondary and accent first (a repeated colour only once), then the fallback's.
    assert style.lines[:2] == ("#0000FF", "#00FFFF")
    assert style.lines[2:] == ChartStyle().lines
    assert chart_style({}, UISettings()).lines == ChartStyle().lines


async def test_light_theme_borders_stand_out_from_the_background(make: AppFactory, feed: FakeFeed) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        await switch_theme(pilot, app, "textual-light")
        background = Color.parse(app.theme_variables["background"])
        faint = Color.parse(app.theme_variables["panel-lighten-2"])
        for widget in (app.panel_widgets[1], app.sidebar):
            border = widget.styles.border_top[1]
            # Composited over the background, the border stands further from it than the old shade.
            shown = background + border
            old_contrast = abs(faint.brightness - background.brightness)
            assert abs(shown.brightness - background.brightness) > old_contrast
