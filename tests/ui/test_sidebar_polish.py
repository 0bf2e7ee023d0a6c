"""The sidebar is as wide as its rows, and the selected row is one even highlight to its edge."""

from __future__ import annotations

from monitor.ui.widgets import Row, WatchlistSidebar
from monitor.ui.widgets.sidebar import EMPTY_TEXT, GUTTER, MAX_WIDTH, Columns
from tests.ui.test_sidebar_lines import ROWS, SidebarApp

SHORT = (
    Row("SBER", "1m", "301.25", 0.0123, "open", "ok"),
    Row("VTBR", "1m", "0.02", -0.02, "open", "ok"),
)


async def test_the_selected_row_has_one_background_across_the_whole_width() -> None:
    app = SidebarApp()
    async with app.run_test() as pilot:
        sidebar = app.query_one(WatchlistSidebar)
        sidebar.show("t", SHORT, 1)
        await pilot.pause()
        strip = sidebar.render_line(1)
        assert strip.cell_length == sidebar.size.width
        backgrounds = {segment.style.bgcolor for segment in strip if segment.style is not None}
        assert len(backgrounds) == 1, f"patchy highlight: {backgrounds}"
        plain = sidebar.render_line(0)
        assert {s.style.bgcolor for s in plain if s.style is not None} != backgrounds
        colours = {segment.style.color for segment in strip if segment.style is not None}
        assert len(colours) > 1, "the parts keep their own colours on the highlight"


async def test_the_sidebar_is_as_wide_as_its_rows() -> None:
    app = SidebarApp()
    async with app.run_test() as pilot:
        sidebar = app.query_one(WatchlistSidebar)
        sidebar.show("t", SHORT, 0)
        await pilot.pause()
        columns = Columns.of(SHORT)
        assert (columns.ticker, columns.price, columns.phase) == (4, 6, 4)
        assert sidebar.size.width == max(columns.width, len(EMPTY_TEXT))
        assert sidebar.outer_size.width < MAX_WIDTH
        assert "▶1 ● SBER 1m 301.25  +1.23% open" in sidebar.render_line(0).text
        sidebar.show("t", ROWS, 0)  # a long price: the widest sidebar, that row cut
        await pilot.pause()
        assert sidebar.outer_size.width == MAX_WIDTH
        assert Columns.of(ROWS).width == MAX_WIDTH - GUTTER
