"""The stream supervisor: per stream slot, session → classify → backoff → health event."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

import grpc
import structlog

from monitor.clock import Clock, speed_of, wait_any
from monitor.feed.auth import TokenGate
from monitor.feed.backfill import Backfiller
from monitor.feed.backoff import slow_delay
from monitor.feed.classify import Action, Ending, Verdict, classify
from monitor.feed.config import FeedConfig
from monitor.feed.connection import Connection
from monitor.feed.connectivity import channel_problem
from monitor.feed.health import ConnectionState, Health
from monitor.feed.listeners import Announcer
from monitor.feed.receive import Receiver
from monitor.feed.registry import Outcome, Outcomes
from monitor.feed.session import StreamSession
from monitor.feed.subscriptions import Subscriptions

log = structlog.get_logger()

STABLE_AFTER_S = 60.0
"""A stream confirmed and alive this long (clock time) resets the backoff curve."""
SILENCE_REASONS = ("stale:", "no confirmation within")
"""How the session's watchdog words the ends that silence caused (feed/session.py)."""


class _Slot:
    """The reconnect state of one stream slot: its backoff curve and attempt count."""

    def __init__(self, stream: int, delays: Iterator[float]) -> None:
        self.stream = stream
        self.delays = delays
        self.attempt = 0
        self.channel: grpc.aio.Channel | None = None
        """The channel of the slot's last session (a failed one is replaced by the next attempt)."""
        self.silent = False
        """Whether the last session ended in silence (its connection may be half-open)."""


class StreamSupervisor:
    """Opens as many streams as the subscriptions need and keeps each one up.

    Args:
        config: stream limits and timings.
        clock: the feed's clock.
        metadata: the calls' metadata (the token).
        health: the sessions count their messages into it.
        subscriptions: what to hold (and how many streams that takes); told what each answer meant.
        receiver: each session hands it the market data.
        backfill: told which series were confirmed or lost.
        announce: the connection's transitions.
        auth: the token state; a rejection anywhere ends the streams until the reconnect.
        backoff_factory: a fresh reconnect-delay iterator.
        rng: random source for the slow-retry jitter.
    """

    def __init__(
        self,
        *,
        config: FeedConfig,
        clock: Clock,
        metadata: Sequence[tuple[str, str]],
        health: Health,
        subscriptions: Subscriptions,
        receiver: Receiver,
        backfill: Backfiller,
        announce: Announcer,
        auth: TokenGate,
        backoff_factory: Callable[[], Iterator[float]],
        rng: random.Random,
    ) -> None:
        self._config = config
        self._clock = clock
        self._metadata = metadata
        self._health = health
        self._subscriptions = subscriptions
        self._receiver = receiver
        self._backfill = backfill
        self._announce = announce
        self._backoff_factory = backoff_factory
        self._rng = rng
        self._sessions: dict[int, StreamSession] = {}
        self._retry_now = asyncio.Event()
        self._auth = auth
        auth.on_reject(self._rejected)
        self._stopping = False
        self._channel_problem: str | None = None

    # -- commands ------------------------------------------------------------------------------

    def reconnect_now(self) -> None:
        """Ends a token rejection or a backoff wait; with every stream up, reopens them at once."""
        self._auth.clear()
        self._retry_now.set()
        self._subscriptions.changed.fire()
        if not any(s.confirmed_at is None for s in self._sessions.values()):
            for session in list(self._sessions.values()):
                session.cancel("reconnect requested")

    def stop(self) -> None:
        """Ends every session quietly (the feed is closing)."""
        self._stopping = True
        for session in list(self._sessions.values()):
            session.cancel("closed")

    def _rejected(self, reason: str, code: str | None) -> None:
        """The token was rejected (by any call): AUTH_FAILED, and every stream ends until the
        reconnect; an open stream would otherwise go on subscribing, and announce LIVE, with it."""
        self._retry_now.clear()
        self._announce.transition(ConnectionState.AUTH_FAILED, reason, code)
        for session in list(self._sessions.values()):
            session.cancel("token rejected")

    def channel_report(self, problem: str | None) -> None:
        """The channel watcher's news: why the channel cannot connect (None once it is READY)."""
        previous, self._channel_problem = self._channel_problem, problem
        self._health.note_channel(problem)
        if self._auth.rejected:
            return  # the rejection is the news until the reconnect
        health = self._health
        if problem is not None and health.state is not ConnectionState.LIVE:
            # The same state with its reason: the attempt and the retry time stay as they are.
            self._announce.transition(health.state, problem, None, health.attempt, health.next_retry_at)
            if problem != previous:  # the channel retries on its own backoff: once per new reason
                log.error("channel_failed", reason=problem)

    # -- the slots -----------------------------------------------------------------------------

    async def run(self, connection: Connection) -> None:
        """Starts a loop per slot the subscriptions need, for as long as the feed runs."""
        self._stopping = False
        loops: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                changed = self._subscriptions.changed.next()
                for session in self._sessions.values():
                    session.wake()  # the desired set may have moved: the writers look again
                for stream in range(self._config.max_streams):
                    idle = stream not in loops or loops[stream].done()
                    if idle and not self._stopping and self._needed(stream):
                        slot = _Slot(stream, self._backoff_factory())
                        loops[stream] = asyncio.create_task(
                            self._keep(slot, connection), name=f"feed-slot-{stream}"
                        )
                await self._until_changed(changed, loops.values())
        finally:
            for task in loops.values():
                task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)

    @staticmethod
    async def _until_changed(changed: asyncio.Event, loops: Iterable[asyncio.Task[None]]) -> None:
        """Waits for the next change; a slot loop's unexpected error is raised here (to the feed)."""
        waiter = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait(
                {waiter, *(t for t in loops if not t.done())}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        for task in loops:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error

    def _needed(self, stream: int) -> bool:
        if self._auth.rejected:
            return False
        if stream == 0 and self._subscriptions.resolving():
            return True  # open while resolving: the handshake overlaps the look-ups
        return self._subscriptions.registry.streams_needed() > stream

    async def _keep(self, slot: _Slot, connection: Connection) -> None:
        """Keeps one slot's stream up: one session after another, with backoff in between."""
        while not self._stopping:
            if self._auth.rejected:
                await self._auth.admitted()
                self._retry_now.clear()  # the reconnect is this loop's retry: it needs no other
                continue
            if not self._needed(slot.stream):
                return
            # Each attempt is where a connect may go out: a channel whose connect failed is replaced
            # now, on this slot's backoff, and never by gRPC core in between.
            slot.channel = await connection.for_attempt(slot.channel, suspect=slot.silent)
            ending, quiet_since = await self._session(slot.stream, slot.channel)
            silence = (ending.cancelled_by_us or "").startswith(SILENCE_REASONS)
            # A sibling stream that heard the server meanwhile proves the connection alive: the
            # silence was the server's (slow to confirm, under load), and replacing the channel
            # would end the healthy streams on it too.
            slot.silent = silence and not self._heard_on(slot.channel, quiet_since)
            verdict = self._verdict(ending, slot.stream)
            stable = (
                ending.confirmed_at is not None and ending.ended_at - ending.confirmed_at >= STABLE_AFTER_S
            )
            if stable:
                slot.delays, slot.attempt = self._backoff_factory(), 0  # the curve starts over
            if verdict.action is Action.FATAL:
                log.error("stream_fatal", reason=verdict.reason, code=verdict.code)
                self._auth.reject(verdict.reason, verdict.code)
            if verdict.action is Action.QUIET or self._auth.rejected:
                # Closed (the loop ends), nothing left to hold (it returns above), or the token
                # was rejected here or by another call (the top waits for the reconnect).
                continue
            await self._back_off(slot, verdict, stable)

    def _heard_on(self, channel: grpc.aio.Channel | None, since: float) -> bool:
        """Whether a live stream on `channel` received a message after `since` and within the last
        half silence bound (clock time): streams a blackhole silenced together heard their last
        messages about as long ago as the one that noticed first, and prove nothing."""
        recent = self._clock.now() - self._config.stale_bound(speed_of(self._clock)) / 2
        return any(
            s.channel is channel and s.last_message_at is not None and s.last_message_at > max(since, recent)
            for s in self._sessions.values()
        )

    async def _session(self, stream: int, channel: grpc.aio.Channel) -> tuple[Ending, float]:
        """Runs one session on the slot; whatever ends it, the slot's subscriptions are lost.

        Returns how it ended and since when it had heard nothing (its last message, or its open).
        """
        session = StreamSession(
            stream=stream,
            channel=channel,
            metadata=self._metadata,
            registry=self._subscriptions.registry,
            clock=self._clock,
            config=self._config,
            receiver=self._receiver,
            on_outcomes=self._outcomes,
            on_stale=self._stale,
            on_timing=self._announce.timing,
        )
        self._sessions[stream] = session
        self._health.count_from(session)
        self._subscriptions.registry.stream_opened(stream)
        try:
            ending = await session.run()
            last = session.last_message_at
            return ending, last if last is not None else session.opened_at
        finally:
            self._health.stop_counting(session)
            self._health.forget_lag(stream)
            self._sessions.pop(stream, None)
            self._subscriptions.stream_lost(stream)
            # Every watched series, not only the confirmed ones: a reconciliation may have unconfirmed
            # them just before the end. A needless resume point costs one idempotent refetch.
            for key in self._subscriptions.series_keys():
                self._backfill.lost(key)
                self._receiver.restart(key)

    def _verdict(self, ending: Ending, stream: int) -> Verdict:
        verdict = classify(ending, holding=self._needed(stream))
        if ending.confirmed_at is None:
            # A failed connect ends the (fail-fast) call at once and says why in its details; an
            # open deadline hides why nothing connected, and the channel watcher knows.
            unavailable = ending.status is grpc.StatusCode.UNAVAILABLE
            own = channel_problem(ending.details, self._config.ca_file) if unavailable else None
            if (problem := own or self._channel_problem) is not None:
                verdict = replace(verdict, reason=problem)
        return verdict

    async def _back_off(self, slot: _Slot, verdict: Verdict, stable: bool) -> None:
        """Announces the reconnect and waits its delay (or until `reconnect_now()`)."""
        slot.attempt += 1
        delay = next(slot.delays)
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
        self._health.note_reconnect()
        at = self._clock.now() + delay
        self._announce.transition(
            ConnectionState.RECONNECTING, verdict.reason, verdict.code, slot.attempt, at
        )
        log.info(
            "stream_reconnecting",
            stream=slot.stream,
            attempt=slot.attempt,
            delay=round(delay, 3),
            reason=verdict.reason,
            code=verdict.code,
        )
        await wait_any(self._clock, self._retry_now, delay)
        self._retry_now.clear()
        now = self._clock.now()
        if now < at:
            # reconnect_now() cut the wait short: the attempt starts now, and the status bar says so
            # (it tells a wait from an attempt in flight by the announced time).
            self._announce.transition(
                ConnectionState.RECONNECTING, verdict.reason, verdict.code, slot.attempt, now
            )

    # -- what the sessions report --------------------------------------------------------------

    def _outcomes(self, outcomes: Outcomes) -> None:
        for key in self._subscriptions.apply_outcomes(outcomes):
            # A fresh confirmation starts a new run of the series' candles on the stream.
            self._receiver.restart(key)
            self._backfill.confirmed(key)
        if (
            any(o is Outcome.CONFIRMED for _, o, _ in outcomes)
            and self._health.state is not ConnectionState.LIVE
            and not self._auth.rejected  # a stream being ended for a rejected token is not LIVE
        ):
            self._announce.transition(ConnectionState.LIVE, "subscriptions confirmed")

    def _stale(self, silent_for: float) -> None:
        if self._auth.rejected:
            return
        self._announce.transition(ConnectionState.STALE, f"no message for {silent_for:.0f}s")
