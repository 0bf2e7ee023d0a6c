"""The Receiver's per-series cache: watch-list changes, health stamps and the closed decision."""

from __future__ import annotations

from decimal import Decimal

from monitor.feed.config import FeedConfig
from monitor.feed.health import Health
from monitor.feed.receive import Receiver
from monitor.feed.subscriptions import Subscriptions
from monitor.feed.testing import ManualClock
from monitor.market import Candle, CandleBook, Instrument, Interval, SeriesKey, WatchKey
from monitor.pb import marketdata_pb2 as md

T0 = 1_764_000_000  # a minute start (2025-11-24 16:00 UTC)
UID_A, UID_B = "uid-a", "uid-b"


def _candle(uid: str, time: int, close: int = 100, interval: int = 1) -> md.MarketDataResponse:
    candle = md.Candle(instrument_uid=uid, interval=interval, volume=1)  # type: ignore[arg-type]
    candle.time.seconds = time
    for field, value in (("open", 100), ("high", 101), ("low", 99), ("close", close)):
        getattr(candle, field).units = value
    return md.MarketDataResponse(candle=candle)


def _receiver() -> tuple[Receiver, Health, CandleBook, list[tuple[SeriesKey, Candle]]]:
    health, book = Health(), CandleBook()
    seen: list[tuple[SeriesKey, Candle]] = []
    subscriptions = Subscriptions(
        config=FeedConfig(), clock=ManualClock(T0), health=health, book=book, on_change=lambda: None
    )
    receiver = Receiver(
        book=book,
        health=health,
        subscriptions=subscriptions,
        emit=lambda: None,
        emit_candle=lambda key, candle: seen.append((key, candle)),
    )
    return receiver, health, book, seen


def _watch(receiver: Receiver, health: Health, book: CandleBook, *uids: str) -> None:
    subscriptions = receiver._subscriptions
    for uid in uids:  # resolved by hand: no look-ups offline
        subscriptions._resolved[uid] = Instrument(uid, "F", uid, "TQBR", uid, 1, Decimal("0.01"))
    subscriptions.watch([WatchKey(uid, Interval.M1) for uid in uids])


def test_a_replaced_watch_list_takes_effect_for_cached_series() -> None:
    receiver, health, book, seen = _receiver()
    _watch(receiver, health, book, UID_A)
    receiver.on_candle(_candle(UID_A, T0).candle, T0 + 1)
    assert len(seen) == 1 and health.watch[WatchKey(UID_A, Interval.M1)].last_data_at == T0 + 1
    _watch(receiver, health, book, UID_B)  # A is dropped: its next candle is unsolicited now
    receiver.on_candle(_candle(UID_A, T0, close=101).candle, T0 + 2)
    assert len(seen) == 1 and health.bad_messages == 1
    receiver.on_candle(_candle(UID_B, T0).candle, T0 + 3)
    assert seen[-1][0] == SeriesKey(UID_B, Interval.M1)
    assert health.watch[WatchKey(UID_B, Interval.M1)].last_data_at == T0 + 3


def test_closed_follows_the_streams_order_not_the_receive_time() -> None:
    """A period is closed once the stream moved past it, whatever our clock says."""
    receiver, health, book, seen = _receiver()
    _watch(receiver, health, book, UID_A)

    def closed(response: md.MarketDataResponse, now: float) -> bool:
        receiver.on_candle(response.candle, now)
        return seen[-1][1].closed

    assert not closed(_candle(UID_A, T0), T0 + 30)
    assert not closed(_candle(UID_A, T0, close=101), T0 + 61)  # over on the clock: not on the stream
    assert not closed(_candle(UID_A, T0 + 60), T0 + 61)
    assert seen[-2][1].time == T0 and seen[-2][1].closed  # the later period closed T0 first
    assert closed(_candle(UID_A, T0, close=99), T0 + 62)  # the server corrects a period it left
    # An older period the stream never delivered, arriving after a later one: the server's word.
    assert closed(_candle(UID_A, T0 - 60), T0 - 30)
    assert health.bad_messages == 0 and len(book.series(SeriesKey(UID_A, Interval.M1))) == 3


def test_unknown_interval_is_bad_and_never_cached() -> None:
    receiver, health, book, seen = _receiver()
    _watch(receiver, health, book, UID_A)
    for _ in range(2):
        receiver.on_candle(_candle(UID_A, T0, interval=99).candle, T0 + 1)
    assert health.bad_messages == 2 and not seen
