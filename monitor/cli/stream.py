"""`monitor stream`: live candles as NDJSON (or compact lines) on stdout, health on stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.cli import demo
from monitor.cli.common import (
    add_connection_arguments,
    clock_from_args,
    interval_arg,
    settings_from_args,
    silence,
)
from monitor.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from monitor.feed import ConnectionState, FeedLike, HealthEvent
from monitor.market import Candle, Interval, Origin, SeriesKey, WatchKey

PRINTED_PER_SERIES = 20_000
"""Closed candles remembered per series to tell corrections from re-sends (bounded memory)."""
HOLD_LIVE_S = 5.0
"""Wall seconds a series' live lines wait for its initial history (printed first, in time order);
past this (history failing or slow) they are printed anyway, the history following when it comes."""


def add_parser(subparsers: Any) -> None:
    """Registers `monitor stream ID [ID ...] [--interval 1m] [--json]`."""
    parser = subparsers.add_parser(
        "stream",
        help="print live candles to stdout (NDJSON with --json)",
        description="Stream candles of one or more instruments; health changes go to stderr. "
        "With no token, streams from the built-in simulator.",
    )
    parser.add_argument("ids", nargs="+", metavar="ID", help="instrument: TICKER_CLASSCODE, FIGI or uid")
    parser.add_argument(
        "--interval",
        type=interval_arg,
        default=Interval.M1,
        metavar="INTERVAL",
        help="1m (default), 5m, 1h…",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per candle update")
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Streams until Ctrl+C (exit 130), SIGTERM (exit 0) or a fatal feed error (exit 1)."""
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    # Imported here: `monitor --help` builds every command's parser and must not load grpc.
    from monitor.feed import Feed

    settings, _ = settings_from_args(args)
    clock = clock_from_args(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    interrupted: list[int] = []

    def on_signal(sig: int) -> None:
        interrupted.append(sig)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        async with demo.feed_config(settings, clock) as config:
            if config.mode == "DEMO":
                print(
                    f"monitor: no token: streaming from the built-in simulator at {config.endpoint}",
                    file=sys.stderr,
                )
            feed = Feed(config=config, clock=clock)
            status = await stream(feed, args.ids, args.interval, as_json=args.json, stop=stop)
            # Ctrl+C is an interruption (130, as every command); SIGTERM is a requested stop (0).
            return EXIT_INTERRUPTED if signal.SIGINT in interrupted and status == EXIT_OK else status
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def stream(
    feed: FeedLike,
    ids: Sequence[str],
    interval: Interval,
    *,
    as_json: bool,
    stop: asyncio.Event,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Runs `feed` for `ids` and prints its updates until `stop` is set or the feed gives up.

    The feed's callbacks only queue updates; a writer task formats them and writes from a
    thread, so a slow or blocked stdout never stalls the receive loop.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    outbox = Outbox()
    printer = Printer(feed, ids, as_json=as_json)
    fatal: list[HealthEvent] = []

    def on_event(event: HealthEvent) -> None:
        outbox.put_line(printer.health_line(event, feed.health.next_retry_at))
        if event.state is ConnectionState.AUTH_FAILED:
            fatal.append(event)
            stop.set()

    feed.add_candle_listener(
        lambda key, candle: outbox.put_candle(key, candle) if key.interval is interval else None
    )
    feed.add_event_listener(on_event)
    feed.watch([WatchKey(watch_id, interval) for watch_id in ids])
    writer = asyncio.create_task(_write(outbox, printer, out, err, stop))
    runner = asyncio.create_task(feed.run())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        gave_up = runner.done() and not stop.is_set()
    finally:
        await feed.close()
        for task in (runner, stopped):
            task.cancel()
        results = await asyncio.gather(runner, stopped, return_exceptions=True)
        outbox.close()
        await writer
    failure = results[0]
    if isinstance(failure, Exception):
        print(f"monitor: error: the feed stopped: {type(failure).__name__}: {failure}", file=err)
        return EXIT_FAILED
    if gave_up:
        print(f"monitor: error: the feed stopped: {feed.health.last_reason or 'unknown reason'}", file=err)
    return EXIT_FAILED if fatal or gave_up else EXIT_OK


async def _write(outbox: Outbox, printer: Printer, out: TextIO, err: TextIO, stop: asyncio.Event) -> None:
    while True:
        batch = await outbox.next_batch()
        lines, notes = printer.render(batch) if batch is not None else (printer.flush(), [])
        if batch is None and not lines:
            return
        try:
            await asyncio.to_thread(_emit, out, lines, err, notes)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python's exit flush silent.
            silence(out)
            stop.set()
            return
        if batch is None:
            return


def _emit(out: TextIO, lines: list[str], err: TextIO, notes: list[str]) -> None:
    if notes:
        err.write("".join(notes))
        err.flush()
    if lines:
        out.write("".join(lines))
        out.flush()


@dataclass(slots=True)
class _Slot:
    """A queued place for the newest forming candle of one series (emptied when superseded)."""

    key: SeriesKey
    candle: Candle | None


Update = tuple[SeriesKey, Candle] | str
"""What the writer gets: a candle update or a stderr line."""


class Outbox:
    """Updates waiting for the writer, in arrival order.

    Closed candles and health lines are never dropped. Forming candles are conflated per series:
    the queue holds one slot per series and period, and the newest forming candle wins. Closing
    is the feed's word alone (the server's, see the README's "closed means final"): the outbox
    never closes a period because a later one began.
    """

    def __init__(self) -> None:
        self._items: deque[tuple[SeriesKey, Candle] | _Slot | str] = deque()
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
        for item in batch:
            if isinstance(item, str):
                notes.append(item)
                continue
            key, candle = item
            if candle.origin is not Origin.STREAM or self._flows(key, lines):
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
