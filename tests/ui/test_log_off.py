"""The TUI on the real feed with a log file that takes no line (/dev/full): it streams and says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.feed import Feed
from monitor.logging import configure_logging
from monitor.settings import LogSettings
from monitor.ui.app import MonitorApp
from monitor.ui.notices import MARK
from tests.test_logging import restore_logging
from tests.ui.test_app_real_feed import ROUNDS, badges, live, make_real, real_feed
from tests.ui.uikit import SIZE, settle, wait_for

pytestmark = pytest.mark.timeout(60)
__all__ = ["make_real", "real_feed", "restore_logging"]  # fixtures, used by name


async def test_the_log_on_a_full_disk_never_stops_the_feed(
    make_real: Callable[[], MonitorApp], real_feed: Feed, restore_logging: None
) -> None:
    """Before, the first log line of the feed raised OSError in its receive loop: no LIVE, ever."""
    configure_logging(LogSettings(file=Path("/dev/full")), cache=False)
    app = make_real()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: live(real_feed), rounds=ROUNDS)
        await wait_for(
            pilot, lambda: bool(badges(app)) and all(b.startswith("LIVE") for b in badges(app)), rounds=ROUNDS
        )
        await settle(pilot, app)
        assert MARK in app.status_bar.text.plain
        told = [str(n.message) for n in app._notifications if "Logging stopped" in str(n.message)]
        assert told == [
            "Logging stopped: cannot write the log file /dev/full (No space left on device). "
            "The monitor goes on without a log."
        ]
        await pilot.press("q")
    assert app.return_code == 0
