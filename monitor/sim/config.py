"""The simulator's settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that decides what the simulator serves; equal configs serve equal markets.

    `origin` is where sim time equals wall time when no clock is passed (default: 00:00 UTC of
    today), so `speed > 1` gives the same history for every restart within a day. `tokens=()`
    turns authentication off. Limits are per sim minute.
    """

    host: str = "127.0.0.1"
    port: int = 0
    tokens: tuple[str, ...] = ("sim-token",)
    seed: int = 1
    speed: float = 1.0
    origin: float | None = None
    sessions: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    unary_limit_per_minute: int = 600  # MarketDataService's unary calls
    instruments_limit_per_minute: int = 200  # InstrumentsService's
    subscription_requests_per_minute: int = 100
    max_subscriptions_per_stream: int = 300
    max_streams_per_token: int = 16  # open market-data streams (limits.md, grades 1-4); then 80001
    stream_counter_refresh_seconds: float = 120.0  # a closed stream's place frees at the next refresh
    idle_stream_seconds: float = 120.0  # a stream with no subscriptions this long ends with 80004
    tick_seconds: float = 0.02  # wall time between market ticks
