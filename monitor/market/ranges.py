"""A set of half-open integer ranges, merged on insert: gaps and backfilled periods."""

from __future__ import annotations

from collections.abc import Iterator


class RangeSet:
    """Disjoint, sorted [start, end) ranges; adjacent or overlapping ranges merge."""

    __slots__ = ("_ranges",)

    def __init__(self, ranges: list[tuple[int, int]] | None = None) -> None:
        self._ranges: list[tuple[int, int]] = []
        for start, end in ranges or []:
            self.add(start, end)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RangeSet):
            return self._ranges == other._ranges
        if isinstance(other, list):
            return self._ranges == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"RangeSet({self._ranges!r})"

    def add(self, start: int, end: int) -> None:
        """Adds [start, end), merging with every range it touches."""
        if end <= start:
            return
        kept: list[tuple[int, int]] = []
        for lo, hi in self._ranges:
            if hi < start or lo > end:
                kept.append((lo, hi))
            else:
                start, end = min(start, lo), max(end, hi)
        kept.append((start, end))
        kept.sort()
        self._ranges = kept

    def remove(self, start: int, end: int) -> None:
        """Removes [start, end), splitting ranges that straddle it."""
        if end <= start:
            return
        kept: list[tuple[int, int]] = []
        for lo, hi in self._ranges:
            if hi <= start or lo >= end:
                kept.append((lo, hi))
                continue
            if lo < start:
                kept.append((lo, start))
            if hi > end:
                kept.append((end, hi))
        self._ranges = kept
