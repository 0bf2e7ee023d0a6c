"""Hostile and malformed stream messages, for hardening the client (`Faults.hostile`)."""

from __future__ import annotations

from enum import Enum

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.pb import common_pb2, marketdata_pb2
from monitor.sim import convert
from monitor.sim.stream import StreamSession

Response = marketdata_pb2.MarketDataResponse
HUGE_BYTES = 9 * 1024 * 1024  # under the client's 10 MiB receive limit: it arrives and must be survived
_FAR = 400 * 86_400


class HostileKind(Enum):
    """What `Faults.hostile` sends; every candle kind targets a series the stream holds."""

    UNKNOWN_FIELD = "unknown-field"  # a oneof member newer than the client's proto (field 20)
    NO_TIME = "no-time"  # a candle without `time`
    NO_PRICES = "no-prices"  # a candle without open/high/low/close
    MIXED_SIGN = "mixed-sign"  # a Quotation with units > 0 and nano < 0
    NANO_OVERFLOW = "nano-overflow"  # a Quotation with |nano| >= 1e9
    HIGH_BELOW_LOW = "high-below-low"  # high and low swapped
    FAR_FUTURE = "far-future"  # a candle 400 days ahead
    FAR_PAST = "far-past"  # a candle 400 days back
    UNSUBSCRIBED = "unsubscribed"  # a well-formed candle of an instrument the stream never subscribed
    HUGE = "huge"  # a ~9 MiB Ping (its stream_id)


def _unknown_member() -> Response:
    # Field 20, length-delimited, 3 bytes: protobuf keeps it as an unknown field and sends it on.
    return Response.FromString(b"\xa2\x01\x03abc")


def _base_candle(session: StreamSession) -> marketdata_pb2.Candle | None:
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


def hostile_message(kind: HostileKind, session: StreamSession) -> Response | None:
    """The message of `kind` for this stream; None when it needs a candle subscription and has none."""
    if kind is HostileKind.UNKNOWN_FIELD:
        return _unknown_member()
    if kind is HostileKind.HUGE:
        return Response(ping=common_pb2.Ping(time=Timestamp(seconds=int(session.state.clock.now())),
                                             stream_id="x" * HUGE_BYTES))  # fmt: skip
    if kind is HostileKind.UNSUBSCRIBED:
        return _unsubscribed(session)
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


def _unsubscribed(session: StreamSession) -> Response | None:
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
