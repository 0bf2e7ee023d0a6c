"""One MarketDataStream call: writer, receive loop, stale/open watchdog, reconciliation; plus
the classification of how a stream ended."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import grpc
import structlog

from monitor.clock import Clock
from monitor.feed.codes import api_code
from monitor.feed.config import FeedConfig
from monitor.feed.health import ConnectionState
from monitor.feed.registry import Outcome, Registry, SubKey
from monitor.pb import common_pb2, marketdata_pb2_grpc
from monitor.pb import marketdata_pb2 as md

log = structlog.get_logger()

SLOW_RETRY_S = 120.0  # 80001: the open-stream counter refreshes every 2 minutes
RATE_LIMIT_DEFAULT_S = 60.0
SNAPSHOT_WINDOW_S = 10.0
MAX_STREAM_ID = 128  # the API sends a UUID; anything much longer is hostile (and would bloat the log)
_RETRY_STATUSES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)
_FATAL_STATUSES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
_SUBSCRIBE_PAYLOADS = frozenset(
    {"subscribe_candles_response", "subscribe_info_response", "subscribe_last_price_response"}
)


class Action(Enum):
    """What the supervisor does after a stream ended."""

    RETRY = "retry"  # backoff curve
    SLOW = "slow"  # wait at least `Verdict.min_delay` (80001, 80002)
    FATAL = "fatal"  # stop until reconnect_now()
    QUIET = "quiet"  # we closed it: no reconnect, no event


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of a stream end."""

    action: Action
    reason: str
    code: str | None = None
    min_delay: float = 0.0
    state: ConnectionState = ConnectionState.RECONNECTING
    routine: bool = False
    """The server ended a healthy stream as a matter of course (80005, its lifetime is up): after
    a stable stream the reconnect goes out at once rather than after a backoff delay."""


@dataclass(slots=True)
class Ending:
    """How one call ended, as observed (the input of `classify`)."""

    status: grpc.StatusCode | None = None
    """None for a clean end of stream (EOF with OK)."""
    details: str = ""
    trailing: tuple[tuple[str, str], ...] = ()
    cancelled_by_us: str | None = None
    """Why we cancelled the call ourselves (close, stale, open deadline, reconnect_now)."""
    confirmed_at: float | None = None
    """Clock time of the first confirmed subscription on this call."""
    ended_at: float = 0.0


def _trailer(trailing: Iterable[tuple[str, str]], key: str) -> str | None:
    return next((value for name, value in trailing if name.lower() == key), None)


def classify(ending: Ending, *, holding: bool) -> Verdict:
    """Retry, slow retry, fatal or quiet for a stream end (style rule 6, stream-recovery §4.6-7).

    Args:
        ending: what was observed when the call ended.
        holding: whether the feed still wants subscriptions on this stream (80004 rule).
    """
    ours = ending.cancelled_by_us
    if ours is not None:
        return Verdict(Action.QUIET, ours) if ours == "closed" else Verdict(Action.RETRY, ours)
    status, details = ending.status, ending.details
    code = api_code(details, ending.trailing)
    message = _trailer(ending.trailing, "message") or details
    if status is None or status is grpc.StatusCode.OK:
        return Verdict(Action.RETRY, "stream ended by the server")
    name = status.name
    if status in _FATAL_STATUSES:
        return Verdict(Action.FATAL, f"{name}: {message}", code, state=ConnectionState.AUTH_FAILED)
    if status is grpc.StatusCode.RESOURCE_EXHAUSTED:
        if code == "80001":
            return Verdict(Action.SLOW, "too many open streams", code, SLOW_RETRY_S)
        if code == "80002":
            reset = _trailer(ending.trailing, "x-ratelimit-reset")
            try:
                wait = float(reset) if reset is not None else RATE_LIMIT_DEFAULT_S
            except ValueError:
                wait = RATE_LIMIT_DEFAULT_S
            return Verdict(Action.SLOW, "request limit exceeded", code, max(1.0, wait))
        if code == "80004":
            reason = "no active subscriptions"
            return Verdict(Action.RETRY if holding else Action.QUIET, reason, code)
        if code == "80005":
            return Verdict(Action.RETRY, "stream lifetime too long", code, routine=True)
        return Verdict(Action.SLOW, f"{name}: {message}", code, RATE_LIMIT_DEFAULT_S)
    if status in _RETRY_STATUSES:
        return Verdict(Action.RETRY, f"{name}: {message}", code)
    # INVALID_ARGUMENT, UNIMPLEMENTED and the like will not heal by themselves, but the endpoint
    # may be mid-deploy: retry on the (growing) backoff curve rather than give up for good.
    return Verdict(Action.RETRY, f"{name}: {message}", code)


class SessionHandler:
    """What a session reports to the feed (sync, cheap: called on the receive loop)."""

    def on_data(self, stream: int, response: md.MarketDataResponse, now: float) -> None:
        raise NotImplementedError

    def candle_sink(self) -> Callable[[md.Candle, float], None]:
        """Where stream candles go, bypassing on_data: called once per session, not per message."""
        raise NotImplementedError

    def on_outcomes(self, stream: int, outcomes: list[tuple[SubKey, Outcome, str]]) -> None:
        raise NotImplementedError

    def on_stale(self, stream: int, silent_for: float) -> None:
        raise NotImplementedError

    def on_bad(self, stream: int, reason: str, detail: str = "") -> None:
        """A message was skipped as malformed or hostile (count it, log it once per kind)."""
        raise NotImplementedError


async def wait_any(clock: Clock, event: asyncio.Event, seconds: float | None) -> None:
    """Waits until `event` is set or `seconds` of clock time passed (None: only the event)."""
    if seconds is None:
        await event.wait()
        return
    if event.is_set():
        return
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(max(0.0, seconds)))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()


class StreamSession:
    """Runs one bidi call on stream slot `stream` until it ends; never raises for call errors."""

    def __init__(
        self,
        *,
        stream: int,
        channel: grpc.aio.Channel,
        metadata: tuple[tuple[str, str], ...],
        registry: Registry,
        clock: Clock,
        config: FeedConfig,
        handler: SessionHandler,
        needed: Callable[[], bool],
    ) -> None:
        self.stream = stream
        self._stub = marketdata_pb2_grpc.MarketDataStreamServiceStub(channel)
        self._metadata = metadata
        self._registry = registry
        self._clock = clock
        self._config = config
        self._handler = handler
        self._needed = needed
        self._wake = asyncio.Event()
        self._call: Any = None
        self._cancel_reason: str | None = None
        self._snapshot_wanted = False
        self.opened_at = clock.now()
        self.last_message_at: float | None = None
        self.confirmed_at: float | None = None
        self.messages = 0
        self.stream_id = ""
        self._log = log.bind(stream=stream)

    def wake(self) -> None:
        """Tells the writer that the registry may have something to send."""
        self._wake.set()

    def cancel(self, reason: str) -> None:
        """Ends the call on our side; the ending is classified by `reason` ("closed" is quiet)."""
        if self._cancel_reason is None:
            self._cancel_reason = reason
        if self._call is not None:
            self._call.cancel()

    async def run(self) -> Ending:
        """Opens the call and reads until it ends; returns how it ended."""
        # No call timeout: the stream lives for hours. The watchdog bounds open + confirmation.
        call = self._stub.MarketDataStream(metadata=self._metadata, wait_for_ready=True)
        self._call = call
        if self._cancel_reason is not None:
            call.cancel()
        helpers = [
            asyncio.create_task(self._writer(call), name=f"feed-writer-{self.stream}"),
            asyncio.create_task(self._watchdog(), name=f"feed-watchdog-{self.stream}"),
            asyncio.create_task(self._reconciler(), name=f"feed-reconcile-{self.stream}"),
        ]
        # The receive loop runs as a task of its own: every message resumes the coroutines between
        # the task and the `async for`, and the supervisor's frames above this one need not be
        # among them. Cancelling run() cancels the reader it awaits.
        reader = asyncio.create_task(self._read(call), name=f"feed-reader-{self.stream}")
        try:
            return await reader
        finally:
            for task in (*helpers, reader):
                task.cancel()  # the reader too: it may not have seen its cancellation yet
            await asyncio.gather(*helpers, reader, return_exceptions=True)
            call.cancel()

    async def _read(self, call: Any) -> Ending:
        handler, registry, stream = self._handler, self._registry, self.stream
        now_of, subscribe_payloads, on_candle = self._clock.now, _SUBSCRIBE_PAYLOADS, handler.candle_sink()
        # `async for` rather than `await call.read()` per message: read() re-checks the call state
        # and the API style on every message, the iterator goes straight to the core's receive.
        # A non-OK end raises AioRpcError from the iterator; a clean EOF just ends the loop.
        try:
            async for response in call:
                now = now_of()
                self.last_message_at = now  # any message, even a bad one, proves the transport alive
                self.messages += 1
                # try costs nothing until it catches: whatever a message does, the loop keeps reading.
                try:
                    payload = response.WhichOneof("payload")
                    if payload == "candle":
                        on_candle(response.candle, now)  # the hot path: straight to the receiver
                        continue
                    if payload in subscribe_payloads:
                        outcomes = registry.on_response(stream, response)
                        if self.confirmed_at is None and any(o is Outcome.CONFIRMED for _, o, _ in outcomes):
                            self.confirmed_at = now
                        self._log_tracking(response, payload)
                        handler.on_outcomes(stream, outcomes)
                        self._wake.set()  # retries and moves change what the writer should send
                    elif payload == "ping" and response.ping.stream_id != self.stream_id:
                        stream_id = response.ping.stream_id
                        if len(stream_id) > MAX_STREAM_ID:
                            handler.on_bad(stream, "oversized ping stream_id", f"{len(stream_id)} characters")
                            continue
                        self.stream_id = stream_id
                        self._log = self._log.bind(stream_id=stream_id)
                        self._log.info("stream_ping", stream_id=stream_id)
                    handler.on_data(stream, response, now)
                except Exception as exc:
                    handler.on_bad(stream, "message handling failed", repr(exc))
        except grpc.aio.AioRpcError as exc:
            trailing = tuple((k, str(v)) for k, v in (exc.trailing_metadata() or ()))
            return self._ending(exc.code(), exc.details() or "", trailing)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._cancel_reason is None or (task is not None and task.cancelling()):
                raise
            return self._ending(grpc.StatusCode.CANCELLED, "cancelled by the client")
        return self._ending(None, "")

    def _ending(
        self, status: grpc.StatusCode | None, details: str, trailing: tuple[tuple[str, str], ...] = ()
    ) -> Ending:
        ending = Ending(status, details, trailing, self._cancel_reason, self.confirmed_at, self._clock.now())
        self._log.info(
            "stream_ended",
            code=status.name if status is not None else "EOF",
            details=details,
            api_code=api_code(details, trailing),
            ours=self._cancel_reason,
            messages=self.messages,
        )
        return ending

    def _log_tracking(self, response: md.MarketDataResponse, payload: str | None) -> None:
        tracking = getattr(response, payload or "").tracking_id if payload else ""
        self._log.debug("subscription_response", kind=payload, tracking_id=tracking)

    async def _writer(self, call: Any) -> None:
        registry, stream, clock = self._registry, self.stream, self._clock
        try:
            ping = common_pb2.PingDelaySettings(ping_delay_ms=self._config.ping_delay_ms)
            await call.write(md.MarketDataRequest(ping_settings=ping))
            while True:
                self._wake.clear()
                if self._snapshot_wanted:
                    self._snapshot_wanted = False
                    await call.write(registry.snapshot_request(stream))
                requests = registry.next_requests(stream)
                for request in requests:
                    await call.write(request)
                at = registry.next_send_at(stream)
                now = clock.now()
                if at is not None and at <= now:
                    if requests:
                        continue
                    at = now + 1.0  # nothing went out although due: look again shortly
                await wait_any(clock, self._wake, None if at is None else at - now)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError) as exc:
            # The reader sees the same end and reports it; the writer only stops.
            self._log.debug("stream_writer_stopped", error=type(exc).__name__)

    async def _watchdog(self) -> None:
        clock, config = self._clock, self._config
        stale_after, open_deadline = config.stale_after, self.opened_at + config.connect_timeout_s
        while True:
            now = clock.now()
            opened = self.confirmed_at is not None or (self.messages > 0 and not self._needed())
            if not opened and now >= open_deadline:
                self.cancel(f"no confirmation within {config.connect_timeout_s:g}s")
                return
            last = self.last_message_at if self.last_message_at is not None else self.opened_at
            if self.messages and now - last >= stale_after:
                self._handler.on_stale(self.stream, now - last)
                self.cancel(f"stale: no message for {now - last:.0f}s")
                return
            deadline = last + stale_after if self.messages else open_deadline
            if not opened:
                deadline = min(deadline, open_deadline)
            await clock.sleep(max(0.01, deadline - now))

    async def _reconciler(self) -> None:
        clock, registry, stream = self._clock, self._registry, self.stream
        window = max(SNAPSHOT_WINDOW_S, self._config.ping_delay_ms / 1000)
        while True:
            await clock.sleep(self._config.reconcile_interval_s)
            last = self.last_message_at or 0.0
            # A silent stream would answer nothing and look empty: the watchdog handles that one.
            silent = clock.now() - last > self._config.ping_delay_ms / 1000
            if self.confirmed_at is None or registry.pending(stream) or silent:
                continue
            self._snapshot_wanted = True
            self._wake.set()
            await clock.sleep(window)
            missing = registry.finish_snapshot(stream)
            if missing:
                self._log.warning("subscriptions_missing", missing=missing)
                self._handler.on_outcomes(stream, [])
                self._wake.set()
