"""Clock skew: pings carry the server's send time; a clock far off it is warned about once."""

from __future__ import annotations

from datetime import UTC

from structlog.testing import capture_logs

from monitor.feed import CLOCK_SKEW_WARN_S
from monitor.feed.config import FeedConfig
from monitor.feed.health import Health
from monitor.feed.receive import Receiver
from monitor.feed.subscriptions import Subscriptions
from monitor.feed.testing import ManualClock
from monitor.market import CandleBook
from monitor.pb import common_pb2
from monitor.pb import marketdata_pb2 as md
from monitor.ui.widgets.status_bar import StatusInfo, status_text
from monitor.wire import seconds_to_timestamp

T0 = 1_764_000_000.0


def _receiver(speed: float = 1.0) -> tuple[Receiver, Health]:
    health, book = Health(), CandleBook()
    subscriptions = Subscriptions(
        config=FeedConfig(), clock=ManualClock(T0), health=health, book=book, on_change=lambda: None
    )
    receiver = Receiver(
        book=book,
        health=health,
        subscriptions=subscriptions,
        emit=lambda: None,
        emit_candle=lambda key, candle: None,
        clock_speed=speed,
    )
    return receiver, health


def _on_data(receiver: Receiver, response: md.MarketDataResponse, now: float) -> None:
    receiver.on_message(response, response.WhichOneof("payload"), now)


def _ping(sent_at: float | None) -> md.MarketDataResponse:
    ping = common_pb2.Ping(stream_id="s")
    if sent_at is not None:
        ping.time.CopyFrom(seconds_to_timestamp(sent_at))
    return md.MarketDataResponse(ping=ping)


def test_a_ping_measures_the_skew_in_wall_seconds() -> None:
    """Our clock minus the server's send time; against a 300x simulator, in wall seconds."""
    receiver, health = _receiver()
    _on_data(receiver, _ping(T0 - 3.25), T0)
    assert health.clock_skew == 3.25
    fast, fast_health = _receiver(speed=300.0)
    _on_data(fast, _ping(T0 - 30.0), T0)  # 30 sim-seconds = 0.1 s of network delay at 300x
    assert fast_health.clock_skew == 0.1
    _on_data(receiver, _ping(None), T0 + 5)  # no time: nothing to compare
    assert health.clock_skew == 3.25


def test_the_health_version_moves_only_when_the_skew_moved_visibly() -> None:
    receiver, health = _receiver()
    _on_data(receiver, _ping(T0 - 0.01), T0)
    version = health.version
    _on_data(receiver, _ping(T0 + 10 - 0.02), T0 + 10)
    assert health.version == version  # 10 ms of jitter: no redraw
    _on_data(receiver, _ping(T0 + 20 - 4.0), T0 + 20)
    assert health.version == version + 1 and health.clock_skew == 4.0


def test_a_skewed_clock_is_logged_once_and_shown_in_the_status_bar() -> None:
    receiver, health = _receiver()
    info = StatusInfo(False, 0, None, "utc")
    with capture_logs() as logs:
        _on_data(receiver, _ping(T0 - 0.3), T0)
        assert "clock" not in status_text(health, info, T0, UTC).plain
        for n in range(3):
            _on_data(receiver, _ping(T0 + n + 5.0), T0 + n)  # ours 5 s behind the server
    assert [e["event"] for e in logs if e["event"] == "clock_skew"] == ["clock_skew"]
    assert abs(health.clock_skew or 0) >= CLOCK_SKEW_WARN_S
    assert "⚠ clock -5.0s" in status_text(health, info, T0 + 3, UTC).plain
