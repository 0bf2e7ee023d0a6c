"""The sidebar draws row by row: each row must equal what the whole-text render would draw."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.visual import Visual, visualize

from monitor.ui.widgets import Row, WatchlistSidebar

ROWS = (
    Row("SBER", "1m", "301.25", 0.0123, "open", "ok"),
    Row("GAZP", "5m", "—", None, "", "warn"),
    Row("LKOH", "1h", "7 000.5", -0.01, "closed", "muted"),
    Row("YNDX", "1d", "4 100.0", 0.0, "auct", "error"),
    Row("VERYLONGTICKER", "15m", "123 456 789.123", 12.5, "open", "ok"),  # wider than the sidebar
)


class SidebarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield WatchlistSidebar(up_color="green", down_color="red")


def whole_text(sidebar: WatchlistSidebar) -> list[list[tuple[str, object]]]:
    width, height = sidebar.size
    visual = visualize(sidebar, sidebar.render())
    strips = Visual.to_strips(sidebar, visual, width, height, sidebar.visual_style)
    return [[(s.text, s.style) for s in strip] for strip in strips]


def lines(sidebar: WatchlistSidebar, count: int) -> list[list[tuple[str, object]]]:
    return [[(s.text, s.style) for s in sidebar.render_line(y)] for y in range(count)]


async def test_rows_match_the_whole_text_render() -> None:
    app = SidebarApp()
    async with app.run_test() as pilot:
        sidebar = app.query_one(WatchlistSidebar)
        for selected in (0, 2, 4):
            sidebar.show("t", ROWS, selected)
            await pilot.pause()
            # Styles include the offset meta text selection reads, so equal styles mean equal cells.
            assert lines(sidebar, len(ROWS)) == whole_text(sidebar)[: len(ROWS)]
        sidebar.show("t", (), 0)
        await pilot.pause()
        assert lines(sidebar, 1) == whole_text(sidebar)[:1]


async def test_a_price_tick_repaints_its_row_only() -> None:
    app = SidebarApp()
    async with app.run_test() as pilot:
        sidebar = app.query_one(WatchlistSidebar)
        sidebar.show("t", ROWS, 0)
        await pilot.pause()
        before = [sidebar.render_line(y) for y in range(len(ROWS))]
        moved = (ROWS[0], ROWS[1], Row("LKOH", "1h", "7 001.0", -0.009, "closed", "muted"), *ROWS[3:])
        sidebar.show("t", moved, 0)
        after = [sidebar.render_line(y) for y in range(len(ROWS))]
        assert [a is b for a, b in zip(before, after, strict=True)] == [True, True, False, True, True]
        assert "7 001.0" in after[2].text
