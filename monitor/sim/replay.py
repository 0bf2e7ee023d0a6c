"""ReplayServer: the simulator serving a recording back through the same contract, timing scaled."""

from __future__ import annotations

import asyncio
import bisect
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import grpc
import grpc.aio
import structlog

from monitor.market import Instrument, Interval
from monitor.pb import common_pb2, marketdata_pb2
from monitor.recording import Recording
from monitor.sim.catalogue import CATALOGUE, Catalogue, SimInstrument
from monitor.sim.config import SimConfig
from monitor.sim.gate import MARKET_DATA, unary
from monitor.sim.server import SimServer
from monitor.sim.stream import StreamSession
from monitor.sim.stream_service import StreamService
from monitor.sim.subscriptions import CandleSub, PlainSub
from monitor.sim.unary import MarketDataService
from monitor.sim.universe import generate

log = structlog.get_logger("monitor.sim")
Context = grpc.aio.ServicerContext[Any, Any]
Response = marketdata_pb2.MarketDataResponse
_REGENERATED = frozenset(
    {"ping", "subscribe_candles_response", "subscribe_info_response", "subscribe_last_price_response"}
)
"""Payloads a replay answers itself (for its own client and stream) rather than from the file."""


class ReplayClock:
    """The recording's time: still at its first message until the replay starts, then running
    `speed` recording seconds per wall second (the recorder clock's speed times the replay's)."""

    def __init__(self, origin: float, speed: float) -> None:
        self.origin = origin
        self.speed = speed
        self._started: float | None = None

    def start(self) -> None:
        if self._started is None:
            self._started = time.monotonic()

    @property
    def started(self) -> bool:
        return self._started is not None

    def now(self) -> float:
        if self._started is None:
            return self.origin
        return self.origin + (time.monotonic() - self._started) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class Timeline:
    """The recorded messages on the replay clock, shared by every stream and GetCandles."""

    def __init__(self, recording: Recording, speed: float) -> None:
        self.times = [at for at, _ in recording.messages]
        self.messages = [message for _, message in recording.messages]
        origin = self.times[0] if self.times else recording.header.started_at
        self.clock = ReplayClock(origin, recording.header.clock_speed * speed)
        self._candles: dict[tuple[str, int], list[tuple[float, marketdata_pb2.Candle]]] = {}
        for at, message in recording.messages:
            if message.WhichOneof("payload") == "candle":
                key = (message.candle.instrument_uid, message.candle.interval)
                self._candles.setdefault(key, []).append((at, message.candle))
        self.finished = False

    def position(self) -> int:
        """Index of the first message not yet due."""
        return bisect.bisect_left(self.times, self.clock.now()) if self.clock.started else 0

    def played(self, uid: str, interval: int, start: int, end: int) -> list[marketdata_pb2.HistoricCandle]:
        """The candles of [start, end) the replay has sent so far, each period's newest version;
        the newest period is the forming one (is_complete false), as GetCandles says."""
        if not self.clock.started:
            return []
        now, latest = self.clock.now(), {}
        for at, candle in self._candles.get((uid, interval), ()):
            if at > now:
                break
            latest[candle.time.seconds] = candle
        newest = max(latest, default=0)
        return [
            marketdata_pb2.HistoricCandle(
                open=c.open,
                high=c.high,
                low=c.low,
                close=c.close,
                volume=c.volume,
                time=c.time,
                is_complete=t < newest,
                candle_source=marketdata_pb2.CANDLE_SOURCE_EXCHANGE,
                volume_buy=c.volume_buy,
                volume_sell=c.volume_sell,
            )
            for t, c in sorted(latest.items())
            if start <= t < end
        ]


class ReplaySession(StreamSession):
    """A stream that answers subscriptions as the simulator does, then sends the recorded
    messages of what it subscribed, when they fall due; pings are its own (on the replay clock)."""

    def __init__(self, timeline: Timeline, *args: Any) -> None:
        super().__init__(*args)
        self.timeline = timeline
        self.cursor: int | None = None
        """Next recorded message to consider; None until the stream's first candle subscription."""

    def subscribe_candles(self, request: marketdata_pb2.SubscribeCandlesRequest) -> None:
        super().subscribe_candles(request)
        if self.cursor is None and self.candles:
            # The first subscription anywhere starts the replay from its first message; a stream
            # opened later (a reconnect) joins where it has got to.
            self.cursor = self.timeline.position() if self.timeline.clock.started else 0
            self.timeline.clock.start()

    def tick(self, now: float) -> None:
        timeline, cursor = self.timeline, self.cursor
        if cursor is not None and self.ending is None:
            times, messages = timeline.times, timeline.messages
            while cursor < len(times) and times[cursor] <= now:
                if self._wanted(messages[cursor]):
                    self.emit(messages[cursor])
                cursor += 1
            self.cursor = cursor
            if cursor == len(times) and not timeline.finished:
                timeline.finished = True
                log.info("replay_finished", messages=len(times))
        super().tick(now)  # idle streams and pings; the market's own candles and prices are off

    def _wanted(self, message: Response) -> bool:
        payload = message.WhichOneof("payload")
        if payload == "candle":
            try:
                return (message.candle.instrument_uid, Interval(message.candle.interval)) in self.candles
            except ValueError:
                return True  # a recorded hostile candle stays hostile
        if payload == "last_price":
            return message.last_price.instrument_uid in self.prices
        if payload == "trading_status":
            return message.trading_status.instrument_uid in self.infos
        return payload not in _REGENERATED

    def _tick_candles(self, sub: CandleSub, now: float) -> None:
        """The recording is the market: nothing is made up."""

    def _send_price(self, sub: PlainSub, now: float) -> None:
        """The recording is the market: nothing is made up."""


class ReplayStreamService(StreamService):
    def __init__(self, timeline: Timeline, *args: Any) -> None:
        super().__init__(*args)
        self.timeline = timeline

    def _open(self) -> StreamSession:
        session = ReplaySession(self.timeline, self.state, uuid.uuid4().hex)
        self.state.stats.streams_opened += 1
        self.state.stats.sessions[session.stream_id] = session
        return session


class ReplayMarketData(MarketDataService):
    def __init__(self, timeline: Timeline, *args: Any) -> None:
        super().__init__(*args)
        self.timeline = timeline

    @unary(MARKET_DATA)
    async def GetCandles(
        self, request: marketdata_pb2.GetCandlesRequest, context: Context
    ) -> marketdata_pb2.GetCandlesResponse:
        """What the replay has sent so far: [from, to) and the first `limit` of it, or without
        `from` the last `limit` before `to`. The recording is the whole market."""
        item = self._instrument(request.instrument_id or request.figi)
        start = getattr(request, "from").seconds if request.HasField("from") else 0
        end = request.to.seconds if request.HasField("to") else 2**62
        candles = self.timeline.played(item.uid, request.interval, start, end)
        if request.HasField("limit") and request.limit > 0:
            candles = candles[: request.limit] if request.HasField("from") else candles[-request.limit :]
        return marketdata_pb2.GetCandlesResponse(candles=candles)


def recorded_instruments(recording: Recording, known: Iterable[SimInstrument]) -> list[SimInstrument]:
    """Instruments the recording names that the catalogue lacks (recorded from the real API):
    made from what the messages say of them (uid, FIGI, ticker, class code; lot 1, step 0.01)."""
    taken = {item.uid for item in known}
    found: dict[str, SimInstrument] = {}
    for _, message in recording.messages:
        payload = message.WhichOneof("payload")
        if payload == "subscribe_candles_response":
            entries: Iterable[Any] = message.subscribe_candles_response.candles_subscriptions
        elif payload == "candle":
            entries = (message.candle,)
        else:
            continue
        for entry in entries:
            uid = entry.instrument_uid
            if uid and uid not in taken and uid not in found and entry.ticker and entry.class_code:
                instrument = Instrument(
                    uid, entry.figi, entry.ticker, entry.class_code, entry.ticker, 1, Decimal("0.01")
                )
                found[uid] = SimInstrument(
                    instrument, "", common_pb2.INSTRUMENT_TYPE_SHARE, Decimal(1), 0.01, 1
                )
    return list(found.values())


class ReplayServer(SimServer):
    """`monitor sim --replay FILE [--speed N]`: streams get the recording, GetCandles what was sent.

    The replay starts with the first candle subscription of any stream and runs on one timeline:
    a stream opened later (a reconnect) joins it where it is. Instruments resolve as in the
    simulator, plus those only the recording knows.
    """

    def __init__(self, recording: Recording, config: SimConfig | None = None, speed: float = 1.0) -> None:
        self.recording = recording
        self.timeline = Timeline(recording, speed)
        super().__init__(config, clock=self.timeline.clock)
        seed = self.config.seed

        def instruments() -> tuple[SimInstrument, ...]:
            base = (*CATALOGUE, *generate(seed, taken=CATALOGUE))
            return (*base, *recorded_instruments(recording, base))

        self.state.catalogue = Catalogue(instruments)
        if recording.truncated:
            log.warning("replay_cut", cut_at=recording.cut_at, size=recording.size, problem=recording.problem)

    def _services(self) -> tuple[MarketDataService, StreamService]:
        timeline, state, gate = self.timeline, self.state, self._gate
        return ReplayMarketData(timeline, state, gate), ReplayStreamService(timeline, state, gate)
