"""The Feed: composes subscriptions, stream supervisor, receiver, backfill and opens; runs them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import replace
from typing import Any, Self

import grpc
import structlog

from monitor.clock import Clock, SystemClock
from monitor.feed.auth import TokenGate
from monitor.feed.backfill import Backfiller
from monitor.feed.backoff import backoff
from monitor.feed.cache import CandleCache, saving, stream_close_saver
from monitor.feed.channel import metadata, open_channel
from monitor.feed.config import FeedConfig
from monitor.feed.connection import Connection
from monitor.feed.connectivity import watch_channel
from monitor.feed.health import ConnectionState, Health
from monitor.feed.history import HistoryClient
from monitor.feed.instruments import InstrumentResolver
from monitor.feed.listeners import Announcer, ListenerHost, Listeners
from monitor.feed.opens import SessionOpens
from monitor.feed.receive import Receiver
from monitor.feed.scrollback import ScrollBack
from monitor.feed.streams import StreamSupervisor
from monitor.feed.subscriptions import Subscriptions
from monitor.feed.view import WatchView, watch_view
from monitor.market import CandleBook, Instrument, WatchKey

log = structlog.get_logger()


class Feed(ListenerHost):
    """The live feed (implements `FeedLike`): `watch()` what you want, `run()` it, `close()` it.

    `async with Feed(config=...) as feed:` runs it in a background task and closes it on exit.
    `run()` after `close()` starts again on a new channel, keeping the book and the watch keys.

    Args:
        config: endpoint, token, timings.
        clock: time for every timer (tests pass a fast ScaledClock).
        book: the CandleBook to fill (by default a new one of `config.max_candles` per series).
        channel_factory: builds the grpc.aio channel inside the loop (default `open_channel`).
        backoff_factory: a fresh reconnect-delay iterator (default: the gRPC curve).
        rng: random source for the jitter.
        cache: candles and instruments at rest (the store): series start from it and every closed
            candle goes to it; None runs without one. The caller opens and closes it.
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
        cache: CandleCache | None = None,
    ) -> None:
        self.config = config
        self._cache = cache
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.book = book if book is not None else CandleBook(config.max_candles)
        self.health = Health(endpoint=config.endpoint, mode=config.mode)
        rng = rng if rng is not None else random.Random()
        self._channel_factory = channel_factory or open_channel
        # One list shared by every caller (never copied), so a new token reaches all of them.
        self._metadata = list(metadata(config))
        self._listen = Listeners()
        self._announce = Announcer(health=self.health, clock=self.clock, listeners=self._listen)
        # One owner of "the token was rejected": every call of the feed asks it first.
        self._auth = TokenGate()
        self._subscriptions = Subscriptions(
            config=config, clock=self.clock, health=self.health, book=self.book, on_change=self._listen.emit
        )
        self._receiver = Receiver(
            book=self.book,
            health=self.health,
            subscriptions=self._subscriptions,
            emit=self._listen.emit,
            emit_candle=self._listen.emit_stream_candle,
            emit_price=self._listen.emit_price,
        )
        self._backfill = Backfiller(
            book=self.book,
            clock=self.clock,
            history_candles=config.history_candles,
            watched=self._subscriptions,
            on_candle=self._listen.emit_candle,
            on_change=self._listen.emit,
            cache=cache,
        )
        self._subscriptions.on_series_change(self._backfill.series_changed)
        if cache is not None:
            self._listen.candles.append(stream_close_saver(cache))
        scrolled = self._listen.emit_candle if cache is None else saving(cache, self._listen.emit_candle)
        self._scroll = ScrollBack(book=self.book, on_candle=scrolled, on_change=self._listen.emit)
        self._opens = SessionOpens(
            book=self.book, clock=self.clock, watched=self._subscriptions, on_change=self._listen.emit
        )
        self._streams = StreamSupervisor(
            config=config,
            clock=self.clock,
            metadata=self._metadata,
            health=self.health,
            subscriptions=self._subscriptions,
            receiver=self._receiver,
            backfill=self._backfill,
            announce=self._announce,
            auth=self._auth,
            backoff_factory=backoff_factory or (lambda: backoff(rng=rng)),
            rng=rng,
        )
        self._connection: Connection | None = None
        self._resolver: InstrumentResolver | None = None
        self._stop = asyncio.Event()
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._runner = asyncio.create_task(self.run(), name="feed-run")
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()  # run() may not have started yet: it must not start after the close
            await asyncio.gather(runner, return_exceptions=True)

    def watch(self, keys: Sequence[WatchKey]) -> None:
        """Sets the desired series; only the difference is (un)subscribed."""
        self._subscriptions.watch(keys)

    def view(self, key: WatchKey) -> WatchView:
        instrument = self._subscriptions.instrument(key.id)
        stream = self._subscriptions.stream_of(key)
        history = self._scroll.state(instrument, key.interval)
        return watch_view(
            key, health=self.health, book=self.book, instrument=instrument, stream=stream, history=history
        )

    def load_older(self, key: WatchKey) -> None:
        self._scroll.load_older(self._subscriptions.instrument(key.id), key.interval)

    def instrument(self, watch_id: str) -> Instrument | None:
        return self._subscriptions.instrument(watch_id)

    async def search(self, query: str) -> list[Instrument]:
        if self._resolver is None:
            return []
        return await self._resolver.search(query)

    def reconnect_now(self, token: str | None = None) -> None:
        if token is not None and token != self.config.token:
            # The user fixed the token: every call from now on sends the new one.
            self.config = replace(self.config, token=token)
            self._metadata[:] = metadata(self.config)
            log.info("token_changed")
        if self._connection is not None:
            self._connection.renew_failed()  # first: the streams' attempts then take the new channel
        self._subscriptions.retry()
        self._streams.reconnect_now()

    async def run(self) -> None:
        """Connects and keeps the data flowing until `close()` (then it can be run again)."""
        if self._tasks:
            return  # already running
        self._stop, self._closed = asyncio.Event(), False
        self._auth.clear()  # a new run tries the token again, as a reconnect does
        try:
            # The one owner of the channel: every user takes it from here at call time, and only a
            # stream attempt replaces it (one connect per attempt, on the feed's backoff).
            connection = self._connection = Connection(lambda: self._channel_factory(self.config))
            connection.open()
            resolver = self._resolver = InstrumentResolver(
                connection,
                self._metadata,
                self._auth,
                cache=self._cache,
                max_age_s=self.config.instrument_max_age_s,
            )
            history = HistoryClient(connection, self._metadata, clock=self.clock, auth=self._auth)
            self._announce.transition(ConnectionState.CONNECTING, "connecting")
            self._tasks = [
                self._task(self._subscriptions.run(resolver), "feed-resolve"),
                self._task(self._backfill.run(history), "feed-backfill"),
                self._task(self._backfill.confirm_by_history(), "feed-confirm-closes"),
                self._task(self._streams.run(connection), "feed-streams"),
                self._task(self._opens.run(history), "feed-opens"),
                self._task(self._scroll.run(history), "feed-scrollback"),
                self._task(
                    watch_channel(connection, self.config.ca_file, self._streams.channel_report),
                    "feed-channel",
                ),
            ]
            await self._stop.wait()
        except Exception as exc:
            log.exception("feed_failed")
            self._announce.transition(ConnectionState.DOWN, f"unexpected error: {exc}")
        finally:
            await self.close()

    async def close(self) -> None:
        """Stops every stream and task and closes the channel (idempotent)."""
        if self._closed and not self._tasks and self._connection is None:
            return
        self._closed = True
        self._stop.set()
        self._streams.stop()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        self._tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        connection, self._connection = self._connection, None
        self._resolver = None
        if connection is not None:
            await connection.close()
        if self._cache is not None:
            await asyncio.to_thread(self._cache.flush)  # a restart then finds every candle saved
        self._announce.transition(ConnectionState.DOWN, "closed")

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(self._guard(work), name=name)

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("feed_task_failed")
            self._announce.transition(ConnectionState.DOWN, f"unexpected error: {exc}")
            self._stop.set()
