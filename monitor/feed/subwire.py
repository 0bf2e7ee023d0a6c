"""Subscription keys and their wire form: the requests built from them, the responses parsed back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from monitor.market import Interval
from monitor.pb import marketdata_pb2 as md


class SubKind(Enum):
    """The data types the monitor subscribes to."""

    CANDLES = "candles"
    LAST_PRICE = "last_price"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SubKey:
    """One subscription: a data kind, an instrument uid and (for candles) an interval."""

    kind: SubKind
    uid: str
    interval: Interval | None = None


@dataclass(frozen=True, slots=True)
class SubItem:
    """One item of a Subscribe*Response: whose, which interval, what status."""

    uid: str
    interval: Interval | None
    status: int


def key_order(key: SubKey) -> tuple[str, int]:
    return key.uid, 0 if key.interval is None else key.interval.value


def build_request(
    kind: SubKind, action: md.SubscriptionAction.ValueType, keys: list[SubKey]
) -> md.MarketDataRequest:
    if kind is SubKind.CANDLES:
        return md.MarketDataRequest(
            subscribe_candles_request=md.SubscribeCandlesRequest(
                subscription_action=action,
                instruments=[
                    md.CandleInstrument(
                        instrument_id=key.uid,
                        interval=md.SubscriptionInterval.ValueType(key.interval.value if key.interval else 0),
                    )
                    for key in keys
                ],
                waiting_close=False,
            )
        )
    if kind is SubKind.LAST_PRICE:
        return md.MarketDataRequest(
            subscribe_last_price_request=md.SubscribeLastPriceRequest(
                subscription_action=action,
                instruments=[md.LastPriceInstrument(instrument_id=key.uid) for key in keys],
            )
        )
    return md.MarketDataRequest(
        subscribe_info_request=md.SubscribeInfoRequest(
            subscription_action=action,
            instruments=[md.InfoInstrument(instrument_id=key.uid) for key in keys],
        )
    )


def parse_response(response: md.MarketDataResponse) -> tuple[SubKind, list[SubItem]] | None:
    payload = response.WhichOneof("payload")
    if payload == "subscribe_candles_response":
        return SubKind.CANDLES, [
            SubItem(s.instrument_uid, _interval(s.interval), s.subscription_status)
            for s in response.subscribe_candles_response.candles_subscriptions
        ]
    if payload == "subscribe_last_price_response":
        return SubKind.LAST_PRICE, [
            SubItem(s.instrument_uid, None, s.subscription_status)
            for s in response.subscribe_last_price_response.last_price_subscriptions
        ]
    if payload == "subscribe_info_response":
        return SubKind.INFO, [
            SubItem(s.instrument_uid, None, s.subscription_status)
            for s in response.subscribe_info_response.info_subscriptions
        ]
    return None


def _interval(value: int) -> Interval | None:
    try:
        return Interval(value)
    except ValueError:
        return None
