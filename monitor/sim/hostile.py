"""Hostile and malformed stream messages, for hardening the client (`Faults.hostile`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.market import Interval
from monitor.pb import common_pb2, marketdata_pb2
from monitor.sim import convert
from monitor.sim.catalogue import SimInstrument
from monitor.sim.kinds import HostileKind
from monitor.sim.state import SimState
from monitor.sim.subscriptions import CandleSub, PlainSub

Response = marketdata_pb2.MarketDataResponse
HUGE_BYTES = 9 * 1024 * 1024  # under the client's 10 MiB receive limit: it arrives and must be survived
_FAR = 400 * 86_400


# A protocol, not StreamSession: the stream imports this module to send what it builds.
class Target(Protocol):
    """The stream a hostile message is made for: the sim it runs in and what it has subscribed."""

    @property
    def state(self) -> SimState: ...
    @property
    def candles(self) -> Mapping[tuple[str, Interval], CandleSub]: ...
    @property
    def infos(self) -> Mapping[str, PlainSub]: ...
    @property
    def prices(self) -> Mapping[str, PlainSub]: ...


_PRICE_KINDS = {HostileKind.PRICE_MIXED_SIGN, HostileKind.PRICE_FAR_FUTURE, HostileKind.PRICE_UNSUBSCRIBED}
_STATUS_KINDS = {HostileKind.STATUS_UNKNOWN, HostileKind.STATUS_UNSUBSCRIBED}
_UNKNOWN_STATUS = 99


def _unknown_member() -> Response:
    # Field 20, length-delimited, 3 bytes: protobuf keeps it as an unknown field and sends it on.
    return Response.FromString(b"\xa2\x01\x03abc")


def _base_candle(session: Target) -> marketdata_pb2.Candle | None:
    """A correct candle of the first subscribed series, for its period now forming."""
    sub = next(iter(session.candles.values()), None)
    if sub is None:
        return None
    now = session.state.clock.now()
    start = sub.interval.start_of(int(now))
    found = session.state.market.candle(sub.item.uid, sub.interval, start, now)
    if found is None:
        return None
    return convert.stream_candle(sub.item, sub.interval, start, found[0])


def hostile_message(kind: HostileKind, session: Target) -> Response | None:
    """The message of `kind` for this stream; None when it needs a candle subscription and has none."""
    if kind is HostileKind.UNKNOWN_FIELD:
        return _unknown_member()
    if kind is HostileKind.HUGE:
        return Response(ping=common_pb2.Ping(time=Timestamp(seconds=int(session.state.clock.now())),
                                             stream_id="x" * HUGE_BYTES))  # fmt: skip
    if kind is HostileKind.UNSUBSCRIBED:
        return _unsubscribed(session)
    if kind in _PRICE_KINDS:
        return _last_price(kind, session)
    if kind in _STATUS_KINDS:
        return _trading_status(kind, session)
    candle = _base_candle(session)
    if candle is None:
        return None
    if kind is HostileKind.NO_TIME:
        candle.ClearField("time")
    elif kind is HostileKind.NO_PRICES:
        for name in ("open", "high", "low", "close"):
            candle.ClearField(name)
    elif kind is HostileKind.MIXED_SIGN:
        candle.close.units = max(1, candle.close.units)
        candle.close.nano = -abs(candle.close.nano) - 1
    elif kind is HostileKind.NANO_OVERFLOW:
        candle.high.nano = 1_500_000_000
    elif kind is HostileKind.HIGH_BELOW_LOW:
        high, low = common_pb2.Quotation(), common_pb2.Quotation()
        high.CopyFrom(candle.low)
        low.CopyFrom(candle.high)
        low.units += 1  # strictly below even for a flat candle
        candle.high.CopyFrom(high)
        candle.low.CopyFrom(low)
    elif kind is HostileKind.FAR_FUTURE:
        candle.time.seconds += _FAR
    elif kind is HostileKind.FAR_PAST:
        candle.time.seconds -= _FAR
    return Response(candle=candle)


def _unsubscribed(session: Target) -> Response | None:
    held = {uid for uid, _ in session.candles}
    for item in session.state.catalogue.items:
        if item.uid in held:
            continue
        sub = next(iter(session.candles.values()), None)
        interval = sub.interval if sub is not None else None
        if interval is None:
            return None
        now = session.state.clock.now()
        start = interval.start_of(int(now))
        found = session.state.market.candle(item.uid, interval, start, now)
        if found is None:
            return None
        return Response(candle=convert.stream_candle(item, interval, start, found[0]))
    return None


def _other_item(session: Target, held: Mapping[str, object]) -> SimInstrument | None:
    """A catalogue instrument this stream holds no subscription of the kind `held` lists."""
    return next((item for item in session.state.catalogue.items if item.uid not in held), None)


def _last_price(kind: HostileKind, session: Target) -> Response | None:
    """A LastPrice of a subscribed instrument made malformed, or a clean one of an unsubscribed one."""
    now = session.state.clock.now()
    if kind is HostileKind.PRICE_UNSUBSCRIBED:
        item = _other_item(session, session.prices)
    else:
        sub = next(iter(session.prices.values()), None)
        item = sub.item if sub is not None else None
    if item is None:
        return None
    found = session.state.market.last_price(item.uid, now)
    if found is None:
        return None
    msg = convert.last_price(item, found[0], now)
    if kind is HostileKind.PRICE_MIXED_SIGN:
        msg.price.units = max(1, msg.price.units)
        msg.price.nano = -abs(msg.price.nano) - 1
    elif kind is HostileKind.PRICE_FAR_FUTURE:
        msg.time.seconds += 86_400
    return Response(last_price=msg)


def _trading_status(kind: HostileKind, session: Target) -> Response | None:
    """A TradingStatus with a number outside the enum, or one of an instrument never subscribed."""
    if kind is HostileKind.STATUS_UNSUBSCRIBED:
        item = _other_item(session, session.infos)
        status = int(common_pb2.SECURITY_TRADING_STATUS_NORMAL_TRADING)
    else:
        sub = next(iter(session.infos.values()), None)
        item = sub.item if sub is not None else None
        status = _UNKNOWN_STATUS
    if item is None:
        return None
    i = item.instrument
    # proto3 enums are open: a number the enum does not list is kept and sent as it is.
    msg = marketdata_pb2.TradingStatus(
        figi=i.figi, trading_status=common_pb2.SecurityTradingStatus.ValueType(status), instrument_uid=i.uid,
        ticker=i.ticker,
        class_code=i.class_code, time=Timestamp(seconds=int(session.state.clock.now())),
    )  # fmt: skip
    return Response(trading_status=msg)
