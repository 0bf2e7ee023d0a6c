"""Zoomed-out candles: n candles of a series merged into one true-OHLCV candle per time-aligned group."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, pairwise
from operator import ne

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
    if not candles:
        return []
    size = n * interval.seconds
    keys = [candle.time // size for candle in candles]
    # Group boundaries found at C speed: where a candle's key differs from its left neighbour's.
    bounds = [0, *compress(range(1, len(keys)), map(ne, keys[1:], keys)), len(keys)]
    daily = interval.seconds >= DAY
    return [
        _merge(candles[start:stop], candles[start].time if daily else keys[start] * size)
        for start, stop in pairwise(bounds)
    ]


def _merge(group: Sequence[Candle], start: int) -> Candle:
    """One group's candle. The members' fields are transposed by zip (C speed): no Python call
    per member, which is what a zoomed-out page of thousands of candles spends its time on."""
    _, opens, highs, lows, closes, volumes, closed, origins = zip(*group, strict=True)
    backfilled = Origin.BACKFILL in origins
    # Positional: the keyword form runs the namedtuple's Python-level __new__ argument parsing.
    return Candle(
        start,
        opens[0],
        max(highs),
        min(lows),
        closes[-1],
        sum(volumes),
        all(closed),
        Origin.BACKFILL if backfilled else Origin.STREAM,
    )
