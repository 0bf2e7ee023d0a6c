"""The fault kinds: how a stream is ended and which hostile message is sent (a leaf of the sim)."""

from __future__ import annotations

from enum import Enum


class StreamEnd(Enum):
    """How `Faults.end_streams` ends every open stream."""

    UNAVAILABLE = "unavailable"  # status UNAVAILABLE, as after a GOAWAY
    INTERNAL = "internal"  # status INTERNAL, details 70001
    CANCELLED = "cancelled"  # status CANCELLED sent by the server (RST_STREAM code 8 in the field)
    STREAM_REMOVED = "stream-removed"  # status UNKNOWN, details "Stream removed"
    CLEAN = "clean"  # status OK: the server just returns
    LIFETIME = "lifetime"  # RESOURCE_EXHAUSTED, details 80005


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
    PRICE_MIXED_SIGN = "price-mixed-sign"  # a LastPrice whose Quotation has mixed signs
    PRICE_FAR_FUTURE = "price-far-future"  # a LastPrice stamped a day ahead (would freeze the quote)
    PRICE_UNSUBSCRIBED = "price-unsubscribed"  # a LastPrice of an instrument never subscribed
    STATUS_UNKNOWN = "status-unknown"  # a TradingStatus number outside the contract's enum
    STATUS_UNSUBSCRIBED = "status-unsubscribed"  # a TradingStatus of an instrument never subscribed
