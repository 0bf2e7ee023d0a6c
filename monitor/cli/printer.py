"""`monitor stream`'s output: the outbox the receive loop queues into, and the printer's rules."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.alerts.events import AlertFired
from monitor.feed import ConnectionState, FeedLike, HealthEvent
from monitor.market import Candle, Origin, SeriesKey

PRINTED_PER_SERIES = 20_000
"""Closed candles remembered per series to tell corrections from re-sends (bounded memory)."""
HOLD_LIVE_S = 5.0
"""Wall seconds a series' live lines wait for its initial history (printed first, in time order);
past this (history failing or slow) they are printed anyway, the history following when it comes."""


@dataclass(slots=True)
class _Slot:
    """A queued place for the newest forming candle of one series (emptied when superseded)."""

    key: SeriesKey
    candle: Candle | None


@dataclass(frozen=True, slots=True)
class AlertLine:
    """An alert that fired: its own stdout line, never conflated or dropped."""

    fired: AlertFired


Update = tuple[SeriesKey, Candle] | str | AlertLine
"""What the writer gets: a candle update, a stderr line or an alert."""


class Outbox:
    """Updates waiting for the writer, in arrival order.

    Closed candles and health lines are never dropped. Forming candles are conflated per series:
    the queue holds one slot per series and period, and the newest forming candle wins. Closing
    is the feed's word alone (the server's, see the README's "closed means final"): the outbox
    never closes a period because a later one began.
    """

    def __init__(self) -> None:
        self._items: deque[tuple[SeriesKey, Candle] | _Slot | str | AlertLine] = deque()
        self._forming: dict[SeriesKey, _Slot] = {}
        self._newest: dict[SeriesKey, int] = {}
        self._ready = asyncio.Event()
        self._closed = False

    def put_candle(self, key: SeriesKey, candle: Candle) -> None:
        """Queues one candle update (called on the receive loop: cheap, never blocks)."""
        newest = self._newest.get(key)
        if newest is None or candle.time > newest:
            self._newest[key] = newest = candle.time
        slot = self._forming.get(key)
        if candle.closed:
            if slot is not None and slot.candle is not None and slot.candle.time <= candle.time:
                slot.candle = None  # superseded: the closed candle says more
                del self._forming[key]
            self._items.append((key, candle))
        elif candle.time < newest:
            return  # a late forming update of a period a later one has already replaced
        else:
            if slot is not None and slot.candle is not None and slot.candle.time == candle.time:
                slot.candle = candle
            else:
                if slot is not None:
                    slot.candle = None
                slot = self._forming[key] = _Slot(key, candle)
                self._items.append(slot)
        self._ready.set()

    def put_alert(self, fired: AlertFired) -> None:
        """Queues an alert event for stdout (the alert engine's listener: cheap, never blocks)."""
        self._items.append(AlertLine(fired))
        self._ready.set()

    def put_line(self, line: str) -> None:
        """Queues one line for stderr."""
        self._items.append(line)
        self._ready.set()

    def close(self) -> None:
        """No more updates: the writer drains what is queued and ends."""
        self._closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def next_batch(self) -> list[Update] | None:
        """Everything queued now (waiting for something); None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        batch: list[Update] = []
        while self._items:
            item = self._items.popleft()
            if isinstance(item, _Slot):
                if item.candle is not None:
                    batch.append((item.key, item.candle))
                    if self._forming.get(item.key) is item:
                        del self._forming[item.key]
            else:
                batch.append(item)
        return batch


class Printer:
    """Formats updates and decides which closed candles to print (each once; corrections again).

    A series' live lines wait (up to HOLD_LIVE_S) until its initial history is in the book, so the
    history is printed first and the output runs in time order.
    """

    def __init__(self, feed: FeedLike, ids: Sequence[str], *, as_json: bool) -> None:
        self._feed = feed
        self._ids = list(ids)
        self._as_json = as_json
        self._names: dict[str, tuple[str, str]] = {}
        self._printed: dict[SeriesKey, OrderedDict[int, tuple[float, float, float, float, int]]] = {}
        self._newest_closed: dict[SeriesKey, int] = {}
        self._held: dict[SeriesKey, list[Candle]] = {}
        """Live updates of series whose history is not in yet, in arrival order."""
        self._held_since: dict[SeriesKey, float] = {}
        self._flowing: set[SeriesKey] = set()
        """Series printed as they come (history in, or held long enough)."""

    def render(self, batch: Sequence[Update]) -> tuple[list[str], list[str]]:
        """stdout lines and stderr lines for a batch, in order."""
        lines: list[str] = []
        notes: list[str] = []
        # The history may be in by now while its lines are still in this batch (they were queued
        # after a live candle that came first): those series' live lines wait for the batch's end.
        history_later = {i[0] for i in batch if isinstance(i, tuple) and i[1].origin is not Origin.STREAM}
        for item in batch:
            if isinstance(item, str):
                notes.append(item)
                continue
            if isinstance(item, AlertLine):
                lines.append(self.alert_line(item.fired))
                continue
            key, candle = item
            flows = key in self._flowing or (key not in history_later and self._flows(key, lines))
            if candle.origin is not Origin.STREAM or flows:
                self._print(key, candle, lines)
            else:
                self._hold(key, candle)
        for key in list(self._held):
            self._flows(key, lines)
        return lines, notes

    def _flows(self, key: SeriesKey, lines: list[str]) -> bool:
        """Whether `key`'s live lines print as they come; releases what was held once they do."""
        if key in self._flowing:
            return True
        series = self._feed.book.find(key)
        since = self._held_since.get(key)
        if (series is not None and series.history_loaded) or (
            since is not None and time.monotonic() - since >= HOLD_LIVE_S
        ):
            self._release(key, lines)
            return True
        return False

    def flush(self) -> list[str]:
        """Every held line (the stream is ending)."""
        lines: list[str] = []
        for key in list(self._held):
            self._release(key, lines)
        return lines

    def _hold(self, key: SeriesKey, candle: Candle) -> None:
        held = self._held.setdefault(key, [])
        self._held_since.setdefault(key, time.monotonic())
        if held and not held[-1].closed and not candle.closed and held[-1].time == candle.time:
            held[-1] = candle  # conflated, as the outbox does
        else:
            held.append(candle)

    def _release(self, key: SeriesKey, lines: list[str]) -> None:
        self._flowing.add(key)
        self._held_since.pop(key, None)
        for candle in self._held.pop(key, []):
            self._print(key, candle, lines)

    def _print(self, key: SeriesKey, candle: Candle, lines: list[str]) -> None:
        correction = False
        printed = self._printed.setdefault(key, OrderedDict())
        values = (candle.open, candle.high, candle.low, candle.close, candle.volume)
        if candle.closed:
            before = printed.get(candle.time)
            if before == values:
                return  # an identical re-send (stream and backfill overlap)
            correction = before is not None
            printed[candle.time] = values
            if len(printed) > PRINTED_PER_SERIES:
                printed.popitem(last=False)
            self._newest_closed[key] = max(candle.time, self._newest_closed.get(key, candle.time))
        elif candle.time <= self._newest_closed.get(key, -1):
            return  # a late forming update of a period already printed as closed
        lines.append(self.candle_line(key, candle, correction=correction))

    def candle_line(self, key: SeriesKey, candle: Candle, *, correction: bool = False) -> str:
        """One stdout line for a candle update."""
        watch_id, ticker = self._name(key.uid)
        when = datetime.fromtimestamp(candle.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self._as_json:
            record: dict[str, object] = {
                "instrument": watch_id,
                "uid": key.uid,
                "ticker": ticker,
                "interval": key.interval.code,
                "time": when,
                "open": candle.open,
                "high": candle.high,
                "low": candle.low,
                "close": candle.close,
                "volume": candle.volume,
                "closed": candle.closed,
                "source": candle.origin.value,
            }
            if correction:
                record["correction"] = True
            return json.dumps(record, separators=(",", ":")) + "\n"
        state = "closed" if candle.closed else "forming"
        flags = f"{state} {candle.origin.value}" + (" correction" if correction else "")
        return (
            f"{when} {ticker or watch_id} {key.interval.code} O {candle.open:g} H {candle.high:g} "
            f"L {candle.low:g} C {candle.close:g} V {candle.volume} {flags}\n"
        )

    def alert_line(self, fired: AlertFired) -> str:
        """One stdout line for an alert: `{"event": "alert", "rule": …}` or a line for people."""
        if self._as_json:
            return json.dumps(fired.record(), separators=(",", ":"), ensure_ascii=False) + "\n"
        return f"{fired.iso_time} ALERT {fired.title}: {fired.body}\n"

    def health_line(self, event: HealthEvent, next_retry_at: float | None) -> str:
        """One stderr line for a connection transition."""
        when = datetime.fromtimestamp(event.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [f"monitor: {when} {event.label}"]  # LAGGING while a stream's data arrives late
        if event.reason:
            parts.append(f"reason={json.dumps(event.reason, ensure_ascii=False)}")
        if event.code:
            parts.append(f"code={event.code}")
        if event.attempt:
            parts.append(f"attempt={event.attempt}")
        if event.lagging is not None:
            parts.append(f"lag={event.lag:.1f}s")
        if event.state is ConnectionState.RECONNECTING and next_retry_at is not None:
            parts.append(f"next_retry_in={max(0.0, next_retry_at - event.at):.1f}s")
        return " ".join(parts) + "\n"

    def _name(self, uid: str) -> tuple[str, str]:
        """(the id as the user gave it, the ticker) for an instrument uid."""
        known = self._names.get(uid)
        if known is not None:
            return known
        for watch_id in self._ids:
            instrument = self._feed.instrument(watch_id)
            if instrument is not None and instrument.uid == uid:
                self._names[uid] = (watch_id, instrument.ticker)
                return self._names[uid]
        return (self._ids[0] if len(self._ids) == 1 else uid), ""
