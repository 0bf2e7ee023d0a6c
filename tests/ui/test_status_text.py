"""Status texts tell the truth in an outage: attempts in flight, silence, and panels with no data."""

from __future__ import annotations

from datetime import UTC

import pytest

from monitor.feed import ConnectionState, Health, WatchState, WatchView
from monitor.market import Interval, TradingPhase, WatchKey
from monitor.ui.badge import NO_DATA_AFTER_S, Badge, panel_badge, row_level
from monitor.ui.widgets.status_bar import StatusInfo, attempt_text, banner_text, status_text

KEY = WatchKey("SBER_TQBR", Interval.M1)


class _Stream:
    def __init__(self, last_message_at: float) -> None:
        self.messages = 1
        self.last_message_at: float | None = last_message_at


def reconnecting(at: float, attempt: int, due: float | None, last_message_at: float | None = None) -> Health:
    health = Health(endpoint="api:443")
    if last_message_at is not None:
        stream = _Stream(last_message_at)
        health.count_from(stream)
        health.stop_counting(stream)
    health.transition(ConnectionState.LIVE, at=0.0)
    health.transition(ConnectionState.RECONNECTING, at, "UNAVAILABLE", attempt=attempt, next_retry_at=due)
    return health


def test_a_waiting_attempt_counts_down() -> None:
    health = reconnecting(at=100.0, attempt=3, due=104.0)
    assert attempt_text(health, 100.5) == "attempt 3, retry in 3s"
    assert "RECONNECTING attempt 3, retry in 3s" in status_text(health, StatusInfo(), 100.5, UTC).plain


def test_an_attempt_in_flight_says_connecting_with_its_elapsed_time() -> None:
    health = reconnecting(at=100.0, attempt=3, due=104.0)
    assert attempt_text(health, 104.0) == "connecting, attempt 3, 0s"
    line = status_text(health, StatusInfo(), 116.0, UTC).plain
    assert "RECONNECTING connecting, attempt 3, 12s" in line
    assert "retry in" not in line


def test_an_attempt_without_a_due_time_names_only_its_number() -> None:
    assert attempt_text(reconnecting(at=100.0, attempt=2, due=None), 150.0) == "attempt 2"


def test_the_outage_banner_counts_from_the_last_message_received() -> None:
    """The transition came 46 s after the last message (the watchdog's bound): the banner says 100s."""
    health = reconnecting(at=46.0, attempt=3, due=101.0, last_message_at=0.0)
    message = banner_text(health, StatusInfo(), 100.0)
    assert message is not None
    assert message.startswith("No connection to api:443 for 1m40s (UNAVAILABLE).")
    assert "Next try in 1s." in message


def test_the_outage_banner_of_an_attempt_in_flight_says_how_long_it_has_been_connecting() -> None:
    health = reconnecting(at=46.0, attempt=3, due=88.0, last_message_at=0.0)
    message = banner_text(health, StatusInfo(), 100.0) or ""
    assert "for 1m40s" in message and "Attempt 3 connecting for 12s." in message
    assert "Next try" not in message


def test_the_outage_banner_without_any_message_counts_from_the_outage_start() -> None:
    health = reconnecting(at=20.0, attempt=3, due=200.0)
    assert "No connection to api:443 for 1m20s" in (banner_text(health, StatusInfo(), 100.0) or "")


def view(age: float | None, phase: TradingPhase | None, now: float = 1000.0) -> WatchView:
    return WatchView(KEY, WatchState.ACTIVE, phase=phase, last_data_at=None if age is None else now - age)


def live_health() -> Health:
    health = Health()
    health.transition(ConnectionState.LIVE, at=0.0)
    return health


@pytest.mark.parametrize("phase", [TradingPhase.TRADING, None])
def test_a_trading_panel_silent_beyond_its_expected_gap_reads_no_data(phase: TradingPhase | None) -> None:
    health = live_health()
    assert panel_badge(view(NO_DATA_AFTER_S, phase), health, 1000.0) == Badge("LIVE", "30s", "ok")
    assert panel_badge(view(43.0, phase), health, 1000.0) == Badge("NO DATA", "43s", "warn")
    assert panel_badge(view(3600.0, phase), health, 1000.0).text == "NO DATA 1h00m"


def test_the_expected_gap_is_shorter_than_the_connection_watchdog() -> None:
    """A dead stream shows on the panels before the watchdog (3 pings of 15 s) calls it STALE."""
    assert NO_DATA_AFTER_S < 3 * 15.0


def test_fresh_data_reads_live() -> None:
    assert panel_badge(view(2.0, TradingPhase.TRADING), live_health(), 1000.0) == Badge("LIVE", "2s", "ok")
    assert panel_badge(view(None, TradingPhase.TRADING), live_health(), 1000.0).text == "LIVE no trades yet"


def test_a_closed_market_or_an_auction_never_reads_no_data() -> None:
    health = live_health()
    assert panel_badge(view(600.0, TradingPhase.CLOSED), health, 1000.0) == Badge("CLOSED", "10m00s", "muted")
    assert panel_badge(view(600.0, TradingPhase.LIMITED), health, 1000.0) == Badge("LIVE", "10m00s", "ok")


def test_connection_trouble_comes_before_no_data() -> None:
    health = live_health()
    health.transition(ConnectionState.STALE, at=1.0)
    assert panel_badge(view(50.0, TradingPhase.TRADING), health, 1000.0).label == "STALE"
    health.transition(ConnectionState.RECONNECTING, at=2.0, attempt=1, next_retry_at=3.0)
    assert panel_badge(view(50.0, TradingPhase.TRADING), health, 1000.0).text == "RECONNECTING 50s"


def lagging_view(lag: float, age: float = 1.0) -> WatchView:
    return WatchView(KEY, WatchState.ACTIVE, phase=TradingPhase.TRADING, last_data_at=1000.0 - age, lag=lag)


def test_a_lagging_stream_reads_lagging_with_its_lag_on_the_bar_and_its_panels() -> None:
    """Distinct from LIVE (on time) and STALE (silence): messages arrive, but late."""
    health = live_health()
    health.note_lag(0, 14.2, at=5.0)
    line = status_text(health, StatusInfo(), 1000.0, UTC).plain
    assert line.startswith(" ● LAGGING 14s") and "LIVE" not in line.split("  ")[0]
    assert panel_badge(lagging_view(14.2), health, 1000.0) == Badge("LAGGING", "14s", "warn")
    # A panel on another stream, on time, stays LIVE; the bar speaks for the worst stream.
    assert panel_badge(view(1.0, TradingPhase.TRADING), health, 1000.0).label == "LIVE"


def test_connection_trouble_and_a_closed_market_come_before_lagging() -> None:
    health = live_health()
    health.note_lag(0, 14.0, at=5.0)
    closed = WatchView(KEY, WatchState.ACTIVE, phase=TradingPhase.CLOSED, last_data_at=990.0, lag=14.0)
    assert panel_badge(closed, health, 1000.0).label == "CLOSED"
    health.transition(ConnectionState.STALE, at=6.0)
    assert panel_badge(lagging_view(14.0), health, 1000.0).label == "STALE"
    assert status_text(health, StatusInfo(), 1000.0, UTC).plain.startswith(" ● STALE")


def test_the_row_dot_agrees_with_the_panel_on_no_data_and_lagging() -> None:
    """The sidebar's dot said ok while the panel said NO DATA: both now warn, from one rule."""
    health = live_health()
    for shown in (view(43.0, TradingPhase.TRADING), view(43.0, None), lagging_view(9.0)):
        assert panel_badge(shown, health, 1000.0).level == "warn"
        assert row_level(shown, health, 1000.0) == "warn"
    for shown in (view(2.0, TradingPhase.TRADING), view(600.0, TradingPhase.LIMITED)):
        assert panel_badge(shown, health, 1000.0).level == row_level(shown, health, 1000.0) == "ok"
    assert row_level(view(600.0, TradingPhase.CLOSED), health, 1000.0) == "muted"
