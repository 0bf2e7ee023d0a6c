"""Subscriptions: watch keys → resolved instruments → desired subscriptions, the one series map."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from monitor.clock import Clock, wait_any
from monitor.feed.config import FeedConfig
from monitor.feed.health import Health, WatchState
from monitor.feed.instruments import InstrumentResolver, ResolveRound, resolve_round
from monitor.feed.registry import Outcome, Outcomes, Registry, SubKey, SubKind
from monitor.market import CandleBook, Instrument, Interval, SeriesKey, WatchKey

log = structlog.get_logger()

RESOLVE_RETRY_S = 5.0
"""Clock seconds before look-ups that failed for now (network, server) are tried again."""


class Signal:
    """A broadcast: everyone who took `next()` before a `fire()` is woken by it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def next(self) -> asyncio.Event:
        """The event the next `fire()` sets (take it before looking at the state it guards)."""
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class WatchedSeries(Protocol):
    """What the backfill and the session opens ask about the watched series."""

    @property
    def changed(self) -> Signal:
        """Fired when the watched series may have changed."""
        ...

    def watching(self, key: SeriesKey) -> bool: ...

    def series_keys(self) -> tuple[SeriesKey, ...]: ...

    def intervals(self) -> set[Interval]: ...

    def uids(self) -> tuple[str, ...]: ...


class Subscriptions:
    """What the feed wants: the watch keys, their instruments, the series and subscriptions.

    The one owner of the series map (which watch keys show which book series); the receiver, the
    backfill and the stream supervisor ask it through methods. Per-key states go to `health`.

    Args:
        config: the stream limits (subscriptions per stream, streams).
        clock: the feed's clock.
        health: where each watch key's state goes.
        book: the series of resolved keys are created here (their panels read them).
        on_change: called after each resolve round (listeners).
    """

    def __init__(
        self,
        *,
        config: FeedConfig,
        clock: Clock,
        health: Health,
        book: CandleBook,
        on_change: Callable[[], None],
    ) -> None:
        self._clock = clock
        self._on_change = on_change
        self._health = health
        self._book = book
        self._registry = Registry(
            clock=clock, max_per_stream=config.subscriptions_per_stream, max_streams=config.max_streams
        )
        self._watch: tuple[WatchKey, ...] = ()
        self._resolved: dict[str, Instrument] = {}
        self._failed: dict[str, str] = {}
        """Watch ids that can never resolve, with the reason (never asked again)."""
        self._series: dict[SeriesKey, tuple[WatchKey, ...]] = {}
        self._observers: list[Callable[[], None]] = []
        self._changed = Signal()
        # Set by watch() and retry() only: the resolve loop must not wake on its own changes (it
        # would spin without ever yielding to the event loop).
        self._watch_changed = asyncio.Event()

    @property
    def changed(self) -> Signal:
        """Fired when the desired subscriptions may have changed (streams, writers, timers)."""
        return self._changed

    @property
    def registry(self) -> Registry:
        """The desired subscriptions per stream and their confirmations (the sessions' side)."""
        return self._registry

    # -- questions -----------------------------------------------------------------------------

    def stream_of(self, key: WatchKey) -> int | None:
        """The stream slot that carries `key`'s candles, once it is resolved and wanted."""
        inst = self.instrument(key.id)
        if inst is None:
            return None
        return self.registry.stream_of(SubKey(SubKind.CANDLES, inst.uid, key.interval))

    def instrument(self, watch_id: str) -> Instrument | None:
        """The resolved instrument of a watch id, once resolved."""
        return self._resolved.get(watch_id)

    def watching(self, key: SeriesKey) -> bool:
        """Whether a watch key shows this series."""
        return key in self._series

    def series_keys(self) -> tuple[SeriesKey, ...]:
        """Every watched series."""
        return tuple(self._series)

    def intervals(self) -> set[Interval]:
        """The intervals of the watched series."""
        return {key.interval for key in self._series}

    def uids(self) -> tuple[str, ...]:
        """The resolved instruments of the watched series, in watch order."""
        return tuple(dict.fromkeys(key.uid for key in self._series))

    def resolving(self) -> bool:
        """Whether some watch key still waits for (or needs) its instrument."""
        return any(wk.id not in self._failed for wk in self._watch)

    # -- changes -------------------------------------------------------------------------------

    def on_series_change(self, observer: Callable[[], None]) -> None:
        """Registers `observer()`, called after the series map changed."""
        self._observers.append(observer)

    def watch(self, keys: Sequence[WatchKey]) -> None:
        """Sets the desired watch keys; only the difference is (un)subscribed."""
        self._watch = tuple(dict.fromkeys(keys))
        self._health.watch_only(self._watch)
        self._watch_changed.set()
        self._apply()

    def retry(self) -> None:
        """Asks the resolve loop to try failed-for-now look-ups at once."""
        self._watch_changed.set()

    async def run(self, resolver: InstrumentResolver) -> None:
        """The resolve loop: resolves what is unresolved, then waits for a change or a retry.

        A rejected token holds a look-up inside the resolver (its token gate) until the reconnect.

        Args:
            resolver: the look-ups of this run's channel.
        """
        while True:
            self._watch_changed.clear()
            result = await self._resolve(resolver)
            self._on_change()
            retry = None
            if result.transient:
                retry = result.wait if result.wait is not None else RESOLVE_RETRY_S
            await wait_any(self._clock, self._watch_changed, retry)

    async def _resolve(self, resolver: InstrumentResolver) -> ResolveRound:
        pending = [wk.id for wk in self._watch if wk.id not in self._failed]
        result = await resolve_round(resolver, pending, self._resolved)
        for watch_id, reason in result.failed.items():
            self._failed[watch_id] = reason
            for key in self._watch:
                if key.id == watch_id:
                    self._health.set_watch(key, WatchState.FAILED, reason)
            log.warning("instrument_failed", watch_id=watch_id, reason=reason)
        self._apply()
        return result

    def _apply(self) -> None:
        """Derives the series map and the desired subscriptions from the watch keys."""
        series: dict[SeriesKey, tuple[WatchKey, ...]] = {}
        keys: set[SubKey] = set()
        for wk in self._watch:
            inst = self._resolved.get(wk.id)
            if inst is None:
                continue
            sk = SeriesKey(inst.uid, wk.interval)
            series[sk] = (*series.get(sk, ()), wk)
            self._health.resolved(wk, inst.uid, self._book.series(sk))
            keys.add(SubKey(SubKind.CANDLES, inst.uid, wk.interval))
            keys.add(SubKey(SubKind.LAST_PRICE, inst.uid))
            keys.add(SubKey(SubKind.INFO, inst.uid))
        self._series = series
        for observer in self._observers:
            observer()
        self._registry.set_desired(keys)
        for key in keys:
            if key.kind is SubKind.CANDLES and self._registry.status(key)[0] is not Outcome.CONFIRMED:
                self.set_state(key, WatchState.PENDING, None)
        self._changed.fire()

    def apply_outcomes(self, outcomes: Outcomes) -> list[SeriesKey]:
        """Moves the watch keys of each answered subscription; returns the confirmed series."""
        confirmed: list[SeriesKey] = []
        for key, outcome, reason in outcomes:
            if outcome is Outcome.CONFIRMED:
                self.set_state(key, WatchState.ACTIVE, None)
                if key.kind is SubKind.CANDLES and key.interval is not None:
                    confirmed.append(SeriesKey(key.uid, key.interval))
            elif outcome is Outcome.FAILED:
                self.set_state(key, WatchState.FAILED, reason)
                log.warning("subscription_failed", uid=key.uid, kind=key.kind.value, reason=reason)
            elif outcome is Outcome.RETRY_LATER:
                self.set_state(key, WatchState.RETRYING, reason)
            elif outcome is Outcome.MOVE_STREAM:
                self.set_state(key, WatchState.PENDING, reason)
                self._changed.fire()  # another stream may be needed now
            elif outcome is Outcome.REMOVED and key in self._registry.desired:
                self.set_state(key, WatchState.PENDING, None)
        return confirmed

    def stream_lost(self, stream: int) -> None:
        """A stream ended: its subscriptions are gone on the server; their keys wait again."""
        lost = self._registry.confirmed(stream)
        self._registry.stream_lost(stream)
        for key in lost:
            self.set_state(key, WatchState.PENDING, None)

    def set_state(self, key: SubKey, state: WatchState, reason: str | None) -> None:
        """Moves every watch key of a candle subscription's series to `state`."""
        if key.kind is not SubKind.CANDLES or key.interval is None:
            return
        for wk in self._series.get(SeriesKey(key.uid, key.interval), ()):
            self._health.set_watch(wk, state, reason)
