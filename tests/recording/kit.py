"""What the recording tests share: candle values from messages and from the book."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.feed import Feed
from monitor.market import Origin, SeriesKey
from monitor.pb import common_pb2
from monitor.pb import marketdata_pb2 as md

Values = tuple[float, float, float, float, int]


def price(q: common_pb2.Quotation) -> float:
    """As the feed reads a quotation (units + nano / 1e9)."""
    return q.units + q.nano / 1e9


def candle_values(c: md.Candle) -> Values:
    return (price(c.open), price(c.high), price(c.low), price(c.close), c.volume)


def recorded_versions(messages: Iterable[md.MarketDataResponse]) -> dict[str, dict[int, list[Values]]]:
    """Every recorded version of every candle, by instrument uid and period, in arrival order."""
    found: dict[str, dict[int, list[Values]]] = {}
    for m in messages:
        if m.WhichOneof("payload") == "candle":
            by_period = found.setdefault(m.candle.instrument_uid, {})
            by_period.setdefault(m.candle.time.seconds, []).append(candle_values(m.candle))
    return found


def expected_closed(periods: dict[int, list[Values]]) -> dict[int, Values]:
    """What a client holds closed: every recorded period but the newest, as last recorded."""
    return {t: periods[t][-1] for t in sorted(periods)[:-1]}


def closed_candles(feed: Feed, key: SeriesKey, *, stream_only: bool = False) -> dict[int, Values]:
    """The book's closed candles of `key` (only those that came from the stream, if asked)."""
    series = feed.book.find(key)
    candles = list(series) if series is not None else []
    kept = [c for c in candles if c.closed and not (stream_only and c.origin is not Origin.STREAM)]
    return {c.time: (c.open, c.high, c.low, c.close, c.volume) for c in kept}
