"""The app on the real Feed against the built-in simulator (loopback): live candles appear."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli.demo import start_simulator
from monitor.settings import Settings
from monitor.ui.app import make_app
from monitor.watchlist import load_watchlists
from tests.ui.uikit import SIZE, settle, wait_for


@pytest.mark.timeout(20)
async def test_demo_mode_shows_live_candles_quickly(tmp_path: Path) -> None:
    from monitor.feed import Feed

    path = tmp_path / "watchlist.toml"
    path.write_text('[[lists]]\nname = "main"\nlayout = "1x2"\ninstruments = ["SBER_TQBR", "GAZP_TQBR"]\n')
    settings = Settings()
    sim, config = await start_simulator(settings)
    feed = Feed(config=config)
    app = make_app(settings, load_watchlists(path), path, feed, watch_file=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(
                pilot,
                lambda: all(p.view is not None and p.view.series_version > 0 for p in app.panel_widgets[:2]),
                rounds=400,
            )
            # How fast the first candles appear is a benchmark figure (tests/perf), not a test.
            await settle(pilot, app)
            assert "DEMO" in app.status_bar.text.plain and "LIVE" in app.status_bar.text.plain
            assert [p.view.badge.label for p in app.panel_widgets[:2] if p.view] == ["LIVE", "LIVE"]
            await pilot.press("q")
    finally:
        await feed.close()
        await sim.stop()
