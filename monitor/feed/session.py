"""One MarketDataStream call: writer, receive loop (the payload dispatcher), watchdog, reconciler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog
from google.protobuf.timestamp_pb2 import Timestamp

from monitor.clock import Clock, speed_of, wait_any
from monitor.feed.classify import Ending
from monitor.feed.codes import api_code
from monitor.feed.config import FeedConfig
from monitor.feed.lag import SAMPLE_EVERY_S, LagMeter
from monitor.feed.receive import Receiver
from monitor.feed.registry import Outcome, Outcomes, Registry
from monitor.pb import common_pb2, marketdata_pb2_grpc
from monitor.pb import marketdata_pb2 as md
from monitor.wire import NANO

log = structlog.get_logger()

SNAPSHOT_WINDOW_S = 10.0
MAX_STREAM_ID = 128  # the API sends a UUID; anything much longer is hostile (and would bloat the log)
_SUBSCRIBE_PAYLOADS = frozenset(
    {"subscribe_candles_response", "subscribe_info_response", "subscribe_last_price_response"}
)


class StreamSession:
    """Runs one bidi call on stream slot `stream` until it ends; never raises for call errors."""

    def __init__(
        self,
        *,
        stream: int,
        channel: grpc.aio.Channel,
        metadata: Sequence[tuple[str, str]],
        registry: Registry,
        clock: Clock,
        config: FeedConfig,
        receiver: Receiver,
        on_outcomes: Callable[[Outcomes], None],
        on_stale: Callable[[float], None],
        on_timing: Callable[[int, float | None, float | None], None] = lambda stream, skew, lag: None,
    ) -> None:
        """
        Args:
            stream: the stream slot (the registry shards subscriptions over slots).
            channel: the channel to open the call on.
            metadata: the call's metadata (the token).
            registry: what to send on this slot, and where subscription answers go.
            clock: the feed's clock.
            config: timings.
            receiver: applies the market data to the book and the health.
            on_outcomes: told what each subscription answer meant (after the registry read it).
            on_stale: told when the stream went silent beyond the watchdog's bound.
            on_timing: told (stream, skew, lag) after each stamp sampled (feed/lag.py), a few
                times a second.
        """
        self.stream = stream
        self._stub = marketdata_pb2_grpc.MarketDataStreamServiceStub(channel)
        self.channel = channel
        self._metadata = metadata
        self._registry = registry
        self._clock = clock
        self._config = config
        self._receiver = receiver
        self._on_outcomes = on_outcomes
        self._on_stale = on_stale
        self._on_timing = on_timing
        self._speed = speed_of(clock)
        self._meter = LagMeter()
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
        # Fail fast: the call waits while the channel connects but ends at once when the connect
        # failed, so the feed's backoff (not a wait on a channel core will not retry for minutes)
        # decides when the next connect goes out (feed/connection.py).
        call = self._stub.MarketDataStream(metadata=self._metadata, wait_for_ready=False)
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
        receiver, registry, stream = self._receiver, self._registry, self.stream
        now_of, subscribe_payloads = self._clock.now, _SUBSCRIBE_PAYLOADS
        on_candle, on_message = receiver.on_candle, receiver.on_message
        sample, sample_at = self._sample, 0.0
        tap = self._config.on_raw
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
                    if tap is not None:
                        tap(response, now)
                    payload = response.WhichOneof("payload")
                    if payload == "candle":
                        on_candle(response.candle, now)  # the hot path: straight to the receiver
                        if now >= sample_at:  # the lag is sampled a few times a second, not per candle
                            sample_at = sample(response.candle.last_trade_ts, now)
                        continue
                    if payload in subscribe_payloads:
                        outcomes = registry.on_response(stream, response)
                        if self.confirmed_at is None and any(o is Outcome.CONFIRMED for _, o, _ in outcomes):
                            self.confirmed_at = now
                        self._log_tracking(response, payload, outcomes)
                        self._on_outcomes(outcomes)
                        self._wake.set()  # retries and moves change what the writer should send
                        continue
                    if payload == "ping":
                        ping = response.ping
                        if ping.stream_id != self.stream_id:
                            if len(ping.stream_id) > MAX_STREAM_ID:
                                receiver.bad("oversized ping stream_id", f"{len(ping.stream_id)} characters")
                                continue
                            self.stream_id = ping.stream_id
                            self._log = self._log.bind(stream_id=ping.stream_id)
                            self._log.info("stream_ping", stream_id=ping.stream_id)
                        if ping.HasField("time"):  # every ping: its stamp is fresh by definition
                            sample_at = sample(ping.time, now, fresh=True)
                    elif payload == "last_price" and now >= sample_at:
                        sample_at = sample(response.last_price.time, now)
                    on_message(response, payload, now)
                except Exception as exc:
                    receiver.bad("message handling failed", repr(exc))
        except grpc.aio.AioRpcError as exc:
            trailing = tuple((k, str(v)) for k, v in (exc.trailing_metadata() or ()))
            return self._ending(exc.code(), exc.details() or "", trailing)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            if self._cancel_reason is None:
                # Cancelled under us: another slot's attempt replaced the failed channel (closing it).
                return self._ending(grpc.StatusCode.CANCELLED, "channel replaced")
            return self._ending(grpc.StatusCode.CANCELLED, "cancelled by the client")
        return self._ending(None, "")

    def _sample(self, stamp: Timestamp, now: float, *, fresh: bool = False) -> float:
        """Feeds one server stamp to the lag meter and reports; returns when to sample next."""
        if stamp.seconds > 0:  # unset (0) or nonsense: nothing to compare
            speed, meter = self._speed, self._meter
            at = now / speed  # the meter works in wall seconds: the network's time, not the market's
            meter.sample(at, (stamp.seconds + stamp.nanos / NANO) / speed, fresh=fresh)
            self._on_timing(self.stream, meter.skew, meter.lag(at))
        return now + SAMPLE_EVERY_S * self._speed

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

    def _log_tracking(self, response: md.MarketDataResponse, payload: str, outcomes: Outcomes) -> None:
        tracking = getattr(response, payload).tracking_id
        self._log.debug("subscription_response", kind=payload, tracking_id=tracking)
        if outcomes:
            self._log.debug("outcomes", outcomes=[(k.uid, k.kind.value, o.value) for k, o, _ in outcomes])

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
        # Bounds about the network have a floor in wall time: a fast simulator clock must not turn
        # a scheduling pause into a stall, nor 20 s to connect into 33 ms at 600x.
        stale_after = config.stale_bound(self._speed)
        open_bound = config.open_bound(self._speed)
        open_deadline = self.opened_at + open_bound
        while True:
            now = clock.now()
            # A slot nothing needs any more is open once the server spoke (it will be let go).
            needed = self._registry.streams_needed() > self.stream
            opened = self.confirmed_at is not None or (self.messages > 0 and not needed)
            if not opened and now >= open_deadline:
                self.cancel(f"no confirmation within {open_bound / self._speed:g}s")  # wall seconds
                return
            last = self.last_message_at if self.last_message_at is not None else self.opened_at
            if self.messages and now - last >= stale_after:
                self._on_stale(now - last)
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
                self._wake.set()
