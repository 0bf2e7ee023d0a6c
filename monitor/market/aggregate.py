"""Zoomed-out candles: n candles of a series merged into one true-OHLCV candle per time-aligned group."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.market.candle import Candle, Origin
from monitor.market.intervals import Interval

DAY = 86_400


def group_key(time: int, n: int, interval: Interval) -> int:
    """The group a candle starting at `time` belongs to: `time // (n * interval.seconds)`.

    Keyed on time rather than on position so that the groups do not shift as candles arrive
    (or as older ones are loaded in front of them).
    """
    return time // (max(1, n) * interval.seconds)


def aggregate(candles: Sequence[Candle], n: int, interval: Interval) -> list[Candle]:
    """The candles merged n to a group, oldest first (a copy of them when n <= 1).

    Each group is the true OHLCV of its members: the first open, the highest high, the lowest
    low, the last close and the summed volume; closed only if every member is, BACKFILL if any
    member was backfilled. An intraday group starts at its aligned time (round labels on the
    axis); a group of days or longer starts at its first member (a nominal 30-day month would
    put the aligned start in the wrong month).
    """
    if n <= 1:
        return list(candles)
    size = n * interval.seconds
    out: list[Candle] = []
    members: list[Candle] = []
    current: int | None = None
    for candle in candles:
        key = candle.time // size
        if key != current and members:
            out.append(_merge(members, current, size, interval))
            members = []
        current = key
        members.append(candle)
    if members:
        out.append(_merge(members, current, size, interval))
    return out


def _merge(members: Iterable[Candle], key: int | None, size: int, interval: Interval) -> Candle:
    group = list(members)
    first, last = group[0], group[-1]
    start = (key or 0) * size if interval.seconds < DAY else first.time
    return Candle(
        time=start,
        open=first.open,
        high=max(c.high for c in group),
        low=min(c.low for c in group),
        close=last.close,
        volume=sum(c.volume for c in group),
        closed=all(c.closed for c in group),
        origin=Origin.BACKFILL if any(c.origin is Origin.BACKFILL for c in group) else Origin.STREAM,
    )
