"""The health model: transitions as events, message rate and watch entries."""

from __future__ import annotations

from monitor.feed.health import ConnectionState, Health, WatchState
from monitor.market import Candle, CandleBook, Interval, SeriesKey, TradingPhase, WatchKey, phase_of


def test_transitions_are_recorded_once() -> None:
    health = Health()
    event = health.transition(ConnectionState.LIVE, at=10.0)
    assert event is not None and event.state is ConnectionState.LIVE
    assert health.transition(ConnectionState.LIVE, at=11.0) is None
    reconnecting = health.transition(
        ConnectionState.RECONNECTING, at=12.0, reason="UNAVAILABLE", code="14", attempt=1, next_retry_at=13.0
    )
    assert reconnecting is not None and reconnecting.attempt == 1
    assert health.last_reason == "UNAVAILABLE" and health.next_retry_at == 13.0
    assert [e.state for e in health.events] == [ConnectionState.LIVE, ConnectionState.RECONNECTING]
    assert health.version == 2


class _Stream:
    def __init__(self) -> None:
        self.messages = 0
        self.last_message_at: float | None = None

    def receive(self, at: float) -> None:
        self.messages += 1
        self.last_message_at = at


def test_message_rate_is_sampled_on_read() -> None:
    health, stream = Health(), _Stream()
    health.count_from(stream)
    assert health.message_rate(0.0) == 0.0
    for n in range(100):
        stream.receive(n / 100)
    assert health.message_rate(1.0) == 100.0
    assert health.message_age(3.0) == 3.0 - 0.99


def test_messages_are_read_from_the_open_streams_and_kept_when_they_end() -> None:
    """The receive loop counts on its session only; Health sums the sessions when asked."""
    health, first, second, ended = Health(), _Stream(), _Stream(), _Stream()
    health.count_from(ended)
    ended.receive(1.0)
    health.stop_counting(ended)
    health.count_from(first)
    health.count_from(second)
    for n in range(5):
        first.receive(2.0 + n)
    second.receive(4.5)
    assert health.messages == 7 and health.last_message_at == 6.0
    health.stop_counting(first)
    first.receive(99.0)  # a stream that ended no longer counts
    assert health.messages == 7 and health.last_message_at == 6.0
    second.receive(7.0)
    assert health.messages == 8 and health.last_message_at == 7.0
    health.stop_counting(second)
    health.stop_counting(second)  # twice is harmless
    assert health.messages == 8 and health.last_message_at == 7.0 and health.message_age(9.0) == 2.0


def test_watch_entries_change_only_when_different() -> None:
    health = Health()
    key = WatchKey("SBER_TQBR", Interval.M1)
    health.set_watch(key, WatchState.FAILED, "instrument not found")
    version = health.version
    health.set_watch(key, WatchState.FAILED, "instrument not found")
    assert health.version == version
    assert health.watch[key].reason == "instrument not found"


def test_trading_phases_follow_the_contract_table() -> None:
    assert phase_of(5) is TradingPhase.TRADING and phase_of(14) is TradingPhase.TRADING
    assert phase_of(2) is TradingPhase.LIMITED and phase_of(11) is TradingPhase.LIMITED
    assert phase_of(1) is TradingPhase.CLOSED and phase_of(16) is TradingPhase.CLOSED
    assert phase_of(0) is TradingPhase.UNKNOWN and phase_of(None) is TradingPhase.UNKNOWN


def test_watch_entries_follow_the_watch_keys_and_their_instruments() -> None:
    health, book = Health(), CandleBook()
    sber, gazp = WatchKey("SBER_TQBR", Interval.M1), WatchKey("GAZP_TQBR", Interval.M1)
    health.watch_only([sber, gazp])
    assert [e.state for e in health.watch.values()] == [WatchState.RESOLVING] * 2
    series = book.series(SeriesKey("uid-sber", Interval.M1))
    health.resolved(sber, "uid-sber", series)
    health.set_watch(sber, WatchState.ACTIVE)
    health.watch_only([sber])
    entry = health.watch[sber]
    assert list(health.watch) == [sber] and entry.state is WatchState.ACTIVE and entry.uid == "uid-sber"
    assert entry.last_data_at is None
    series.upsert(Candle(60, 1.0, 1.0, 1.0, 1.0, 1, False), received_at=61.0)
    assert entry.last_data_at == 61.0


def test_counters_move_only_through_their_methods() -> None:
    health = Health()
    version = health.version
    health.note_bad("candle without time")
    health.note_bad("unknown message kind", count=2)
    health.set_phase("uid", TradingPhase.TRADING)
    health.set_phase("uid", TradingPhase.TRADING)  # unchanged: no redraw
    health.note_reconnect()
    assert (health.bad_messages, health.last_bad_reason) == (3, "unknown message kind")
    assert health.trading == {"uid": TradingPhase.TRADING} and health.reconnects == 1
    assert health.version == version + 4


def test_an_attempt_is_in_flight_from_its_due_time_until_the_next_announcement() -> None:
    """The supervisor announces RECONNECTING with the attempt's due time and opens the stream then."""
    health = Health()
    health.transition(ConnectionState.LIVE, at=0.0)
    assert health.attempt_started_at(5.0) is None  # LIVE: nothing is being attempted
    health.transition(ConnectionState.RECONNECTING, at=10.0, attempt=3, next_retry_at=14.0)
    assert health.attempt_started_at(13.9) is None  # still waiting for its time
    assert health.attempt_started_at(14.0) == 14.0
    assert health.attempt_started_at(26.0) == 14.0  # a connect taking 12 s is still that attempt
    health.transition(ConnectionState.RECONNECTING, at=34.0, attempt=4, next_retry_at=40.0)
    assert health.attempt_started_at(35.0) is None  # the next one waits again
    health.transition(ConnectionState.RECONNECTING, at=41.0, attempt=5)
    assert health.attempt_started_at(50.0) is None  # no due time: nothing to count from


def test_silence_counts_from_the_last_message_not_from_the_transition() -> None:
    health, stream = Health(), _Stream()
    assert health.silent_since() is None
    health.count_from(stream)
    health.transition(ConnectionState.LIVE, at=0.0)
    stream.receive(100.0)  # the last message
    health.transition(ConnectionState.STALE, at=145.0)
    health.stop_counting(stream)
    health.transition(ConnectionState.RECONNECTING, at=146.0, attempt=1, next_retry_at=147.0)
    assert health.silent_since() == 100.0


def test_silence_without_any_message_counts_from_the_outage_start() -> None:
    health = Health()
    health.transition(ConnectionState.LIVE, at=0.0)
    health.transition(ConnectionState.RECONNECTING, at=20.0, attempt=1, next_retry_at=21.0)
    health.transition(ConnectionState.RECONNECTING, at=30.0, attempt=2, next_retry_at=32.0)
    assert health.silent_since() == 20.0
