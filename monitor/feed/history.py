"""Closed-candle history from GetCandles: window-sized chunks, paced under the unary rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import grpc
import structlog
from grpc import aio

from monitor.clock import Clock
from monitor.feed.auth import TokenGate, rejection
from monitor.feed.codes import api_code
from monitor.feed.connection import Connection
from monitor.feed.connectivity import link_problem
from monitor.feed.convert import historic_candle
from monitor.market import Candle, Interval
from monitor.pb import marketdata_pb2, marketdata_pb2_grpc
from monitor.wire import quotation_to_float, seconds_to_timestamp

_DAY = 86_400
_YEAR = 365 * _DAY  # calendar years are never shorter, so N * 365 days fits in any N-year window

WINDOW_SECONDS: dict[Interval, int] = {
    Interval.M1: _DAY,
    Interval.M2: _DAY,
    Interval.M3: _DAY,
    Interval.M5: 7 * _DAY,
    Interval.M10: 7 * _DAY,
    Interval.M15: 21 * _DAY,
    Interval.M30: 21 * _DAY,
    # Three calendar months are at least 89 days (Feb + Mar + Apr of a common year).
    Interval.H1: 89 * _DAY,
    Interval.H2: 89 * _DAY,
    Interval.H4: 89 * _DAY,
    Interval.D1: 6 * _YEAR,
    Interval.W1: 5 * _YEAR,
    Interval.MN1: 10 * _YEAR,
}
"""Longest `to - from` GetCandles accepts per interval (contract §3.7), rounded down to be safe."""

LIMIT_CAP: dict[Interval, int] = {
    Interval.M1: 2400,
    Interval.M5: 2400,
    Interval.M15: 2400,
    Interval.H1: 2400,
    Interval.D1: 2400,
    Interval.M2: 1200,
    Interval.M3: 750,
    Interval.M10: 1200,
    Interval.M30: 1200,
    Interval.H2: 2400,
    Interval.H4: 700,
    Interval.W1: 300,
    Interval.MN1: 120,
}
"""Most candles one GetCandles answer may carry per interval (the `limit` cap, contract §3.7)."""

log = structlog.get_logger()

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED)
_RATE_LIMITED = "80002"

CALL_DEADLINE_S = 10.0
"""Wall seconds one GetCandles may take, its re-sends on a renewed channel included (the network
runs on wall time; a full page of 1m candles is ~100 kB: 10 s holds a 10 kB/s link)."""
STALL_RETRIES = 1
"""A call that met its deadline goes out this many times more: two silent deadlines in a row are a
stalled link, said (HistoryError DEADLINE_EXCEEDED) after ~20 s rather than after five deadlines."""


class HistoryError(Exception):
    """GetCandles failed for good; `status` is the gRPC status, `code` the API's numeric code."""

    def __init__(self, status: grpc.StatusCode, code: str | None, message: str) -> None:
        said = f"{code} {message}" if code else message  # no "-" for a link failure: it has no code
        super().__init__(f"{status.name}: {said}".rstrip())
        self.status = status
        self.code = code
        self.message = message


def plan_chunks(interval: Interval, start: int, end: int) -> list[tuple[int, int]]:
    """Splits [start, end) into GetCandles windows, each within the interval's window and `limit` cap.

    Every chunk starts at a period start, so each candle starting in [start, end) falls in
    exactly one chunk; only the last chunk may end off a period boundary (at `end`). A range
    that holds no period start needs no request and plans no chunk.
    """
    window = WINDOW_SECONDS[interval]
    cap = LIMIT_CAP[interval]
    chunks: list[tuple[int, int]] = []
    at = _first_period(interval, start)
    while at < end:
        # One period always fits (every window is at least one period), so each chunk advances.
        stop, count = interval.next_start(at), 1
        while stop < end and count < cap:
            following = interval.next_start(stop)
            if following - at > window:
                break
            stop, count = following, count + 1
        chunks.append((at, min(stop, end)))
        at = stop
    return chunks


def _first_period(interval: Interval, ts: int) -> int:
    """The first period start at or after `ts`."""
    period = interval.start_of(ts)
    return period if period >= ts else interval.next_start(period)


class _TokenBucket:
    """Paces requests to `rate` per second with bursts of `capacity`, on the injected clock."""

    def __init__(self, clock: Clock, rate: float, capacity: float) -> None:
        self._clock = clock
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._stamp = clock.now()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def block_until(self, at: float) -> None:
        """Stops every request until clock time `at` (the server said the minute is used up)."""
        self._blocked_until = max(self._blocked_until, at)
        self._tokens = 0.0

    async def acquire(self) -> None:
        # One waiter at a time keeps the order fair and the arithmetic simple.
        async with self._lock:
            while True:
                now = self._clock.now()
                if now < self._blocked_until:
                    await self._clock.sleep(self._blocked_until - now)
                    # The server's window has reset: one request may go at once.
                    self._stamp, self._tokens = self._clock.now(), 1.0
                    continue
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await self._clock.sleep((1.0 - self._tokens) / self._rate)


def _marketdata_stub(channel: aio.Channel) -> marketdata_pb2_grpc.MarketDataServiceAsyncStub:
    return marketdata_pb2_grpc.MarketDataServiceStub(channel)


class HistoryClient:
    """Fetches closed candles with GetCandles over an open channel.

    Args:
        channel: a grpc.aio channel (one-shot commands), or the feed's `Connection`: each call
            takes its current channel.
        metadata: headers sent on every call (authorization, x-app-name).
        clock: the clock pacing and retry waits run on.
        requests_per_minute: the client's own budget, kept under the API's 600/min.
        call_timeout: wall seconds one call may take, re-sends included (CALL_DEADLINE_S).
        auth: the feed's token state: with it, a call waits while the token is rejected and a
            rejection closes it and waits too (the call goes out again after the reconnect);
            without it (one-shot commands) a rejection is a HistoryError like any other.
    """

    def __init__(
        self,
        channel: aio.Channel | Connection,
        metadata: Sequence[tuple[str, str]],
        *,
        clock: Clock,
        requests_per_minute: int = 500,
        call_timeout: float | None = None,
        transient_retries: int = 4,
        rate_limit_retries: int = 10,
        auth: TokenGate | None = None,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self._connection = channel if isinstance(channel, Connection) else Connection.of(channel)
        self._metadata = metadata
        """Held, not copied: the feed updates it in place when the token changes."""
        self._clock = clock
        # A burst of a tenth of the budget keeps any 60 s span under 1.1 x the per-minute budget.
        self._bucket = _TokenBucket(clock, requests_per_minute / 60.0, max(1.0, requests_per_minute / 10))
        # Read here, not as the default: a test shortens the module's deadline before a feed runs.
        self._call_timeout = CALL_DEADLINE_S if call_timeout is None else call_timeout
        self._transient_retries = transient_retries
        self._rate_limit_retries = rate_limit_retries
        self._auth = auth
        self.requests = 0
        """GetCandles calls sent (retries included)."""

    async def fetch(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]:
        """Every closed candle starting in [start, end), oldest first, origin BACKFILL.

        `end` is not clamped to this clock's now: the server's clock decides what is closed, and
        the forming candle is left out by its `is_complete` flag.

        Raises:
            HistoryError: on a non-retryable API error, or when retries ran out.
        """
        candles: dict[int, Candle] = {}
        for chunk_start, chunk_end in plan_chunks(interval, start, end):
            for candle in await self._chunk(uid, interval, chunk_start, chunk_end):
                if start <= candle.time < end:
                    candles[candle.time] = candle
        return [candles[t] for t in sorted(candles)]

    async def recent(
        self,
        uid: str,
        interval: Interval,
        count: int,
        *,
        before: int | None = None,
        max_empty_chunks: int = 6,
    ) -> list[Candle]:
        """The last `count` closed candles starting before `before`, oldest first.

        `before` defaults to the end of the current period on this clock: the forming candle is
        left out by its `is_complete` flag, so a server clock slightly ahead loses nothing. Walks
        back one window at a time until it has enough, or until `max_empty_chunks` windows in a
        row came back empty (nights, weekends and holidays have no candles; history ends).
        """
        if count <= 0:
            return []
        end = interval.next_start(interval.start_of(int(self._clock.now()))) if before is None else before
        window = WINDOW_SECONDS[interval]
        candles: dict[int, Candle] = {}
        empty = 0
        span = (count + 1) * interval.seconds
        while len(candles) < count and empty < max_empty_chunks and end > 0:
            # Ask for what is still missing first (a whole window of 1m candles is 1,440 of them,
            # all decoded), then widen up to the window over nights, weekends and holidays.
            span = min(window, span)
            # Aligned up, so the request stays inside the window and starts on a period.
            start = _first_period(interval, max(0, end - span))
            got = 0
            for chunk_start, chunk_end in reversed(plan_chunks(interval, start, end)):
                for candle in await self._chunk(uid, interval, chunk_start, chunk_end):
                    if candle.time < end and candle.time not in candles:
                        candles[candle.time] = candle
                        got += 1
            # Only a full window that came back empty counts towards giving up.
            empty = 0 if got else empty + (span == window)
            end = start
            span *= 2
        return [candles[t] for t in sorted(candles)[-count:]]

    async def _chunk(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]:
        # The API returns nothing for a window shorter than one period (and for day candles, for a
        # window within one day), so a chunk ending off a boundary asks up to its last period's end;
        # the callers drop the candles starting at or after `end`. The plan keeps that in the window.
        request = marketdata_pb2.GetCandlesRequest(
            to=seconds_to_timestamp(_first_period(interval, end)),
            interval=interval.value,  # type: ignore[arg-type]  # CandleInterval numbers = Interval values
            instrument_id=uid,
            limit=LIMIT_CAP[interval],
        )
        # `from` is a Python keyword, so the field is reached by name.
        getattr(request, "from").CopyFrom(seconds_to_timestamp(start))
        response = await self._call(request)
        return [historic_candle(c) for c in response.candles if c.is_complete]

    async def day_open(self, uid: str, day: int) -> float | None:
        """The open of the D1 candle starting at `day` (00:00 UTC), forming or not; None if no trade yet.

        The only reader of a forming candle from GetCandles: the watchlist's change since the
        session's open needs today's open long before today's candle closes.
        """
        request = marketdata_pb2.GetCandlesRequest(
            to=seconds_to_timestamp(Interval.D1.next_start(day)),
            interval=Interval.D1.value,  # type: ignore[arg-type]  # CandleInterval numbers = Interval values
            instrument_id=uid,
        )
        getattr(request, "from").CopyFrom(seconds_to_timestamp(day))
        response = await self._call(request)
        for candle in response.candles:
            if candle.time.seconds == day:
                return quotation_to_float(candle.open)
        return None

    async def _call(self, request: marketdata_pb2.GetCandlesRequest) -> marketdata_pb2.GetCandlesResponse:
        transient = limited = stalled = 0
        auth = self._auth
        while True:
            if auth is not None:
                await auth.admitted()
            await self._bucket.acquire()
            if auth is not None and auth.rejected:
                continue  # rejected by another call while this one waited for its turn
            self.requests += 1
            try:
                return await self._send(request)
            except aio.AioRpcError as exc:
                if auth is not None and (rejected := rejection(exc)) is not None:
                    auth.reject(*rejected)
                    continue
                status, code = exc.code(), api_code(exc.details())
                if status is grpc.StatusCode.RESOURCE_EXHAUSTED and code == _RATE_LIMITED:
                    limited += 1
                    if limited > self._rate_limit_retries:
                        raise _error(exc, self._call_timeout) from None
                    wait = reset_seconds(exc) or float(min(60, 2**limited))
                    log.info("history_rate_limited", wait=wait, attempt=limited)
                    self._bucket.block_until(self._clock.now() + wait)
                    continue
                if status is grpc.StatusCode.DEADLINE_EXCEEDED:
                    stalled += 1
                    if stalled > STALL_RETRIES:
                        raise _error(exc, self._call_timeout) from None
                if status in _RETRYABLE and transient < self._transient_retries:
                    transient += 1
                    delay = 0.5 * 2 ** (transient - 1)
                    log.info("history_retry", code=status.name, details=exc.details(), delay=delay)
                    await self._clock.sleep(delay)
                    continue
                raise _error(exc, self._call_timeout) from None

    async def _send(self, request: marketdata_pb2.GetCandlesRequest) -> marketdata_pb2.GetCandlesResponse:
        """One GetCandles within one deadline, not one per send: the feed's stream attempts renew
        the channel every few seconds on a silent link and `Connection.call` sends again on the new
        one, so a per-send timeout never ran out there and a page hung "loading…" for good."""
        deadline = time.monotonic() + self._call_timeout
        return await self._connection.call(
            lambda: self._connection.stub(_marketdata_stub).GetCandles(
                request, metadata=self._metadata, timeout=max(0.001, deadline - time.monotonic())
            )
        )


def _metadata_value(metadata: Iterable[tuple[str, str | bytes]] | None, key: str) -> str | None:
    for name, value in metadata or ():
        if name.lower() == key:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return None


def reset_seconds(exc: aio.AioRpcError) -> float | None:
    """`x-ratelimit-reset` from the trailers (or headers): seconds until the limit window resets."""
    for metadata in (exc.trailing_metadata(), exc.initial_metadata()):
        value = _metadata_value(metadata, "x-ratelimit-reset")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _error(exc: aio.AioRpcError, deadline_s: float) -> HistoryError:
    details = exc.details() or ""
    message = _metadata_value(exc.trailing_metadata(), "message") or link_problem(
        exc.code(), details, deadline_s
    )
    return HistoryError(exc.code(), api_code(details), message or details)
