"""MarketDataStreamService: the bidi stream and the server-side stream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio

from monitor.pb import marketdata_pb2, marketdata_pb2_grpc
from monitor.sim.errors import abort
from monitor.sim.gate import Gate
from monitor.sim.kinds import StreamEnd
from monitor.sim.limits import StreamCounter
from monitor.sim.state import SimState
from monitor.sim.stream import StreamSession

Context = grpc.aio.ServicerContext[Any, Any]

_ENDINGS: dict[StreamEnd, tuple[grpc.StatusCode, str]] = {
    StreamEnd.UNAVAILABLE: (grpc.StatusCode.UNAVAILABLE, "Service unavailable"),
    StreamEnd.CANCELLED: (grpc.StatusCode.CANCELLED, "Received RST_STREAM with error code 8"),
    StreamEnd.STREAM_REMOVED: (grpc.StatusCode.UNKNOWN, "Stream removed"),
}

_CODES = {StreamEnd.INTERNAL: "70001", StreamEnd.LIFETIME: "80005"}


def _token(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            return value.partition(" ")[2].strip()
    return ""


class StreamService(marketdata_pb2_grpc.MarketDataStreamServiceServicer):
    """Each call gets a StreamSession; the server's tick loop drives every session's clock work."""

    def __init__(self, state: SimState, gate: Gate) -> None:
        self.state = state
        self.gate = gate
        config = state.config
        # Per token (the limit is the user's), refreshed on the sim clock like the real counter.
        self.streams = StreamCounter(config.max_streams_per_token, config.stream_counter_refresh_seconds)

    async def _admit(self, context: Context) -> str:
        """The gate's checks, then the per-token stream limit; returns the token the stream counts on."""
        await self.gate.admit_stream(context)
        token = _token(context)
        if not self.streams.admit(token, self.state.clock.now()):
            await abort(context, "80001")
        return token

    @contextlib.contextmanager
    def _held(self, token: str, session: StreamSession) -> Iterator[None]:
        try:
            yield
        finally:
            self.streams.release(token, self.state.clock.now())
            self.state.stats.sessions.pop(session.stream_id, None)

    def _open(self) -> StreamSession:
        session = StreamSession(self.state, uuid.uuid4().hex)
        self.state.stats.streams_opened += 1
        self.state.stats.sessions[session.stream_id] = session
        return session

    async def _drain(
        self, session: StreamSession, context: Context
    ) -> AsyncIterator[marketdata_pb2.MarketDataResponse]:
        while True:
            item = await session.out.get()
            if session.ending is not None:
                how = session.ending
                if how is StreamEnd.CLEAN:
                    return
                if isinstance(how, StreamEnd) and how in _ENDINGS:
                    code, details = _ENDINGS[how]
                    await context.abort(code, details, (("message", details),))
                await abort(context, _CODES[how] if isinstance(how, StreamEnd) else how)
            if item is not None:
                emitted = session.emitted_at.popleft()
                late = self.state.faults.late_seconds
                if late > 0:
                    await self.state.clock.sleep(emitted + late - self.state.clock.now())
                yield item

    async def MarketDataStream(
        self,
        request_iterator: AsyncIterator[marketdata_pb2.MarketDataRequest],
        context: Context,
    ) -> AsyncIterator[marketdata_pb2.MarketDataResponse]:
        token = await self._admit(context)
        session = self._open()

        async def read() -> None:
            # The client half-closing does not end the stream: the real server keeps sending.
            with contextlib.suppress(Exception):
                async for request in request_iterator:
                    session.handle(request)

        reader = asyncio.create_task(read())
        with self._held(token, session):
            try:
                async for item in self._drain(session, context):
                    yield item
            finally:
                reader.cancel()

    async def MarketDataServerSideStream(
        self,
        request: marketdata_pb2.MarketDataServerSideStreamRequest,
        context: Context,
    ) -> AsyncIterator[marketdata_pb2.MarketDataResponse]:
        token = await self._admit(context)
        session = self._open()
        if request.HasField("ping_settings"):
            session.set_ping(request.ping_settings)
        if request.subscribe_candles_request.instruments:
            session.subscribe_candles(request.subscribe_candles_request)
        if request.subscribe_info_request.instruments:
            session.subscribe_plain(request.subscribe_info_request, info=True)
        if request.subscribe_last_price_request.instruments:
            session.subscribe_plain(request.subscribe_last_price_request, info=False)
        with self._held(token, session):
            async for item in self._drain(session, context):
                yield item
