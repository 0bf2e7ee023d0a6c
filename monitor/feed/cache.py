"""The candle cache the feed starts from and saves to (the store implements it), and its range arithmetic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import structlog

from monitor.feed.api import CandleListener
from monitor.market import Candle, Instrument, Interval, Origin, RangeSet, SeriesKey

log = structlog.get_logger()


class CandleCache(Protocol):
    """Closed candles per series, the ranges known to be complete, and instruments, kept at rest.

    `save` and `save_instrument` never block the event loop: they enqueue, and `flush` waits for
    the writes. Reads (`load`, `complete_ranges`, `instrument`) may not see saves still queued, so
    the feed keeps what it fetched itself for the rest of its run.
    """

    def load(self, key: SeriesKey, start: int | None, end: int | None, limit: int) -> list[Candle]:
        """Closed candles starting in [start, end) (None: unbounded), the newest `limit`, ascending."""
        ...

    def complete_ranges(self, key: SeriesKey) -> list[tuple[int, int]]:
        """The [start, end) ranges known to hold every candle there is, merged, ascending."""
        ...

    def save(
        self, key: SeriesKey, candles: Sequence[Candle], complete: tuple[int, int] | None = None
    ) -> None:
        """Upserts closed candles; `complete` marks a range GetCandles answered in full. Never blocks."""
        ...

    def instrument(self, watch_id: str, max_age_s: float) -> Instrument | None:
        """The instrument saved for a watch id, when saved less than `max_age_s` ago."""
        ...

    def save_instrument(self, watch_id: str, instrument: Instrument) -> None:
        """Keeps the instrument a watch id resolved to (stamped now). Never blocks."""
        ...

    def flush(self) -> None:
        """Waits until every save so far is written."""
        ...

    def close(self) -> None:
        """Flushes and releases the cache."""
        ...


def holes(start: int, end: int, complete: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) no complete range covers, ascending."""
    found: list[tuple[int, int]] = []
    at = start
    for lo, hi in sorted(complete):
        if hi <= at:
            continue
        if lo >= end:
            break
        if lo > at:
            found.append((at, lo))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        found.append((at, end))
    return found


def known_complete(cache: CandleCache | None, key: SeriesKey, fetched: RangeSet | None) -> RangeSet:
    """The ranges of `key` known complete: the cache's and those fetched in full this run (which
    the cache may not have written yet). A cache that fails to read knows none."""
    known = RangeSet(list(fetched or ()))
    if cache is not None:
        try:
            for lo, hi in cache.complete_ranges(key):
                known.add(lo, hi)
        except Exception as exc:  # nothing known: every period is fetched
            log.warning("cache_read_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
    return known


def settled_end(interval: Interval, now: float, settle_s: float) -> int:
    """The latest period boundary whose period ended `settle_s` or more ago: later periods may still
    get a correction (or be forming on a server clock a little behind), so none is complete yet."""
    return interval.start_of(int(now - settle_s))


def as_history(candles: Iterable[Candle]) -> list[Candle]:
    """Cached candles as the book holds history (BACKFILL origin: they did not arrive on this stream)."""
    backfill = Origin.BACKFILL
    return [c if c.origin is backfill else c._replace(origin=backfill) for c in candles]


def stream_close_saver(cache: CandleCache) -> CandleListener:
    """A candle listener that saves each candle the stream closed (history is saved by the backfill
    with its complete range). It runs on the receive path: a test and an enqueue, nothing more."""
    stream = Origin.STREAM

    def save(key: SeriesKey, candle: Candle) -> None:
        if candle.closed and candle.origin is stream:
            cache.save(key, (candle,))

    return save
