"""One market-data stream on the server: its subscriptions, limits, pings and what it sends when."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.market import Interval
from monitor.pb import common_pb2, marketdata_pb2
from monitor.sim import convert
from monitor.sim.catalogue import SimInstrument
from monitor.sim.hostile import hostile_message
from monitor.sim.kinds import HostileKind, StreamEnd
from monitor.sim.sessions import ORDER_FLAGS
from monitor.sim.state import SimState
from monitor.sim.subscriptions import CandleSub, PlainSub
from monitor.wire import seconds_to_timestamp

FORMING_THROTTLE = 0.3  # sim seconds between forming-candle updates of one subscription
PING_DEFAULT_MS, PING_MIN_MS, PING_MAX_MS = 120_000, 5_000, 180_000
SUBSCRIBE, UNSUBSCRIBE = (
    marketdata_pb2.SUBSCRIPTION_ACTION_SUBSCRIBE,
    marketdata_pb2.SUBSCRIPTION_ACTION_UNSUBSCRIBE,
)
S = marketdata_pb2  # the SubscriptionStatus values read better as S.SUBSCRIPTION_STATUS_...

Response = marketdata_pb2.MarketDataResponse


class StreamSession:
    """Turns requests into responses and sim time into candles, statuses, prices and pings."""

    def __init__(self, state: SimState, stream_id: str) -> None:
        self.state = state
        self.stream_id = stream_id
        self.out: asyncio.Queue[Response | None] = asyncio.Queue()
        self.emitted_at: deque[float] = deque()
        """Sim time each queued response was emitted (stamped), oldest first: the `late` fault
        holds each one until its time plus the lateness."""
        self.ending: StreamEnd | str | None = None  # a StreamEnd, or an API error code such as "80004"
        self.candles: dict[tuple[str, Interval], CandleSub] = {}
        self.infos: dict[str, PlainSub] = {}
        self.prices: dict[str, PlainSub] = {}
        now = state.clock.now()
        self.ping_delay = PING_DEFAULT_MS / 1000
        self.last_sent = now
        self.last_tick = now
        self.idle_since: float | None = now
        self._requests: deque[float] = deque()

    @property
    def subscription_count(self) -> int:
        return len(self.candles) + len(self.infos) + len(self.prices)

    def end(self, how: StreamEnd | str) -> None:
        if self.ending is None:
            self.ending = how
            self.out.put_nowait(None)

    def emit(self, response: Response) -> None:
        if self.state.faults.stalled or self.ending is not None:
            return  # a stalled stream sends nothing at all, pings included
        self.last_sent = self.state.clock.now()
        self.emitted_at.append(self.last_sent)
        self.out.put_nowait(response)

    def send_hostile(self, kind: HostileKind) -> bool:
        """Emits the hostile message of `kind`; False when this stream has nothing it could target."""
        message = hostile_message(kind, self)
        if message is None:
            return False
        self.emit(message)
        return True

    # Requests -----------------------------------------------------------------------------------

    def handle(self, request: marketdata_pb2.MarketDataRequest) -> None:
        kind = request.WhichOneof("payload")
        if kind == "subscribe_candles_request":
            self.subscribe_candles(request.subscribe_candles_request)
        elif kind == "subscribe_info_request":
            self.subscribe_plain(request.subscribe_info_request, info=True)
        elif kind == "subscribe_last_price_request":
            self.subscribe_plain(request.subscribe_last_price_request, info=False)
        elif kind == "get_my_subscriptions":
            self.my_subscriptions()
        elif kind == "ping":
            at = request.ping.time if request.ping.HasField("time") else None
            self.emit(Response(ping=common_pb2.Ping(time=self._now_ts(), stream_id=self.stream_id,
                                                     ping_request_time=at)))  # fmt: skip
        elif kind == "ping_settings":
            self.set_ping(request.ping_settings)

    def set_ping(self, settings: common_pb2.PingDelaySettings) -> None:
        """Out-of-range delays are clamped to 5 000..180 000 ms; an unset one means the default."""
        ms = settings.ping_delay_ms if settings.HasField("ping_delay_ms") else PING_DEFAULT_MS
        self.ping_delay = min(PING_MAX_MS, max(PING_MIN_MS, ms)) / 1000

    def _allowed(self) -> bool:
        """Counts a subscription request against the per-stream window of one sim minute."""
        self.state.stats.subscribe_requests += 1
        now = self.state.clock.now()
        while self._requests and self._requests[0] <= now - 60:
            self._requests.popleft()
        if len(self._requests) >= self.state.config.subscription_requests_per_minute:
            self.state.stats.too_many_requests += 1
            return False
        self._requests.append(now)
        return True

    def _resolve(self, instrument_id: str, figi: str) -> SimInstrument | None:
        wanted = instrument_id or figi
        return self.state.catalogue.resolve(wanted) if wanted else None

    def subscribe_candles(self, request: marketdata_pb2.SubscribeCandlesRequest) -> None:
        allowed = self._allowed()
        action = request.subscription_action
        response = marketdata_pb2.SubscribeCandlesResponse(tracking_id=convert.tracking_id())
        for wanted in request.instruments:
            item = self._resolve(wanted.instrument_id, wanted.figi)
            sub_id = str(uuid.uuid4())
            status = S.SUBSCRIPTION_STATUS_SUCCESS
            if not allowed:
                status = S.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS
            elif action not in (SUBSCRIBE, UNSUBSCRIBE):
                status = S.SUBSCRIPTION_STATUS_SUBSCRIPTION_ACTION_IS_INVALID
            elif not 1 <= wanted.interval <= 13:
                status = S.SUBSCRIPTION_STATUS_INTERVAL_IS_INVALID
            elif item is None:
                status = S.SUBSCRIPTION_STATUS_INSTRUMENT_NOT_FOUND
            else:
                key = (item.uid, Interval(wanted.interval))
                existing = self.candles.get(key)
                if action == UNSUBSCRIBE:
                    if existing is None:
                        status = S.SUBSCRIPTION_STATUS_SUBSCRIPTION_NOT_FOUND
                    else:
                        sub_id = existing.subscription_id
                        del self.candles[key]
                elif existing is not None:
                    existing.waiting_close = request.waiting_close
                    sub_id = existing.subscription_id
                elif len(self.candles) >= self.state.config.max_subscriptions_per_stream:
                    status = S.SUBSCRIPTION_STATUS_LIMIT_IS_EXCEEDED
                    self.state.stats.limit_exceeded += 1
                else:
                    now = int(self.state.clock.now())
                    self.candles[key] = CandleSub(
                        item, key[1], request.waiting_close, sub_id, key[1].start_of(now)
                    )
            entry = response.candles_subscriptions.add(
                figi=item.instrument.figi if item else "",
                interval=wanted.interval,
                subscription_status=status,
                instrument_uid=item.uid if item else "",
                waiting_close=request.waiting_close,
                stream_id=self.stream_id,
                subscription_id=sub_id,
                subscription_action=action,
                ticker=item.instrument.ticker if item else "",
                class_code=item.instrument.class_code if item else "",
            )
            if request.HasField("candle_source_type"):
                entry.candle_source_type = request.candle_source_type
        self.emit(Response(subscribe_candles_response=response))

    def subscribe_plain(
        self,
        request: marketdata_pb2.SubscribeInfoRequest | marketdata_pb2.SubscribeLastPriceRequest,
        *,
        info: bool,
    ) -> None:
        allowed = self._allowed()
        action = request.subscription_action
        table = self.infos if info else self.prices
        statuses: list[tuple[SimInstrument | None, int, str]] = []
        fresh: list[PlainSub] = []
        for wanted in request.instruments:
            item = self._resolve(wanted.instrument_id, wanted.figi)
            sub_id = str(uuid.uuid4())
            status = S.SUBSCRIPTION_STATUS_SUCCESS
            if not allowed:
                status = S.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS
            elif action not in (SUBSCRIBE, UNSUBSCRIBE):
                status = S.SUBSCRIPTION_STATUS_SUBSCRIPTION_ACTION_IS_INVALID
            elif item is None:
                status = S.SUBSCRIPTION_STATUS_INSTRUMENT_NOT_FOUND
            elif action == UNSUBSCRIBE:
                gone = table.pop(item.uid, None)
                if gone is None:
                    status = S.SUBSCRIPTION_STATUS_SUBSCRIPTION_NOT_FOUND
                else:
                    sub_id = gone.subscription_id
            elif item.uid in table:
                sub_id = table[item.uid].subscription_id
            else:
                table[item.uid] = PlainSub(item, sub_id)
                fresh.append(table[item.uid])
            statuses.append((item, status, sub_id))
        self.emit(self._plain_response(statuses, action, info=info))
        now = self.state.clock.now()
        for sub in fresh:  # the current status / price at once, then on every change
            if info:
                sub.last = self.state.market.sessions.status(now)
                self.emit(Response(trading_status=self._status(sub.item, int(sub.last), now)))
            else:
                self._send_price(sub, now)

    def _plain_response(self, statuses: list[tuple[SimInstrument | None, int, str]], action: int, *,
                        info: bool) -> Response:  # fmt: skip
        tracking = convert.tracking_id()
        entries = [
            dict(figi=item.instrument.figi if item else "", subscription_status=status,
                 instrument_uid=item.uid if item else "", stream_id=self.stream_id, subscription_id=sub_id,
                 subscription_action=action, ticker=item.instrument.ticker if item else "",
                 class_code=item.instrument.class_code if item else "")
            for item, status, sub_id in statuses
        ]  # fmt: skip
        if info:
            subs = [marketdata_pb2.InfoSubscription(**e) for e in entries]  # type: ignore[arg-type]
            return Response(subscribe_info_response=marketdata_pb2.SubscribeInfoResponse(
                tracking_id=tracking, info_subscriptions=subs))  # fmt: skip
        prices = [marketdata_pb2.LastPriceSubscription(**e) for e in entries]  # type: ignore[arg-type]
        return Response(subscribe_last_price_response=marketdata_pb2.SubscribeLastPriceResponse(
            tracking_id=tracking, last_price_subscriptions=prices))  # fmt: skip

    def my_subscriptions(self) -> None:
        """One Subscribe*Response per data type that has active subscriptions."""
        ok = S.SUBSCRIPTION_STATUS_SUCCESS
        if self.candles:
            response = marketdata_pb2.SubscribeCandlesResponse(tracking_id=convert.tracking_id())
            for sub in self.candles.values():
                i = sub.item.instrument
                response.candles_subscriptions.add(
                    figi=i.figi, interval=sub.interval.value, subscription_status=ok,
                    instrument_uid=i.uid, waiting_close=sub.waiting_close, stream_id=self.stream_id,
                    subscription_id=sub.subscription_id, subscription_action=SUBSCRIBE, ticker=i.ticker,
                    class_code=i.class_code,
                )  # fmt: skip
            self.emit(Response(subscribe_candles_response=response))
        if self.infos:
            self.emit(self._plain_response([(s.item, ok, s.subscription_id) for s in self.infos.values()],
                                           SUBSCRIBE, info=True))  # fmt: skip
        if self.prices:
            self.emit(self._plain_response([(s.item, ok, s.subscription_id) for s in self.prices.values()],
                                           SUBSCRIBE, info=False))  # fmt: skip

    # Time ---------------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Sends whatever happened in sim time since the last tick, in order."""
        if self.ending is not None:
            return
        if self.subscription_count:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = now
        elif now - self.idle_since >= self.state.config.idle_stream_seconds:
            self.end("80004")
            return
        for sub in list(self.candles.values()):
            self._tick_candles(sub, now)
        if self.infos:
            for moment, status in self.state.market.sessions.transitions(self.last_tick, now):
                for info in self.infos.values():
                    info.last = status
                    self.emit(Response(trading_status=self._status(info.item, status, moment)))
        for price in self.prices.values():
            self._send_price(price, now)
        if now - self.last_sent >= self.ping_delay:
            self.emit(
                Response(ping=common_pb2.Ping(time=seconds_to_timestamp(now), stream_id=self.stream_id))
            )
        self.last_tick = now

    def _tick_candles(self, sub: CandleSub, now: float) -> None:
        market = self.state.market
        uid, interval = sub.item.uid, sub.interval
        events: list[tuple[float, int]] = []  # (as_of, period start): closes and corrections, in time order
        while (end := interval.next_start(sub.period)) <= now:
            events.append((float(end), sub.period))
            fixed = market.correction_time(uid, interval, sub.period)
            if fixed is not None:
                sub.corrections.append((fixed, sub.period))
            sub.period = end
        due = [c for c in sub.corrections if c[0] <= now]
        if due:
            sub.corrections = [c for c in sub.corrections if c[0] > now]
            events.extend(due)
        events.sort()
        for as_of, start in events:
            found = market.candle(uid, interval, start, as_of)
            if found is not None:
                self.emit(Response(candle=convert.stream_candle(sub.item, interval, start, found[0])))
        if sub.waiting_close or now - sub.forming_at < FORMING_THROTTLE:
            return
        found = market.candle(uid, interval, sub.period, now)
        if found is None:
            return
        bar = found[0]
        shape = (sub.period, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if shape != sub.forming:
            sub.forming, sub.forming_at = shape, now
            self.emit(Response(candle=convert.stream_candle(sub.item, interval, sub.period, bar)))

    def _send_price(self, sub: PlainSub, now: float) -> None:
        found = self.state.market.last_price(sub.item.uid, now)
        if found is not None and found[0] != sub.last:
            sub.last = found[0]
            self.emit(Response(last_price=convert.last_price(sub.item, found[0], found[1])))

    def _status(self, item: SimInstrument, status: int, at: float) -> marketdata_pb2.TradingStatus:
        limit, market = ORDER_FLAGS.get(status, (False, False))
        i = item.instrument
        return marketdata_pb2.TradingStatus(
            figi=i.figi, trading_status=status, time=seconds_to_timestamp(at),  # type: ignore[arg-type]
            limit_order_available_flag=limit, market_order_available_flag=market, instrument_uid=i.uid,
            ticker=i.ticker, class_code=i.class_code,
        )  # fmt: skip

    def _now_ts(self) -> Timestamp:
        return seconds_to_timestamp(self.state.clock.now())
