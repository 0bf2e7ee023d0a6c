"""Test support: a deterministic in-memory FeedLike, a clock tests step by hand, and demo data."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from monitor.clock import Clock
from monitor.feed.health import ConnectionState, Health, WatchState
from monitor.feed.listeners import Announcer, ListenerHost, Listeners
from monitor.feed.view import HistoryState, WatchView, watch_view
from monitor.market import (
    Candle,
    CandleBook,
    Instrument,
    Interval,
    RangeSet,
    SeriesKey,
    TradingPhase,
    WatchKey,
)

NOT_FOUND = "instrument not found"


class ManualClock:
    """Time that moves only when a test calls `advance()`; sleepers wake in deadline order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Moves time forward and wakes every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many waits are pending (tests wait for this to know a task is parked)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())


def demo_instrument(ticker: str, name: str, class_code: str = "TQBR", step: str = "0.01") -> Instrument:
    """An instrument with a predictable uid (`uid-<ticker>`) and FIGI."""
    return Instrument(
        uid=f"uid-{ticker.lower()}",
        figi=f"BBG{ticker.upper():0<9}"[:12],
        ticker=ticker,
        class_code=class_code,
        name=name,
        lot=1,
        price_step=Decimal(step),
    )


DEMO_INSTRUMENTS: tuple[Instrument, ...] = (
    demo_instrument("SBER", "Sberbank"),
    demo_instrument("GAZP", "Gazprom"),
    demo_instrument("LKOH", "Lukoil", step="0.5"),
    demo_instrument("YDEX", "Yandex", step="0.5"),
    demo_instrument("GMKN", "Nornickel", step="0.02"),
    demo_instrument("VTBR", "VTB Bank", step="0.005"),
)


def wave_candles(
    start: int, interval: Interval, count: int, base: float, *, seed: int = 0, forming: bool = True
) -> list[Candle]:
    """Deterministic candles following a wave (no randomness, so snapshots never move)."""
    candles: list[Candle] = []
    price = base
    for i in range(count):
        drift = math.sin((i + seed) / 5.0) * base * 0.004 + math.cos((i + 2 * seed) / 3.0) * base * 0.002
        open_, close = price, price + drift
        high = max(open_, close) + abs(math.sin(i + seed)) * base * 0.002
        low = min(open_, close) - abs(math.cos(i + seed)) * base * 0.002
        closed = not (forming and i == count - 1)
        candles.append(
            Candle(start + i * interval.seconds, open_, high, low, close, 100 + (i * 37) % 400, closed)
        )
        price = close
    return candles


class FakeFeed(ListenerHost):
    """FeedLike on a real CandleBook and Health; tests drive it with the `push_*`/`set_*` methods.

    It changes Health only through Health's methods and behaves like the real feed where the UI
    can tell: `close()` leaves the connection DOWN, a later `run()` starts it again, a crash
    reports DOWN with the error before `run()` raises it.
    """

    def __init__(
        self,
        *,
        instruments: Iterable[Instrument] = DEMO_INSTRUMENTS,
        clock: Clock | None = None,
        endpoint: str = "127.0.0.1:50051",
        mode: str = "DEMO",
        auto_activate: bool = True,
    ) -> None:
        self.book = CandleBook()
        self.health = Health(endpoint=endpoint, mode=mode)
        self.clock: Clock = clock or ManualClock()
        self.catalogue: list[Instrument] = list(instruments)
        self.auto_activate = auto_activate
        """Resolve and confirm watch entries at once (a real feed goes RESOLVING → PENDING → ACTIVE)."""
        self.watch_calls: list[tuple[WatchKey, ...]] = []
        self.searches: list[str] = []
        self.reconnect_requests = 0
        self.tokens: list[str] = []
        """Tokens handed to `reconnect_now` (the user changed theirs)."""
        self.run_calls = 0
        self.closed = False
        self.fail_next_run: BaseException | None = None
        """Raised by the next `run()`, to test how the UI handles a crashed feed."""
        self.older: dict[SeriesKey, list[Candle]] = {}
        """History `load_older` serves from, per series (`set_history`), oldest first."""
        self.page_size = 500
        """Candles one `load_older` page brings."""
        self.hold_pages = False
        """Keep pages in flight until `serve_older` (to test "loading…"); served at once otherwise."""
        self.older_requests: list[WatchKey] = []
        """Keys `load_older` scheduled a page for."""
        self.history_states: dict[SeriesKey, HistoryState] = {}
        # The real feed's listener lists and announcer: listeners hear the fake as they hear a Feed.
        self._listen = Listeners()
        self._announce = Announcer(health=self.health, clock=self.clock, listeners=self._listen)
        self._stop: asyncio.Event | None = None
        self._crash: BaseException | None = None
        self.messages = 0
        self.last_message_at: float | None = None
        # Health reads these like a stream session's counters (its only way to count messages).
        self.health.count_from(self)

    # ------------------------------------------------------------------ FeedLike

    def watch(self, keys: Sequence[WatchKey]) -> None:
        self.watch_calls.append(tuple(keys))
        new = [key for key in dict.fromkeys(keys) if key not in self.health.watch]
        self.health.watch_only(keys)
        for key in new:
            found = self.instrument(key.id)
            if found is None:
                self.health.set_watch(key, WatchState.FAILED, NOT_FOUND)
                continue
            self.health.resolved(key, found.uid, self.book.series(SeriesKey(found.uid, key.interval)))
            self.health.set_watch(key, WatchState.ACTIVE if self.auto_activate else WatchState.PENDING)
        self.notify()

    def view(self, key: WatchKey) -> WatchView:
        # One stream carries every fake series: a test lags them all with health.note_lag(0, ...).
        found = self.instrument(key.id)
        history = self._history_state(found, key.interval) if found is not None else HistoryState()
        return watch_view(
            key, health=self.health, book=self.book, instrument=found, stream=0, history=history
        )

    def _history_state(self, found: Instrument, interval: Interval) -> HistoryState:
        default = HistoryState(first_time=found.first_candle(interval))
        return self.history_states.get(SeriesKey(found.uid, interval), default)

    def load_older(self, key: WatchKey) -> None:
        found = self.instrument(key.id)
        if found is None:
            return
        skey = SeriesKey(found.uid, key.interval)
        state = self._history_state(found, key.interval)
        series = self.book.find(skey)
        if state.loading or state.at_start or series is None or not len(series):
            return
        self.older_requests.append(key)
        self.history_states[skey] = HistoryState(loading=True, first_time=state.first_time)
        if self.hold_pages:
            self.notify()
        else:
            self.serve_older(key)

    def instrument(self, watch_id: str) -> Instrument | None:
        for item in self.catalogue:
            if watch_id in (item.symbol, item.uid, item.figi):
                return item
        return None

    async def run(self) -> None:
        self.run_calls += 1
        self.closed = False
        if self.fail_next_run is not None:
            exc, self.fail_next_run = self.fail_next_run, None
            self._announce.transition(ConnectionState.DOWN, f"unexpected error: {exc}")
            raise exc
        self._stop = asyncio.Event()
        if self.health.state is ConnectionState.DOWN:
            self._announce.transition(ConnectionState.CONNECTING, "connecting")  # a restart
        if self.health.state is ConnectionState.CONNECTING:
            self.set_connection(ConnectionState.LIVE)
        await self._stop.wait()
        if self._crash is not None:
            exc, self._crash = self._crash, None
            self._announce.transition(ConnectionState.DOWN, f"unexpected error: {exc}")
            raise exc

    async def close(self) -> None:
        self.closed = True
        if self._stop is not None:
            self._stop.set()
        if self.health.state is not ConnectionState.DOWN:
            self._announce.transition(ConnectionState.DOWN, "closed")

    def reconnect_now(self, token: str | None = None) -> None:
        self.reconnect_requests += 1
        if token is not None:
            self.tokens.append(token)

    async def search(self, query: str) -> list[Instrument]:
        self.searches.append(query)
        text = query.strip().lower()
        if not text:
            return []
        return [
            item
            for item in self.catalogue
            if any(text in value.lower() for value in (item.ticker, item.name, item.figi, item.uid))
        ]

    # ------------------------------------------------------------------ test controls

    def notify(self) -> None:
        """Runs the listeners, as the real feed does after each batch."""
        self._listen.emit()

    def crash(self, exc: BaseException) -> None:
        """Makes the running `run()` raise `exc` (a feed worker crash)."""
        self._crash = exc
        if self._stop is not None:
            self._stop.set()

    def _uid(self, watch_id: str) -> str:
        found = self.instrument(watch_id)
        if found is None:
            raise KeyError(f"unknown instrument {watch_id}")
        return found.uid

    def push_candles(self, watch_id: str, interval: Interval, candles: Iterable[Candle]) -> None:
        """Upserts candles into the book (stamped as received now) and updates the quote."""
        uid = self._uid(watch_id)
        key = SeriesKey(uid, interval)
        now = self.clock.now()
        last: Candle | None = None
        for candle in candles:
            if self.book.upsert(key, candle, received_at=now):
                self._listen.emit_candle(key, candle)
            last = candle
        if last is not None:
            quote = self.book.quotes.get(uid)
            if quote is None or quote.session_open is None:
                self.book.set_session_open(uid, self.book.series(key).last()[0].open)
            self.book.set_price(uid, last.close, now)
            self._listen.emit_price(uid, last.close, now)
        self.messages += 1
        self.last_message_at = now
        self.notify()

    def set_history(self, watch_id: str, interval: Interval, candles: Iterable[Candle]) -> None:
        """Sets the history `load_older` pages through (closed candles, any order)."""
        self.older[SeriesKey(self._uid(watch_id), interval)] = sorted(candles, key=lambda c: c.time)

    def serve_older(self, key: WatchKey, error: str | None = None) -> None:
        """Completes the page in flight for `key`: the `page_size` newest history candles older than
        the oldest held go into the book (or, with `error`, the page fails with that reason)."""
        skey = SeriesKey(self._uid(key.id), key.interval)
        first = self.history_states.get(skey, HistoryState()).first_time
        series = self.book.series(skey)
        oldest = series.oldest
        history = self.older.get(skey, [])
        older = [c for c in history if oldest is None or c.time < oldest.time]
        if error is None:
            for candle in older[-self.page_size :]:
                if series.upsert(candle):
                    self._listen.emit_candle(skey, candle)
        at_start = error is None and len(older) <= self.page_size
        self.history_states[skey] = HistoryState(at_start=at_start, error=error, first_time=first)
        self.notify()

    def set_price(self, watch_id: str, price: float, session_open: float | None = None) -> None:
        """Sets the last price (and optionally the session's open) of an instrument."""
        uid = self._uid(watch_id)
        if session_open is not None:
            self.book.set_session_open(uid, session_open)
        self.book.set_price(uid, price, self.clock.now())
        self._listen.emit_price(uid, price, self.clock.now())
        self.notify()

    def set_phase(self, watch_id: str, phase: TradingPhase) -> None:
        """Sets an instrument's trading phase."""
        self.health.set_phase(self._uid(watch_id), phase)
        self.notify()

    def push_bad_message(self, reason: str, count: int = 1) -> None:
        """Counts `count` skipped server messages, as the real receiver does for hostile data."""
        self.health.note_bad(reason, count)
        self.notify()

    def set_connection(
        self,
        state: ConnectionState,
        reason: str = "",
        code: str | None = None,
        attempt: int = 0,
        next_retry_at: float | None = None,
    ) -> None:
        """Moves the connection to `state` (counting a reconnect on the way back to LIVE)."""
        if state is ConnectionState.LIVE and self.health.state in (
            ConnectionState.RECONNECTING,
            ConnectionState.STALE,
        ):
            self.health.note_reconnect()
        self._announce.transition(state, reason, code, attempt, next_retry_at)
        self.notify()


class MemoryCache:
    """A CandleCache in memory (implements `monitor.feed.cache.CandleCache`): saves apply at once,
    and `calls` counts every method called, so tests can see what the feed asked of it.

    Args:
        now: wall time for the instruments' ages (tests pass a clock's `now`).
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.candles: dict[SeriesKey, dict[int, Candle]] = {}
        self.complete: dict[SeriesKey, RangeSet] = {}
        self.instruments: dict[str, tuple[Instrument, float]] = {}
        self.calls: Counter[str] = Counter()

    def load(self, key: SeriesKey, start: int | None, end: int | None, limit: int) -> list[Candle]:
        self.calls["load"] += 1
        held = self.candles.get(key, {})
        times = sorted(t for t in held if (start is None or t >= start) and (end is None or t < end))
        return [held[t] for t in times[-limit:]] if limit > 0 else []

    def complete_ranges(self, key: SeriesKey) -> list[tuple[int, int]]:
        self.calls["complete_ranges"] += 1
        return list(self.complete.get(key, RangeSet()))

    def save(
        self, key: SeriesKey, candles: Sequence[Candle], complete: tuple[int, int] | None = None
    ) -> None:
        self.calls["save"] += 1
        held = self.candles.setdefault(key, {})
        for candle in candles:
            if candle.closed:
                held[candle.time] = candle
        if complete is not None:
            self.complete.setdefault(key, RangeSet()).add(*complete)

    def instrument(self, watch_id: str, max_age_s: float) -> Instrument | None:
        self.calls["instrument"] += 1
        saved = self.instruments.get(watch_id)
        if saved is None or self._now() - saved[1] >= max_age_s:
            return None
        return saved[0]

    def save_instrument(self, watch_id: str, instrument: Instrument) -> None:
        self.calls["save_instrument"] += 1
        self.instruments[watch_id] = (instrument, self._now())

    def flush(self) -> None:
        self.calls["flush"] += 1

    def close(self) -> None:
        self.calls["close"] += 1
