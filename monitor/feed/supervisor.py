"""The Feed: resolves the watchlist, supervises stream sessions, reconnects, backfills gaps."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import grpc
import structlog

from monitor.clock import Clock, SystemClock
from monitor.feed.backfill import Backfiller
from monitor.feed.backoff import backoff, slow_delay
from monitor.feed.channel import metadata, open_channel
from monitor.feed.config import FeedConfig
from monitor.feed.connectivity import watch_channel
from monitor.feed.health import ConnectionState, Health, WatchState
from monitor.feed.history import HistoryClient
from monitor.feed.instruments import InstrumentResolver, resolve_round
from monitor.feed.listeners import ListenerHost, Listeners
from monitor.feed.opens import SessionOpens
from monitor.feed.receive import Receiver
from monitor.feed.registry import Outcome, Registry, SubKey, SubKind
from monitor.feed.session import Action, SessionHandler, StreamSession, classify, wait_any
from monitor.feed.view import WatchView, watch_view
from monitor.market import CandleBook, Instrument, SeriesKey, WatchKey
from monitor.pb import marketdata_pb2 as md

log = structlog.get_logger()

STABLE_AFTER_S = 60.0
"""A stream confirmed and alive this long (clock time) resets the backoff curve."""
RESOLVE_RETRY_S = 5.0


class Feed(ListenerHost, SessionHandler):
    """The live feed (implements `FeedLike`): `watch()` what you want, `run()` it, `close()` it.

    Args:
        config: endpoint, token, timings.
        clock: time for every timer (tests pass a fast ScaledClock).
        book: the CandleBook to fill (a new one by default).
        channel_factory: builds the grpc.aio channel inside the loop (default `open_channel`).
        backoff_factory: a fresh reconnect-delay iterator (default: the gRPC curve).
        rng: random source for the jitter.
    """

    def __init__(
        self,
        *,
        config: FeedConfig,
        clock: Clock | None = None,
        book: CandleBook | None = None,
        channel_factory: Callable[[FeedConfig], grpc.aio.Channel] | None = None,
        backoff_factory: Callable[[], Iterator[float]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.book = book if book is not None else CandleBook()
        self.health = Health(endpoint=config.endpoint, mode=config.mode)
        self.registry = Registry(
            clock=self.clock, max_per_stream=config.subscriptions_per_stream, max_streams=config.max_streams
        )
        self._rng = rng if rng is not None else random.Random()
        self._channel_factory = channel_factory or open_channel
        self._backoff_factory = backoff_factory or (lambda: backoff(rng=self._rng))
        self._metadata = metadata(config)
        self._channel: grpc.aio.Channel | None = None
        self._resolver: InstrumentResolver | None = None
        self._history: HistoryClient | None = None
        self._listen = Listeners()
        self._emit, self._emit_candle = self._listen.emit, self._listen.emit_candle
        self._watch: tuple[WatchKey, ...] = ()
        self._resolved: dict[str, Instrument] = {}
        self._failed: dict[str, str] = {}
        self._series_watch: dict[SeriesKey, set[WatchKey]] = {}
        self._sessions: dict[int, StreamSession] = {}
        self._changed = asyncio.Event()
        # Set by watch() and reconnect_now() only: the resolve loop must not wake on its own
        # _notify() (it would spin without ever yielding to the event loop).
        self._watch_changed = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._fatal = False
        self._channel_problem: str | None = None
        self._closed = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._backfill = Backfiller(
            book=self.book,
            clock=self.clock,
            history_candles=config.history_candles,
            watched=lambda: self._series_watch,
            on_candle=self._emit_candle,
            on_change=self._emit,
        )
        self._receiver = Receiver(
            book=self.book,
            health=self.health,
            registry=self.registry,
            emit=self._emit,
            emit_candle=self._listen.emit_stream_candle,
            clock_speed=float(getattr(self.clock, "speed", 1.0)),
        )
        self._opens = SessionOpens(book=self.book, clock=self.clock, on_change=self._emit)

    def watch(self, keys: Sequence[WatchKey]) -> None:
        """Sets the desired series; only the difference is (un)subscribed."""
        self._watch = tuple(dict.fromkeys(keys))
        self.health.watch_only(self._watch)
        self._watch_changed.set()
        self._apply_desired()

    def view(self, key: WatchKey) -> WatchView:
        return watch_view(key, health=self.health, book=self.book, instrument=self._resolved.get(key.id))

    def instrument(self, watch_id: str) -> Instrument | None:
        return self._resolved.get(watch_id)

    async def search(self, query: str) -> list[Instrument]:
        if self._resolver is None:
            return []
        return await self._resolver.search(query)

    def reconnect_now(self) -> None:
        self._fatal = False
        self._retry_now.set()
        self._watch_changed.set()
        self._notify()
        if not any(s.confirmed_at is None for s in self._sessions.values()):
            for session in list(self._sessions.values()):
                session.cancel("reconnect requested")

    async def run(self) -> None:
        if self._closed:
            return
        try:
            self._channel = self._channel_factory(self.config)
            self._resolver = InstrumentResolver(self._channel, self._metadata)
            self._history = HistoryClient(self._channel, self._metadata, clock=self.clock)
            self._transition(ConnectionState.CONNECTING, "connecting")
            closer = self._backfill.close_by_time(lambda: self._changed)
            self._tasks = [
                asyncio.create_task(self._guard(self._resolve_loop()), name="feed-resolve"),
                asyncio.create_task(self._guard(self._backfill.run(self._history)), name="feed-backfill"),
                asyncio.create_task(self._guard(closer), name="feed-close-candles"),
                asyncio.create_task(self._guard(self._streams_loop()), name="feed-streams"),
                asyncio.create_task(self._guard(self._opens.run(self._history)), name="feed-opens"),
                asyncio.create_task(
                    self._guard(watch_channel(self._channel, self.config.ca_file, self._channel_report)),
                    name="feed-channel",
                ),
            ]
            await self._stop.wait()
        except Exception as exc:
            log.exception("feed_failed")
            self._transition(ConnectionState.DOWN, f"unexpected error: {exc}")
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed and not self._tasks and self._channel is None:
            return
        self._closed = True
        self._stop.set()
        for session in list(self._sessions.values()):
            session.cancel("closed")
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        self._tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()
        self._transition(ConnectionState.DOWN, "closed")

    def _apply_desired(self) -> None:
        series: dict[SeriesKey, set[WatchKey]] = {}
        keys: set[SubKey] = set()
        for wk in self._watch:
            inst = self._resolved.get(wk.id)
            if inst is None:
                continue
            sk = SeriesKey(inst.uid, wk.interval)
            series.setdefault(sk, set()).add(wk)
            self.health.resolved(wk, inst.uid, self.book.series(sk))
            keys.add(SubKey(SubKind.CANDLES, inst.uid, wk.interval))
            keys.add(SubKey(SubKind.LAST_PRICE, inst.uid))
            keys.add(SubKey(SubKind.INFO, inst.uid))
        self._series_watch = self._receiver.series = series
        self._opens.want(key.uid for key in keys)
        self.registry.set_desired(keys)
        for key in keys:
            if key.kind is SubKind.CANDLES and self.registry.status(key)[0] is not Outcome.CONFIRMED:
                self._set_series_state(key, WatchState.PENDING, None)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        for session in self._sessions.values():
            session.wake()

    def _stream_needed(self, stream: int) -> bool:
        if self._fatal:
            return False
        if stream == 0 and any(wk.id not in self._failed for wk in self._watch):
            return True  # open while resolving: the handshake overlaps the look-ups
        return self.registry.streams_needed() > stream

    async def _streams_loop(self) -> None:
        loops: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                changed = self._changed
                for stream in range(self.config.max_streams):
                    if self._stream_needed(stream) and (stream not in loops or loops[stream].done()):
                        loops[stream] = asyncio.create_task(self._guard(self._stream_loop(stream)))
                await changed.wait()
        finally:
            for task in loops.values():
                task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)

    async def _stream_loop(self, stream: int) -> None:
        delays = self._backoff_factory()
        attempt = 0
        assert self._channel is not None
        while not self._closed:
            if self._fatal:
                await self._retry_now.wait()
                self._retry_now.clear()
                continue
            if not self._stream_needed(stream):
                return
            session = StreamSession(
                stream=stream,
                channel=self._channel,
                metadata=self._metadata,
                registry=self.registry,
                clock=self.clock,
                config=self.config,
                handler=self,
                needed=lambda: self.registry.streams_needed() > stream,
            )
            self._sessions[stream] = session
            self.health.count_from(session)
            self.registry.stream_opened(stream)
            try:
                ending = await session.run()
            finally:
                self.health.stop_counting(session)
                self._sessions.pop(stream, None)
                self._stream_lost(stream)
            verdict = classify(ending, holding=self._stream_needed(stream))
            if self._channel_problem is not None and ending.confirmed_at is None:
                # The open deadline hides why nothing connected; the channel watcher knows.
                verdict = replace(verdict, reason=self._channel_problem)
            stable = (
                ending.confirmed_at is not None and ending.ended_at - ending.confirmed_at >= STABLE_AFTER_S
            )
            if stable:
                delays, attempt = self._backoff_factory(), 0  # stable: the curve starts over
            if verdict.action is Action.QUIET:
                continue  # closed (the loop ends) or nothing left to hold (parks below)
            if verdict.action is Action.FATAL:
                self._fatal = True
                self._retry_now.clear()
                self._transition(verdict.state, verdict.reason, verdict.code)
                log.error("stream_fatal", reason=verdict.reason, code=verdict.code)
                continue
            attempt += 1
            delay = next(delays)
            if verdict.action is Action.SLOW:
                delay = max(delay, slow_delay(verdict.min_delay, self._rng))
            # A routine end of a stable stream is no sign of trouble: waiting would only widen the gap.
            if (
                self._retry_now.is_set()
                or verdict.reason == "reconnect requested"
                or (stable and verdict.routine)
            ):
                delay = 0.0
            self._retry_now.clear()
            self.health.note_reconnect()
            at = self.clock.now() + delay
            self._transition(ConnectionState.RECONNECTING, verdict.reason, verdict.code, attempt, at)
            log.info(
                "stream_reconnecting",
                stream=stream,
                attempt=attempt,
                delay=round(delay, 3),
                reason=verdict.reason,
                code=verdict.code,
            )
            await wait_any(self.clock, self._retry_now, delay)
            self._retry_now.clear()

    def _stream_lost(self, stream: int) -> None:
        lost = self.registry.confirmed(stream)
        self.registry.stream_lost(stream)
        # Every watched series, not only the confirmed ones: a reconciliation may have unconfirmed
        # them just before the end. A needless resume point costs one idempotent refetch.
        for sk in self._series_watch:
            self._backfill.lost(sk)
        for key in lost:
            self._set_series_state(key, WatchState.PENDING, None)

    def on_data(self, stream: int, response: md.MarketDataResponse, now: float) -> None:
        self._receiver.on_data(response, now)

    def candle_sink(self) -> Callable[[md.Candle, float], None]:
        return self._receiver.on_candle

    def on_bad(self, stream: int, reason: str, detail: str = "") -> None:
        self._receiver.bad(reason, detail)
        self._emit()

    def on_outcomes(self, stream: int, outcomes: list[tuple[SubKey, Outcome, str]]) -> None:
        if outcomes:
            log.debug(
                "outcomes", stream=stream, outcomes=[(k.uid, k.kind.value, o.value) for k, o, _ in outcomes]
            )
        for key, outcome, reason in outcomes:
            if outcome is Outcome.CONFIRMED:
                self._set_series_state(key, WatchState.ACTIVE, None)
                if key.kind is SubKind.CANDLES and key.interval is not None:
                    self._backfill.confirmed(SeriesKey(key.uid, key.interval))
            elif outcome is Outcome.FAILED:
                self._set_series_state(key, WatchState.FAILED, reason)
                log.warning("subscription_failed", uid=key.uid, kind=key.kind.value, reason=reason)
            elif outcome is Outcome.RETRY_LATER:
                self._set_series_state(key, WatchState.RETRYING, reason)
            elif outcome is Outcome.MOVE_STREAM:
                self._set_series_state(key, WatchState.PENDING, reason)
                self._notify()  # another stream may be needed now
            elif outcome is Outcome.REMOVED and key in self.registry.desired:
                self._set_series_state(key, WatchState.PENDING, None)
        if (
            any(o is Outcome.CONFIRMED for _, o, _ in outcomes)
            and self.health.state is not ConnectionState.LIVE
        ):
            self._transition(ConnectionState.LIVE, "subscriptions confirmed")

    def _channel_report(self, problem: str | None) -> None:
        self._channel_problem = problem
        if problem is not None and self.health.state is not ConnectionState.LIVE:
            self._transition(self.health.state, problem)
            log.error("channel_failed", reason=problem)

    def on_stale(self, stream: int, silent_for: float) -> None:
        self._transition(ConnectionState.STALE, f"no message for {silent_for:.0f}s")

    def _set_series_state(self, key: SubKey, state: WatchState, reason: str | None) -> None:
        if key.kind is not SubKind.CANDLES or key.interval is None:
            return
        for wk in self._series_watch.get(SeriesKey(key.uid, key.interval), ()):
            self.health.set_watch(wk, state, reason)

    def _transition(
        self,
        state: ConnectionState,
        reason: str = "",
        code: str | None = None,
        attempt: int = 0,
        next_retry_at: float | None = None,
    ) -> None:
        event = self.health.transition(state, self.clock.now(), reason, code, attempt, next_retry_at)
        if event is None:
            return
        log.info("feed_state", state=state.value, reason=reason, code=code, attempt=attempt)
        self._listen.emit_event(event)

    async def _guard(self, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("feed_task_failed")
            self._transition(ConnectionState.DOWN, f"unexpected error: {exc}")
            self._stop.set()

    async def _resolve_loop(self) -> None:
        assert self._resolver is not None
        while True:
            self._watch_changed.clear()
            pending = [wk.id for wk in self._watch if wk.id not in self._failed]
            result = await resolve_round(self._resolver, pending, self._resolved)
            for watch_id, reason in result.failed.items():
                self._failed[watch_id] = reason
                for key in self._watch:
                    if key.id == watch_id:
                        self.health.set_watch(key, WatchState.FAILED, reason)
                log.warning("instrument_failed", watch_id=watch_id, reason=reason)
            self._apply_desired()
            self._emit()
            if result.fatal is not None:
                self._fatal = True
                self._transition(ConnectionState.AUTH_FAILED, result.fatal)
                await self._retry_now.wait()
            else:
                await wait_any(self.clock, self._watch_changed, RESOLVE_RETRY_S if result.transient else None)
